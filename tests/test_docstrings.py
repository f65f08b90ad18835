"""Every docstring example in tfllmrec runs, and prints what it shows (doctest)."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
import tensorflow as tf

import tfllmrec

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(tfllmrec.__path__, "tfllmrec.")
                 if name != "tfllmrec.__main__")


def _examples(module):
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [test for test in finder.find(module, module.__name__) if test.examples]


def test_the_package_has_examples_to_run():
    count = sum(len(test.examples) for name in MODULES for test in _examples(importlib.import_module(name)))
    assert count >= 60, count


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run_as_written(name, tmp_path, monkeypatch):
    # Examples that write files write them here; downloads and caches stay private (conftest).
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in _examples(module):
        test.globs = {"tf": tf, "np": np, **vars(module), **test.globs}
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
