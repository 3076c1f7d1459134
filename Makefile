# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
DVC_VENV := .venv-dvc
PY := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.dagster
export BVAE_ROOT := $(CURDIR)
export DVC_BIN := $(CURDIR)/$(DVC_VENV)/bin/dvc

.PHONY: install system-deps demo test faults lint format audit ui mlflow serve repro bench study clean

install: $(VENV)/.installed $(DVC_VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# DVC in its own environment: its hydra-core pins antlr4 4.9, which breaks Dagster's asset selection.
$(DVC_VENV)/.installed: constraints-dvc.txt
	test -x $(DVC_VENV)/bin/python || $(PYTHON) -m venv $(DVC_VENV)
	$(DVC_VENV)/bin/pip install -q -c constraints-dvc.txt dvc
	touch $@

# the local instance: gpu pool limit, pipelines' progress logs in the run logs (infra/dagster.yaml). Its sqlite
# storages are created here, once and under a lock: `make ui` and `make demo` started together on a fresh clone would
# otherwise both create them, and a store stamped twice by alembic cannot be opened again.
$(DAGSTER_HOME)/dagster.yaml: infra/dagster.yaml | $(VENV)/.installed
	mkdir -p $(DAGSTER_HOME)
	flock $(DAGSTER_HOME)/.init.lock sh -c 'cp infra/dagster.yaml $@ && $(PY) -c "import dagster; dagster.DagsterInstance.get().dispose()"'

demo: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m assets.demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Two workers (pytest-xdist), one test file each at a time: most of the suite waits on subprocesses and servers, so
# this halves the wall time on 2 cores. PYTEST_WORKERS=0 runs everything in one process. Files go out in collection
# order, which starts the longest first (tests/conftest.py, LONG_FILES): xdist's default would reorder them by their
# number of tests, and the 4-test, 5-minute test_cli.py then started last and ran alone at the end.
PYTEST_WORKERS ?= 2
XDIST = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
# With workers, one OpenMP thread per process (torch's intra-op pool, scikit-learn's boosted trees, BLAS), unless
# OMP_NUM_THREADS is set: two workers each spinning two OpenMP threads on 2 cores made a HistGradientBoosting test
# take 66 s instead of 9, and the whole suite took 976 s against 814 s with one thread (2026-12-07).
TEST_ENV = $(if $(filter-out 0,$(PYTEST_WORKERS)),OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1})

test: install system-deps lint
	$(TEST_ENV) $(PY) -m pytest $(XDIST)

# The fault-injection suite alone (also part of `make test`); ends with "faults: N tried, N handled, 0 lost, 0 corrupt".
faults: install
	$(TEST_ENV) $(PY) -m pytest -q $(XDIST) tests/faults

# Known vulnerabilities of every pin in the lock files (the project's and DVC's environment), from PyPI's advisory
# data: needs the network, so `make test` does not run it. Installs nothing: --no-deps audits the pins as listed.
# --strict fails when a pin could not be looked up, rather than reporting "no known vulnerabilities" for it.
# Findings no pin can fix are listed with the reason in audit-ignore.txt (ID, package, reason) and skipped here.
audit: $(VENV)/.installed
	$(VENV)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off \
	  $$(awk '!/^#/ && NF {print "--ignore-vuln", $$1}' audit-ignore.txt) -r constraints.txt -r constraints-dvc.txt

# Debian packages some tests drive for real: Chromium (the asset graph screenshot) and PostgreSQL (Dagster's and
# MLflow's Postgres storage). Installed when missing and we are root with apt-get; otherwise those tests say why.
system-deps:
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  if [ -z "$$missing" ]; then exit 0; fi; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "not installed (needs root and apt-get):$$missing; the tests that need them are skipped"; fi

# Dagster UI (http://127.0.0.1:3000) with the MLflow UI beside it (http://127.0.0.1:5000); Ctrl-C stops both.
# `make ui MLFLOW_PORT=5001` serves MLflow elsewhere; the assets' run links follow MLFLOW_UI_URL.
MLFLOW_PORT ?= 5000
export MLFLOW_UI_URL ?= http://127.0.0.1:$(MLFLOW_PORT)
ui: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db --port $(MLFLOW_PORT) > .dagster/mlflow-ui.log 2>&1 & \
	  pid=$$!; trap "kill $$pid" EXIT INT TERM; \
	  echo "MLflow UI at $(MLFLOW_UI_URL)/#/experiments?workflowType=machine_learning (log: .dagster/mlflow-ui.log)"; \
	  $(VENV)/bin/dagster dev -m assets

mlflow: $(VENV)/.installed
	@echo "MLflow UI at $(MLFLOW_UI_URL)/#/experiments?workflowType=machine_learning (the Model training view)"
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db --port $(MLFLOW_PORT)

# The champion of DATASET as an encoder over HTTP (docs/tracking.md): POST samples to /invocations, get z0..z9
DATASET ?= ecg
SERVE_PORT ?= 5001
serve: $(VENV)/.installed
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db} \
	  $(VENV)/bin/mlflow models serve -m "models:/$(DATASET)-beta-vae@champion" --env-manager local \
	  --host 127.0.0.1 --port $(SERVE_PORT)

# Benchmarks print their figures (ratios against a baseline measured in the same run) into benchmarks/results.md.
# neurokit2 only for the R-peak comparison, in its own environment (not a project dependency)
.venv-neurokit/.installed: constraints-neurokit.txt
	test -x .venv-neurokit/bin/python || $(PYTHON) -m venv .venv-neurokit
	.venv-neurokit/bin/pip install -q -c constraints-neurokit.txt neurokit2 wfdb
	touch $@

bench: $(VENV)/.installed .venv-neurokit/.installed
	{ echo "# Benchmark results"; echo; echo "Machine: $$(nproc) cores, $$(uname -m), $$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs); $$(date -u +%F)."; echo; \
	  $(PY) -m benchmarks.rpeaks --neurokit-python .venv-neurokit/bin/python; echo; \
	  $(PY) -m benchmarks.windows; echo; \
	  $(PY) -m benchmarks.training 2>/dev/null; } > benchmarks/results.md
	cat benchmarks/results.md

# The multi-seed study behind the report's claims: params.yaml's sweep x 5 seeds on both embedded training sets and,
# when params.yaml's sources.ludb is there, on LUDB's annotated real beats, with the PCA/FastICA baselines (about
# 25 minutes on 2 cores, 40 more with LUDB).
study: $(VENV)/.installed
	for stage in ecg-ingest ecg-validate heartbeats btc-ingest btc-validate windows; do $(PY) -m pipelines $$stage || exit 1; done
	ludb=$$($(PY) -c "from pipelines import stages; from pipelines.workspace import Workspace; print('ludb' in stages.available(Workspace.from_env()))"); \
	if [ "$$ludb" = True ]; then for stage in ludb-ingest ludb-validate ludb-beats; do $(PY) -m pipelines $$stage || exit 1; done; fi; \
	{ echo "# Multi-seed study"; echo; echo "Machine: $$(nproc) cores, $$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs); $$(date -u +%F)."; echo; \
	  $(PY) -m benchmarks.sweep_effect data/ecg/training_set.npz --seeds 5; echo; \
	  $(PY) -m benchmarks.sweep_effect data/btc/training_set.npz --seeds 5; \
	  if [ "$$ludb" = True ]; then echo; $(PY) -m benchmarks.sweep_effect data/ludb/training_set.npz --seeds 5; fi; \
	} > benchmarks/results-study.md
	cat benchmarks/results-study.md

repro: install
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(DVC_BIN) repro

clean:
	rm -rf data mlflow.db mlartifacts .dagster
