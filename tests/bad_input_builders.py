"""Builders and calls of `test_bad_inputs.py`'s cases for ranges, tiny data, paths and `init`'s guesses.

A builder takes (tmp_path, request) and returns context values; a call takes
the context and must raise. See `test_bad_inputs.py` for the table.
"""

import shutil

from conftest import tiny_recipe_overrides
from tfllmrec.recipes import get_recipe, with_overrides

TINY_ITEMS = "sku,title\n" + "".join(f"i{i},{kind} model {i}\n" for i, kind in
                                     enumerate(["running shoe", "chef knife", "jazz record"] * 2))


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rows(*triples):
    """interactions.csv text from (user, item, time offset) triples."""
    return "customer,sku,ts\n" + "".join(f"{u},{i},{1_600_000_000 + t}\n" for u, i, t in triples)


def tiny_training(interactions, extra=(), keep_run=False):
    """interactions.csv and items.csv in tmp, and the tiny video recipe reading them.

    With `keep_run`, tmp/run is a copy of the session's finished tiny run (for --overwrite).
    """
    def build(tmp, request):
        _write(tmp / "interactions.csv", interactions)
        _write(tmp / "items.csv", TINY_ITEMS)
        if keep_run:
            shutil.copytree(request.getfixturevalue("tiny_run"), tmp / "run")
        overrides = tiny_recipe_overrides(tmp, epochs=1) + ["eval.baselines=[]", *extra]
        return {"config": with_overrides(get_recipe("video"), overrides)}
    return build


def train(ctx, overwrite=False, output="run"):
    from tfllmrec.recipes.pipeline import train_recipe

    train_recipe(ctx["config"], ctx["TMP"] / output, overwrite=overwrite, verbose=0)


def news_without_non_clicks(tmp, request):
    """A NeMig folder whose every candidate is clicked: nothing to rank a click against."""
    folder = tmp / "nemig" / "en"
    _write(folder / "news.tsv", "".join(f"N{k}\tTitle {k}\tAbstract {k}\t\t\ttopic\tneutral\tleft\n"
                                        for k in range(4)))
    _write(folder / "behaviors.tsv", "".join(f"{k}\tU{k % 4}\tN0\tN1-1 N2-1\n" for k in range(20)))
    overrides = [f"data.path={folder}", "model.encoder=tiny-random", "model.sequence_length=16",
                 "train.epochs=1", "baseline_train.epochs=1"]
    return {"config": with_overrides(get_recipe("news"), overrides)}


def files(**texts):
    """Writes each `name=text` (name's last `_` becomes `.`: orders_csv -> orders.csv) into tmp."""
    def build(tmp, request):
        for name, text in texts.items():
            _write(tmp / ".".join(name.rsplit("_", 1)), text)
        return {}
    return build


def init_recipe_at(ctx, folder):
    from tfllmrec.recipes.init_recipe import init_recipe

    tmp = ctx["TMP"]
    init_recipe(tmp / folder, "video", tmp / "orders.csv", tmp / "items.csv")


def init_shop(ctx):
    init_recipe_at(ctx, "shop")


def export_to(output, **options):
    """A call exporting the session's tiny run to tmp/`output`."""
    def call(ctx):
        from tfllmrec.recipes.export_run import export_run

        export_run(ctx["run"], ctx["TMP"] / output, **options)
    return call


def tiny_run_path(tmp, request):
    return {"run": request.getfixturevalue("tiny_run")}


def loaded_run(tmp, request):
    return {"loaded": request.getfixturevalue("loaded_tiny_run")}


def encoder(tmp, request):
    from tfllmrec.encoders import TextEncoder

    return {"encoder": TextEncoder.from_preset("tiny-random", sequence_length=16)}


def TextEncoderFor(**options):  # noqa: N802  (reads as the class it builds)
    from tfllmrec.encoders import TextEncoder

    return TextEncoder.from_preset("tiny-random", **options)


def ModelRepositoryAt(root):  # noqa: N802
    from tfllmrec.serving import ModelRepository

    return ModelRepository(root)
