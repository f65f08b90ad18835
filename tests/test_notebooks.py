"""notebooks/quickstart.ipynb and cold_start.ipynb run top to bottom (tiny settings).

Each notebook runs in a fresh Jupyter kernel of this interpreter, with its
parameters set through environment variables: the tiny random encoder, one
epoch, the ml-100k copy in the shared folder, and temporary output folders.
The checks read what the notebooks printed, displayed and wrote.
"""

import importlib
import json
import os
import re
import sys

import pytest

from conftest import REPO, shared_dir

NOTEBOOKS = REPO / "notebooks"
K = 10


def _require(name):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        pytest.fail(f"The notebook tests need {name} ({error}); install the dev extras: "
                    "pip install -e '.[dev]'")


def _kernel_manager(folder):
    """A kernel of this interpreter from a spec of its own.

    A "python3" kernel spec found on the Jupyter path (a user-level one
    first) may name another Python; this one cannot.
    """
    _require("ipykernel")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = folder / "kernels" / "tfllmrec-tests"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tfllmrec tests", "language": "python",
    }))
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name="tfllmrec-tests", kernel_spec_manager=specs)


def _execute(name, workdir):
    """Runs notebooks/NAME.ipynb in `workdir`; returns (notebook, printed text, image count)."""
    nbformat = _require("nbformat")
    nbclient = _require("nbclient")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, km=_kernel_manager(workdir / f"jupyter_{name}"), timeout=300,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    text, images = [], 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
            if output.output_type == "stream":
                text.append(output.text)
            elif "data" in output:
                images += "image/png" in output.data
                text.append(output.data.get("text/plain", ""))
    return nb, "\n".join(text), images


@pytest.fixture
def tiny_settings(tmp_path, monkeypatch):
    """The notebooks' parameters, set for a fast run (the kernels inherit them)."""
    data = shared_dir() / "datasets" / "ml-100k"
    assert data.is_dir(), f"{data} is missing"
    settings = {
        "TFLLMREC_NB_EPOCHS": "1",
        "TFLLMREC_NB_ENCODER": "tiny-random",
        "TFLLMREC_NB_DATA": str(data),
        "TFLLMREC_NB_OUTPUT": str(tmp_path / "runs" / "quickstart"),
        "TFLLMREC_NB_EXPORT": str(tmp_path / "saved_models" / "quickstart"),
        "TFLLMREC_NB_RUN": str(tmp_path / "runs" / "quickstart"),
        # Headless and still displayed: the inline backend draws with Agg.
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    # TFLLMREC_CACHE already points at a temporary folder (conftest).
    assert os.environ["TFLLMREC_CACHE"]
    return settings


def test_notebooks_run_top_to_bottom(tiny_settings, tmp_path):
    run = tmp_path / "runs" / "quickstart"

    # quickstart: train, curves, Recall@K, evaluate, recommend, export.
    nb, text, images = _execute("quickstart", tmp_path)
    assert [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])], "no parameters cell"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training"]["epochs_run"] == 1
    assert {"popularity", "id_two_tower"} <= set(metrics["baselines"])
    for k in (1, 5, 10, 20, 50, 100):
        assert f"recall@{k}" in metrics["test"], k
    assert images >= 2, f"expected the training-curve and Recall@K figures, got {images}"
    for figure in ("training_curves.png", "recall_at_k.png"):
        assert (run / figure).stat().st_size > 5000, figure
    gap = float(re.search(r"largest difference over \d+ metrics: (\S+)", text).group(1))
    assert gap < 1e-6, text
    assert f"{K} recommendations for user 196" in text
    assert f"{K} results for 'space adventure with aliens'" in text
    saved_model = tmp_path / "saved_models" / "quickstart" / "1"
    assert (saved_model / "saved_model.pb").is_file()
    assert (saved_model / "variables").is_dir()
    assert "recommend_k agrees with recommend_for_user: True" in text
    assert "recommend_by_text_k agrees with recommend_for_text: True" in text

    # cold_start, on the run quickstart wrote: new movies by text, found by text and for users.
    nb, text, images = _execute("cold_start", tmp_path)
    assert "No finished run" not in text  # it reused the run
    assert images >= 1, "no cold-start figure"
    own = re.findall(r"(new-\d): rank (\S+) for its own text -> (\S+)", text)
    assert [(new_id, rank) for new_id, rank, _ in own] == [(f"new-{i}", "1") for i in range(1, 5)], text
    assert "index: 1682 catalogue movies + 4 new = 1686" in text
    assert f"{K} results for 'space adventure with aliens'" in text
    assert "catalogue part agrees with run.recommend_for_text: True" in text
    ranks = re.search(r"10 recommendations for user 196; the new movies rank (.*) of (\d+) unseen", text)
    assert ranks, text
    assert len(re.findall(r"new-\d #\d+", ranks.group(1))) == 4
    assert re.search(r"new-1's best-matching user is \S+; for them new-1 ranks #\d+", text)
    # The library call gives the same vectors and ranking as the notebook's own index.
    assert "run.add_items gives the same vectors; recommend_for_user agrees with the table above: True" in text
