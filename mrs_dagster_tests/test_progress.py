"""Progress of long commands, fed by a real Dagster run's events."""

import io
import uuid

from dagster import DagsterInstance, job, op

from mrs_dagster.progress import StepProgress


@op
def first() -> int:
    return 1


@op
def second(value: int) -> int:
    return value + 1


@job
def two_steps():
    second(first())


def test_each_finished_step_of_a_dagster_run_is_a_log_line_with_its_count_and_times():
    out, run_id = io.StringIO(), str(uuid.uuid4())
    with DagsterInstance.ephemeral() as instance, StepProgress("two_steps", 2, stream=out) as progress:
        instance.add_event_listener(run_id, progress.on_dagster_event)
        assert two_steps.execute_in_process(instance=instance, run_id=run_id).success
    lines = out.getvalue().splitlines()
    assert [line.split("] ")[1].rsplit(" in ", 1)[0] for line in lines] == [
        "two_steps 1/2: first done", "two_steps 2/2: second done"]


def test_a_failed_step_says_so_and_a_terminal_gets_a_live_bar_instead_of_lines():
    out = io.StringIO()
    with StepProgress("work", 2, stream=out) as progress:
        try:
            with progress.step("broken"):
                raise ValueError("boom")
        except ValueError:
            pass
    assert "work 1/2: broken FAILED in" in out.getvalue()
    terminal = io.StringIO()
    with StepProgress("work", 1, stream=terminal, interactive=True) as progress, progress.step("only"):
        pass
    assert "work 1/1" not in terminal.getvalue()  # no log lines: the bar is redrawn in place, then cleared
