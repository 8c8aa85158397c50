"""`mrs serve`: the dashboard and the analysts' review console (seed 001 §12: an analyst verifies
events in a UI).

The console lists the events assigned to an analyst with their chart, evidence and the
machine's proposal; confirming, dismissing or changing the cause appends to
`user_minority_events_edits_log` through `edits.record_edit`, the path `mrs edit` takes, and the
page re-hydrates, so it shows the edit at once. Every form carries a CSRF token bound to the
browser's session cookie; input is validated on the server, and a refused request says why and
writes nothing. There is no login: it listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import re
import secrets
import threading
from pathlib import Path

import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mrs_dagster.contracts import CAUSES
from mrs_dagster.edits import record_edit
from mrs_dagster.hydration import hydrate
from mrs_dagster.lake import Lake
from mrs_dagster.landing import read_reference
from mrs_dagster.reporting.site import TEMPLATES, chart_data, event_chart
from mrs_dagster.resources import MRSConfig
from mrs_dagster.stages.hydrate import latest
from mrs_dagster.stages.insights import DISMISSED, money
from mrs_dagster.stages.reference import active

SESSION_COOKIE = "mrs_session"
NOTE_LIMIT = 1000
ACTIONS = {"confirm": "anomaly", "dismiss": DISMISSED, "cause": None}  # action: the verdict it records


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ReviewConsole:
    def __init__(self, data_dir: Path, run_id: str | None = None, secret: bytes | None = None):
        self.mrs = MRSConfig(data_dir=str(data_dir), run_id=run_id)
        self.secret = secret or secrets.token_bytes(32)
        self.render_lock = threading.Lock()  # matplotlib's text layout is not thread-safe

    @property
    def lake(self) -> Lake:
        return self.mrs.lake()

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    def page(self, request: Request, template: str, status: int = 200, **fields) -> HTMLResponse:
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        body = TEMPLATES.get_template(template).render(run_id=self.mrs.current_run_id(),
                                                       csrf_token=self.csrf_token(session), **fields)
        response = HTMLResponse(body, status_code=status)
        if SESSION_COOKIE not in request.cookies:
            response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    def message(self, request: Request, status: int, message: str, back: str | None = None) -> HTMLResponse:
        kind = "ok" if status < 400 else "error"
        return self.page(request, "message.html", status, title="MRS review", message=message, kind=kind, back=back)

    def events(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Hydrated (reports, events) now: the console always shows the current state."""
        return hydrate(self.lake, self.mrs.current_run_id())

    def analysts(self) -> pd.DataFrame:
        analysts = read_reference(self.mrs.path, "analysts")
        if analysts is None:
            raise Refused(404, "reference/analysts.csv is missing: there are no analysts to review as")
        return analysts[active(analysts)]

    def check_analyst(self, analyst_id: str) -> None:
        if analyst_id not in set(self.analysts()["analyst_id"]):
            raise Refused(404, f"no active analyst {analyst_id} in reference/analysts.csv")

    # Routes

    def index(self, request: Request) -> Response:
        if (self.lake.dashboard_dir / "index.html").is_file():
            return RedirectResponse("/dashboard/", status_code=303)
        return self.no_dashboard(request)

    def no_dashboard(self, request: Request) -> Response:
        return self.message(request, 404, "No dashboard yet: materialize the `dashboard` asset (mrs run).", "/review")

    def analyst_list(self, request: Request) -> Response:
        _, events = self.events()
        assigned = events.groupby("assigned_to").size()
        undecided = events[events["verdict"].isna()].groupby("assigned_to").size()
        rows = [{"analyst_id": a.analyst_id, "name": a.name, "assigned": int(assigned.get(a.analyst_id, 0)),
                 "open": int(undecided.get(a.analyst_id, 0))} for a in self.analysts().itertuples()]
        return self.page(request, "analysts.html", title="MRS review", analysts=rows,
                         unassigned=int(events["assigned_to"].isna().sum()))

    def review(self, request: Request) -> Response:
        analyst_id = request.path_params["analyst_id"]
        self.check_analyst(analyst_id)
        reports, events = self.events()
        mine = events[events["assigned_to"] == analyst_id].sort_values("impact_estimate", ascending=False)
        attribution = latest(self.lake.read("minority_reports_proposed_attribution_log",
                                            run_id=self.mrs.current_run_id(), store_ids=sorted(mine["store_id"].unique())),
                             "report_id").set_index("report_id")["evidence"]
        shown = [self._event_card(e, reports[reports["event_id"] == e.event_id], attribution) for e in mine.itertuples()]
        recorded = request.query_params.get("recorded", "")
        recorded = recorded if re.fullmatch(r"[0-9a-f]{16}", recorded) else None  # only ever our own edit ids
        return self.page(request, "review.html", title=f"Review: {analyst_id}", analyst_id=analyst_id, events=shown,
                         causes=CAUSES, note_limit=NOTE_LIMIT, flash=f"Recorded edit {recorded}." if recorded else None)

    def _event_card(self, e, reports: pd.DataFrame, evidence: pd.Series) -> dict:
        currency = self.mrs.currency
        confidence = f" ({e.confidence_score:.0%} confidence)" if pd.notna(e.confidence_score) else ""
        decision = ", ".join(part for part in (
            f"verdict {e.verdict}" if isinstance(e.verdict, str) else None,
            f"cause {e.cause} (by {e.source_used_cause})" if isinstance(e.cause, str) else None,
            f"note “{e.note}”" if isinstance(e.note, str) else None) if part) if e.source_used_review == "ui" else "none yet"
        return {
            "event_id": e.event_id, "store_id": e.store_id, "cause": e.cause,
            "window": f"{e.window_start:%a %d %b %H:%M}–{e.window_end:%H:%M} UTC ({e.event_status})",
            "summary": f"{e.report_count} report(s) over SKUs {e.skus}: sales "
                       f"{money(e.baseline_sales_total + e.attributed_sales_total, currency)} against a baseline of "
                       f"{money(e.baseline_sales_total, currency)}, {money(e.impact_estimate, currency)} at stake.",
            "alt": f"Sales against baseline for event {e.event_id} at store {e.store_id}, the event window shaded",
            "proposal": f"{e.proposed_cause.replace('_', ' ') if isinstance(e.proposed_cause, str) else 'no cause'}{confidence}",
            "decision": decision,
            "evidence": [{
                "sku": r.sku, "direction": r.direction, "sales": money(r.observed_sales_total, currency),
                "baseline": money(r.baseline_sales_total, currency),
                "cause": r.proposed_cause if isinstance(r.proposed_cause, str) else "none",
                "confidence": f"{r.confidence_score:.0%}" if pd.notna(r.confidence_score) else "n/a",
                "evidence": evidence.get(r.report_id, "no attribution yet"),
            } for r in reports.sort_values("sku").itertuples()],
        }

    def chart(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        _, events = self.events()
        match = events[events["event_id"] == event_id]
        if match.empty:
            raise Refused(404, f"no event {event_id!r}")
        event = next(match.itertuples())
        series, baseline = chart_data(self.lake, self.mrs.current_run_id(), match)
        with self.render_lock:
            png = event_chart(series, baseline, event, self.mrs.currency).png
        return Response(png, media_type="image/png")

    async def decide(self, request: Request) -> Response:
        analyst_id, event_id = request.path_params["analyst_id"], request.path_params["event_id"]
        back = f"/review/{analyst_id}"
        form = await request.form()
        session = request.cookies.get(SESSION_COOKIE)
        if not session or not hmac.compare_digest(str(form.get("csrf_token", "")), self.csrf_token(session)):
            raise Refused(403, "missing or invalid CSRF token: reload the review page and try again; nothing was written")
        await run_in_threadpool(self.check_analyst, analyst_id)
        action, cause = form.get("action"), form.get("cause") or None
        note = str(form.get("note") or "").strip() or None
        problems = []
        if action not in ACTIONS:
            problems.append(f"unknown action {action!r} (one of: {', '.join(ACTIONS)})")
        if action == "cause" and cause is None:
            problems.append("choose the cause to record")
        if action != "cause" and cause is not None:
            problems.append("a cause is only recorded by 'change cause'")
        if note and (len(note) > NOTE_LIMIT or any(ord(ch) < 32 for ch in note)):
            problems.append(f"the note must be one line of at most {NOTE_LIMIT} characters")
        _, events = await run_in_threadpool(self.events)
        assigned = events.set_index("event_id")["assigned_to"]
        if event_id in assigned.index and assigned[event_id] != analyst_id:
            problems.append(f"event {event_id} is not assigned to {analyst_id}")
        if problems:
            raise Refused(400, f"not recorded: {'; '.join(problems)}")
        try:
            row = await run_in_threadpool(record_edit, self.mrs.path, self.mrs.current_run_id(), "event", event_id, analyst_id,
                                   ACTIONS[action], cause, note)
        except ValueError as error:
            raise Refused(400, f"not recorded: {error}") from None
        return RedirectResponse(f"{back}?recorded={row['edit_id'].iat[0]}#event-{event_id}", status_code=303)


def create_app(data_dir: Path, run_id: str | None = None, secret: bytes | None = None) -> Starlette:
    console = ReviewConsole(data_dir, run_id, secret)

    def guarded(handler):
        """A refusal becomes a page saying why; blocking handlers run off the event loop."""
        async def endpoint(request: Request) -> Response:
            try:
                if inspect.iscoroutinefunction(handler):
                    return await handler(request)
                return await run_in_threadpool(handler, request)
            except Refused as refused:
                return console.message(request, refused.status, str(refused), "/review")

        return endpoint

    site_dir = console.lake.dashboard_dir
    static = StaticFiles(directory=site_dir, html=True, check_dir=False)

    async def dashboard_files(scope, receive, send) -> None:
        """The site's files (StaticFiles refuses paths outside it); a missing site is a 404 saying why."""
        if site_dir.is_dir():
            await static(scope, receive, send)
        else:
            await console.no_dashboard(Request(scope))(scope, receive, send)

    routes = [
        Route("/", guarded(console.index)),
        Route("/review", guarded(console.analyst_list)),
        Route("/review/chart/{event_id}.png", guarded(console.chart)),
        Route("/review/{analyst_id}", guarded(console.review)),
        Route("/review/{analyst_id}/events/{event_id}", guarded(console.decide), methods=["POST"]),
        Mount("/dashboard", dashboard_files),
    ]
    return Starlette(routes=routes)
