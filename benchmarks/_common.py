"""Helpers shared by the benchmark scripts: threads, data, interleaved timing, tables.

Every script measures both sides of a comparison in one process, on the
same inputs and thread count, and interleaves them (A B A B ...) over
several rounds: on a shared machine the load changes from second to second,
and a ratio of medians over interleaved rounds stays fair where two
back-to-back runs would not.
"""

import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quiet_tensorflow():
    """Less C++ logging; call before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def set_threads(threads, inter_op=None):
    """The same intra-op thread count for TensorFlow and (if loaded) torch.

    Must run before TensorFlow executes its first op.
    """
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op or threads)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(inter_op or threads)


def shared_dir():
    """`../shared` beside the checkout, or $TFLLMREC_SHARED."""
    return Path(os.environ.get("TFLLMREC_SHARED", REPO.parent / "shared"))


def movielens_path():
    return shared_dir() / "datasets" / "ml-100k"


def item_texts(limit=None):
    """Real item texts: MovieLens-100K "title (year). genres" and Amazon Office titles.

    Returns a list of str, MovieLens first; `limit` keeps an even mix.
    """
    import pandas as pd

    from tfllmrec.data import load_movielens_100k

    movies = [str(t) for t in load_movielens_100k(str(movielens_path())).items.texts()]
    office_file = shared_dir() / "datasets" / "amazon-office" / "Office.text"
    office = pd.read_csv(office_file, sep="\t", dtype=str, keep_default_na=False)["text"].tolist()
    if limit:
        movies, office = movies[: limit // 2], office[: limit - min(limit // 2, len(movies))]
    return movies + office


def interleaved(variants, rounds, warmup=True):
    """Runs `variants` (name -> fn(round) -> items done) A B A B ... for `rounds`.

    The order of the variants rotates every round, so none always runs
    first after a pause. Returns name -> list of items/s per round.
    """
    names = list(variants)
    if warmup:
        for name in names:
            variants[name](-1)
    rates = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            done = variants[name](r)
            rates[name].append(done / (time.perf_counter() - start))
    return rates


def median(values):
    return statistics.median(values)


def ratio(rates, a, b):
    """Median over rounds of rate(a) / rate(b) in the same round."""
    return statistics.median(x / y for x, y in zip(rates[a], rates[b]))


def print_table(headers, rows):
    """A Markdown table (pastes into READMEs as is)."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def machine():
    """One line naming the machine, for the tables' captions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", load average %.1f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} CPUs ({cpu}){load}, Python {platform.python_version()}"


def versions(*modules):
    found = []
    for name in modules:
        module = sys.modules.get(name)
        if module is not None:
            found.append(f"{name} {getattr(module, '__version__', '?')}")
    return ", ".join(found)
