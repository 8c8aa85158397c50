# MRS: `make demo` and `make test` work on a fresh machine (they create .venv and install).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export MRS_DATA_DIR ?= $(CURDIR)/data/demo

CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install demo run ui serve test test-spark bench quality screenshots clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Debian's Chromium, for the browser tests and the screenshots (Playwright drives it; it downloads no browser).
$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/mrs demo --data-dir $(MRS_DATA_DIR)

run: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/mrs run --data-dir $(MRS_DATA_DIR)

# With the allocator settings of mrs_dagster.memory, which the runs it launches inherit.
ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m mrs_dagster.memory $(BIN)/dagster dev -h 127.0.0.1 -w workspace.yaml

serve: install
	$(BIN)/mrs serve --data-dir $(MRS_DATA_DIR)

# The Spark engine's tests (`make test-spark`): pyspark (the `spark` extra) and a Java runtime. They
# are not in `make test`: pyspark is a 450 MB download and the demo-world comparison takes minutes.
JAVA := /usr/bin/java
SPARK_STAMP := $(VENV)/.installed-spark

$(JAVA):
	$(SUDO) apt-get install -y -q openjdk-17-jre-headless || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q openjdk-17-jre-headless)

$(SPARK_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,spark]"
	touch $(SPARK_STAMP)

# -rfE: the failures and errors, one line each, at the end of the output.
test: install $(CHROMIUM)
	$(BIN)/pytest -q -n 2 --dist loadgroup -rfE -m "not spark"

test-spark: install $(JAVA) $(SPARK_STAMP)
	$(BIN)/pytest -q -rfE -m spark

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: install $(BENCH_STAMP)
	$(BIN)/python bench/bench_detection_cohorting.py
	$(BIN)/python bench/bench_cohort_rules.py
	$(BIN)/python bench/bench_peers.py
	$(BIN)/python bench/bench_incremental.py
	$(BIN)/python bench/bench_whole_run.py

quality: install
	$(BIN)/python bench/quality_across_seeds.py

screenshots: install $(CHROMIUM) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) data/demo
