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

test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not multiprocess"

bench: $(STAMP)
	$(PY) bench/sim_bench.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

demo: $(STAMP)
	$(PY) demo/rolling_upgrade.py
