# mmrrsis developer commands. `make demo` and `make test` work on a fresh machine: both create
# or refresh .venv/ first (make install), which is quick when nothing changed.
PY := .venv/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast test-threads lint clean-env

install:
	bash .dev_scripts/install_env.sh

demo: install
	$(PY) demo/run_demo.py

test: install
	$(PY) -m pytest tests

test-fast: install
	$(PY) -m pytest tests -m "not slow"

# The quick tests again on one intra-op thread: assertions that hold only for one machine's
# float rounding (exact zeros, bitwise equality, tuned thresholds) show up here (.ci/run).
test-threads: install
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest tests -m "not slow" -q

lint: install
	.venv/bin/ruff check mmrrsis tools tests demo configs

clean-env:
	rm -rf .venv mmrrsis/.mim mmrrsis.egg-info
