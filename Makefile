# Two entry points: `make demo` (install, then reconstruct the bundled example) and `make test`
# (install, then lint and the test suite). Both start from a fresh machine with only python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXAMPLE := examples/chair__synth_0_0

.PHONY: install demo test test-all lint clean

install: $(STAMP)

# torch first and pinned: a looser requirement would pull the multi-GB CUDA build on CPU machines.
# torchvision must never arrive: its PyPI wheel does not load with the CPU torch and breaks
# transformers imports.
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[test]"
	@if $(PY) -m pip show torchvision >/dev/null 2>&1; then \
		echo "error: torchvision was installed; hoifit must not depend on it"; exit 1; fi
	touch $(STAMP)

demo: install
	$(PY) reconstruct.py $(EXAMPLE) --out outputs/demo

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow"

test-all: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) outputs
