"""Exports a trained run as a versioned SavedModel for TF Serving."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfllmrec.data.tabular import read_table
from tfllmrec.errors import ConfigError
from tfllmrec.export import (
    HistoryRecommenderModule,
    RecommenderModule,
    TextRecommenderModule,
    atomic_dir,
    write_models_config,
    write_warmup_requests,
)
from tfllmrec.files import require_creatable_folder
from tfllmrec.ranges import VERSION, Range
from tfllmrec.recipes.config_tree import to_yaml
from tfllmrec.recipes.export_config import ExportConfig
from tfllmrec.recipes.trained_run import TrainedRun
from tfllmrec.recipes.trained_sequential import load_sequential

_WARMUP_USERS = Range(int, 0, example=3, meaning="0: no user in the warm-up requests")


def next_version(model_dir):
    """1 + the highest numbered version under `model_dir` (1 when none)."""
    model_dir = Path(model_dir)
    versions = [int(p.name) for p in model_dir.iterdir() if p.name.isdigit()] if model_dir.is_dir() else []
    return max(versions, default=0) + 1


def build_module(run, retrieval_only=False, export=None):
    """A `RecommenderModule` from a `TrainedRun`'s towers.

    User and item vectors are computed here, once: serving only looks them
    up. Popularity (the unknown-user ranking) counts every known interaction.
    Items added with `run.add_items` are in the index like the catalogue's.

    Args:
        export: ExportConfig or None (the run's `export` section): top_k and
            the index.
    """
    export = export or run.config.export
    model = run.model
    users = tf.range(len(run.user_ids), dtype=tf.int32)
    user_vectors = np.concatenate(
        [model.query(users[i : i + 4096]).numpy() for i in range(0, len(run.user_ids), 4096)]
    )
    item_vectors = run.item_vectors()  # the catalogue, then any `run.add_items`
    seen = [sorted(set(items)) for items in run.seen]
    args = (run.user_ids, run.item_ids, user_vectors, item_vectors, seen, run.item_counts())
    options = dict(item_offsets=run.item_offsets(), top_k=export.top_k,
                   index=_index_options(export, len(item_vectors)), ranker=run.ranker,
                   rank_candidates=export.rank_candidates, history=_history_module(run, export))
    if (run.ranker is not None or export.history_model) and run.num_added_items:
        raise ConfigError("This run has a ranking stage or a history model, which know the training catalogue "
                          "only, and --new-items adds items to it. Fix: add the items to the data and retrain, "
                          "or export without --new-items.")
    if retrieval_only or not run.config.model.use_text:
        return RecommenderModule(*args, **options)
    encoder = run.text_encoder  # fine-tuned with the model, or the recipe's frozen one
    # Text search ranks items by their text alone (TrainedRun.search_vectors);
    # without item ids that is the item index itself, so it is not stored twice.
    search = run.search_vectors() if model.use_item_ids else None
    neighbors = None
    tower = model.item_tower
    if tower.cold_neighbors:
        # The donors a held-out item was placed among: the catalogue items with trained ids.
        known = tower.known.numpy() > 0.5
        neighbors = (tower.text_table.numpy()[known], item_vectors[: len(known)][known],
                     tower.cold_neighbors, tower.cold_neighbor_temperature)
    weights = run.config.search.weights
    embeddings = run.search_embeddings() if weights[0] else None
    return TextRecommenderModule(encoder, model.item_tower.text_mlp, *args, search_vectors=search,
                                 neighbors=neighbors, search_weights=weights, search_embeddings=embeddings,
                                 **options)


def _history_module(run, export):
    """The `recommend_by_history` stage of `export.history_model`, or None."""
    if not export.history_model:
        return None
    model = load_sequential(run.run_dir, run.config, export.history_model, len(run.user_ids), len(run.item_ids))
    model.set_history(run.seen)  # everything the run knows, in time order: the checkpoint holds training items
    return HistoryRecommenderModule(model, run.item_ids, run.item_counts()[:len(run.item_ids)], top_k=export.top_k,
                                    user_ids=run.user_ids, index=_index_options(export, len(run.item_ids)))


def _index_options(export, num_items):
    """`RecommenderModule`'s `index` argument for an ExportConfig (None: brute force)."""
    if export.index == "brute":
        return None
    root = max(1, int(round(np.sqrt(num_items))))
    partitions = export.partitions or root
    if partitions > num_items:
        raise ConfigError(f"export.partitions={partitions} is more than the {num_items} items to index. "
                          f"Fix: e.g. `--partitions {root}`, or 0 (the square root).")
    return dict(partitions=partitions, probe=export.probe, precision=export.precision)


def export_run(run_dir, output, version=None, retrieval_only=False, warmup_users=3, new_items=None,
               **export_options):
    """Writes `output/<version>/` atomically and returns its path.

    The version is written into a hidden sibling folder, checked (reloaded,
    every signature called and compared with the in-memory module), and
    renamed into place only then: TF Serving polls `output/` and must never
    see half a version. `metrics.json` and `config.yaml` of the run go into
    the version folder; `models.config` beside the model folders is updated.

    Args:
        run_dir: str. A finished run folder.
        output: str. The model folder, e.g. `saved_models/video`.
        version: int or None. 1 to 2**63 - 1 (TF Serving's int64); None: the next integer.
        retrieval_only: bool. Only `serving_default`; no BERT inside.
        warmup_users: int. Known users put in the warm-up requests (>= 0).
        new_items: str or None. A CSV/TSV/Parquet file of items not seen in
            training (`item_id` and `text` columns; `TrainedRun.add_items_from_file`),
            placed by their text and served with the catalogue.
        **export_options: ExportConfig fields overriding the run's
            (`index="ivf"`, `partitions`, `probe`, ...). The version's
            `config.yaml` is the run's config with them.

    Raises:
        RangeError: `version` or `warmup_users` out of range.
        ConfigError: `output` is, or is below, a file; the version exists;
            or the run folder is not a finished run (RunFolderError).
        DataError: `new_items` is missing or unreadable.
    """
    # Every argument is checked before the run loads (seconds) and before anything is written.
    output = require_creatable_folder(output, "Model folder", "choose another --output, e.g. "
                                      "saved_models/NAME (versions are written inside it)", ConfigError)
    if version is not None:
        version = VERSION.check(version, "version", "e.g. version=1, or omit it for the next one")
    _WARMUP_USERS.check(warmup_users, "warmup_users")
    _export_config(ExportConfig(), export_options)  # their ranges, now, not after loading the run
    if new_items is not None:
        read_table(new_items)  # a missing or unreadable file fails now, not after loading the run
    version = next_version(output) if version is None else version
    target = output / str(version)
    if target.exists():
        raise ConfigError(f"{target} already exists; TF Serving versions are immutable. "
                          "Omit --version to write the next one.")
    run = TrainedRun(run_dir)
    try:
        config = dataclasses.replace(run.config, export=_export_config(run.config.export, export_options))
    except ValueError as error:  # the run's recipe refuses the options (e.g. a history model it never trained)
        raise ConfigError(f"Invalid export option for {run.run_dir}: {error}") from None
    if new_items is not None:
        run.add_items_from_file(new_items)
    module = build_module(run, retrieval_only=retrieval_only, export=config.export)
    requests = _sample_requests(run, module, warmup_users)
    with atomic_dir(target) as tmp:
        tf.saved_model.save(module, str(tmp), signatures=module.signatures())
        write_warmup_requests(tmp, output.name, requests)
        verify_export(tmp, module, requests)
        shutil.copy2(run.run_dir / "metrics.json", tmp / "metrics.json")
        (tmp / "config.yaml").write_text(to_yaml(config))  # the resolved config, export options included
    write_models_config(output.parent)
    return str(target)


def _export_config(export, options):
    """`export` with `options` (ExportConfig fields) applied, checked as a config's values are."""
    unknown = sorted(set(options) - {f.name for f in dataclasses.fields(export)})
    if unknown:
        raise TypeError(f"export_run got unknown export options {unknown}.")
    try:
        return dataclasses.replace(export, **options)
    except ValueError as error:
        raise ConfigError(f"Invalid export option: {error}") from None


def _sample_requests(run, module, count):
    """One warm-up request per signature, every input given (as REST requires)."""
    users = [str(u) for u in run.user_ids[:count]]
    k = np.int32(module.top_k)
    requests = [("serving_default", {"user_id": users}), ("recommend_k", {"user_id": users, "k": k})]
    if module.ranking is not None:
        candidates = [str(i) for i in run.item_ids[:3]]
        requests += [("rank", {"user_id": users, "item_ids": [candidates] * len(users)}),
                     ("recommend_ranked", {"user_id": users})]
    if module.history is not None:
        histories = [[str(run.item_ids[i]) for i in sorted(run.seen[u])[-5:]] for u in range(min(count, len(users)))]
        width = max(map(len, histories), default=0)
        padded = [[""] * (width - len(h)) + h for h in histories]
        requests += [("recommend_by_history", {"item_ids": padded}),
                     ("recommend_for_user", {"user_id": users[:len(padded)], "item_ids": [[""]] * len(padded)})]
    if module.has_text:
        texts = [str(t) for t in run.item_texts[:count]]
        requests += [("recommend_by_text", {"query": texts}), ("recommend_by_text_k", {"query": texts, "k": k}),
                     ("encode_items", {"item_text": texts}), ("encode_text", {"text": texts})]
    return requests


def verify_export(saved_model_dir, module, requests, atol=1e-4):
    """Reloads the SavedModel and checks each request against `module`."""
    loaded = tf.saved_model.load(str(saved_model_dir))
    for signature, inputs in requests:
        tensors = {k: tf.constant(v) for k, v in inputs.items()}
        got = loaded.signatures[signature](**tensors)
        want = module.signatures()[signature](**tensors)
        for key, value in want.items():
            a, b = value.numpy(), got[key].numpy()
            same = np.array_equal(a, b) if a.dtype == object else np.allclose(a, b, atol=atol)
            if not same:
                raise RuntimeError(f"Export check failed: {signature}/{key} differs after reload.")
