# Every target installs what it needs into .venv, so a fresh clone works as is.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Two workers: the multi-process tests mostly wait on simulated observers; each test module
# uses its own loopback network, so modules run side by side (one module per worker).
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not multiprocess"

bench: $(STAMP)
	$(PY) bench/sim_bench.py
	$(PY) bench/engine_bench.py
	$(PY) bench/agent_bench.py
	$(PY) bench/upgrade_bench.py
	$(PY) bench/kill_matrix.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

demo: $(STAMP)
	$(PY) demo/rolling_upgrade.py
