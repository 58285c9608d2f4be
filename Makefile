# mmrrsis developer commands. `make demo` and `make test` work on a fresh machine: both create
# or refresh .venv/ first (make install), which is quick when nothing changed.
PY := .venv/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast lint clean-env

install:
	bash .dev_scripts/install_env.sh

demo: install
	$(PY) demo/run_demo.py

test: install
	$(PY) -m pytest tests

test-fast: install
	$(PY) -m pytest tests -m "not slow"

lint: install
	.venv/bin/ruff check mmrrsis tools tests demo configs

clean-env:
	rm -rf .venv mmrrsis/.mim mmrrsis.egg-info
