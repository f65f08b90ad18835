"""A recipe run with `model.trainable=top:1`: the fine-tuned encoder is the one
that evaluation, `TrainedRun` (new items, text queries) and the export use."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml

from conftest import tiny_recipe_overrides, write_tiny_dataset
from tfllmrec.encoders import TextEncoder
from tfllmrec.errors import ConfigError
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.export_run import build_module, export_run
from tfllmrec.recipes.pipeline import train_recipe
from tfllmrec.recipes.search_config import SearchConfig
from tfllmrec.recipes.trained_run import TrainedRun

QUERIES = ["jazz record", "a sharp chef knife"]


@pytest.fixture(scope="module")
def fine_tuned_run(tmp_path_factory):
    folder = write_tiny_dataset(tmp_path_factory.mktemp("fine_tune_data"))
    overrides = tiny_recipe_overrides(folder, epochs=2) + [
        "eval.baselines=[]", "data.cold_start_fraction=0", "model.trainable=top:1",
        "model.fuse_text=true", "model.cold_neighbors=5", "train.encoder_learning_rate=0.001",
        "train.encoder_refresh_steps=2", "train.encoder_warmup_steps=0",
    ]
    run_dir = tmp_path_factory.mktemp("runs") / "fine_tuned"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFLLMREC_CACHE", str(tmp_path_factory.mktemp("cache")))
        train_recipe(with_overrides(get_recipe("video"), overrides), run_dir, verbose=0)
    return TrainedRun(run_dir)


def assert_encoder_fine_tuned_and_table_follows(run, atol):
    """The run's encoder moved away from the pretrained one, and the checkpoint's
    text table is that encoder's embedding of the catalogue."""
    pretrained = TextEncoder.from_preset("tiny-random", sequence_length=16)
    queries = tf.constant(QUERIES)
    assert np.abs(run.text_encoder(queries).numpy() - pretrained(queries).numpy()).max() > 1e-3
    np.testing.assert_allclose(run.model.item_tower.text_table.numpy(),
                               run.text_encoder.encode(list(run.item_texts)), atol=atol)


def test_the_run_restores_its_fine_tuned_encoder(fine_tuned_run):
    run = fine_tuned_run
    saved = yaml.safe_load((run.run_dir / "config.yaml").read_text())
    assert saved["model"]["trainable"] == "top:1" and saved["train"]["encoder_learning_rate"] == 0.001
    assert run.text_encoder is run.model.text_encoder
    assert_encoder_fine_tuned_and_table_follows(run, atol=1e-5)


def test_new_items_and_text_queries_use_the_fine_tuned_encoder(fine_tuned_run):
    run = fine_tuned_run
    position = 7
    run.add_items(["copy-of-7"], [str(run.item_texts[position])])
    tower = run.model.item_tower
    expected = tower.new_item_vectors(tf.gather(tower.text_table, [position])).numpy()[0]
    np.testing.assert_allclose(run.item_vectors()[-1], expected, atol=1e-5)
    top = run.recommend_for_text(str(run.item_texts[position]), k=2)
    assert "copy-of-7" in {item for item, _, _ in top}


def test_the_export_encodes_with_the_fine_tuned_encoder(fine_tuned_run):
    module = build_module(fine_tuned_run)
    queries = tf.constant(QUERIES)
    placed = fine_tuned_run.model.item_tower.text_only_vectors(fine_tuned_run.text_encoder(queries))
    np.testing.assert_allclose(module.encode_text(queries)["embedding"].numpy(), placed.numpy(), atol=1e-5)
    assert module.encoder is fine_tuned_run.text_encoder


def test_the_saved_model_serves_the_fine_tuned_encoder_once(fine_tuned_run, tmp_path):
    version = export_run(fine_tuned_run.run_dir, tmp_path / "tiny")
    loaded = tf.saved_model.load(version)
    queries = tf.constant(QUERIES)
    got = loaded.signatures["encode_text"](text=queries)["embedding"].numpy()
    want = build_module(fine_tuned_run).encode_text(queries)["embedding"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    # BERT's weights are stored once (the size trap: Keras 3 variables and the
    # tf.Variables under them tracked twice): the export holds about one copy.
    reader = tf.train.load_checkpoint(str(Path(version) / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for shape in reader.get_variable_to_shape_map().values())
    bert = sum(int(np.prod(v.shape)) for v in fine_tuned_run.text_encoder.backbone.weights)
    assert bert < stored < 2 * bert


@pytest.mark.parametrize("option", ["train.mixed_precision=true", "train.jit_compile=true",
                                    "train.strategy=mirrored"])
def test_fine_tuning_trains_under_mixed_precision_xla_and_mirrored(tmp_path, option):
    """bfloat16 on CPU (float16 on GPUs), an XLA-compiled step (static shapes, no
    tf.unique), and two replicas (conftest's two logical CPUs)."""
    write_tiny_dataset(tmp_path)
    overrides = tiny_recipe_overrides(tmp_path, epochs=2) + [
        "eval.baselines=[]", "data.cold_start_fraction=0", "model.trainable=top:1", "model.fuse_text=true",
        "train.encoder_learning_rate=0.001", option]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFLLMREC_CACHE", str(tmp_path / "cache"))
        result = train_recipe(with_overrides(get_recipe("video"), overrides), tmp_path / "run", verbose=0)
    losses = result["training"]["loss_history"]
    assert losses[1] < losses[0] and 0.3 < result["test"]["ndcg@10"] <= 1.0
    assert_encoder_fine_tuned_and_table_follows(TrainedRun(tmp_path / "run"), atol=1e-4)


def test_a_blended_search_scores_alike_in_the_run_and_the_export(fine_tuned_run):
    run = TrainedRun(fine_tuned_run.run_dir)  # no added items
    run.config = dataclasses.replace(run.config, search=SearchConfig(0.2, 0.3, 0.5))
    top = run.recommend_for_text("jazz record", k=5)
    embedding = run.text_encoder(tf.constant(["jazz record"]))
    cosine = tf.math.l2_normalize(embedding, -1).numpy() @ tf.math.l2_normalize(run.search_embeddings(), -1).numpy().T
    dots = run.model.item_tower.text_only_vectors(embedding).numpy() @ run.search_vectors().T
    popularity = np.log1p(run.item_counts())
    assert popularity.std() > 0 and run.search_embeddings().shape == (60, 32)

    def z(x):
        return (x - x.mean()) / x.std()

    want = 0.2 * z(cosine[0]) + 0.3 * z(dots[0]) + 0.5 * z(popularity)
    order = np.argsort(-want, kind="stable")[:5]
    assert [item for item, _, _ in top] == list(run.item_ids[order])
    np.testing.assert_allclose([score for _, _, score in top], want[order], atol=1e-4)
    served = build_module(run).recommend_by_text_k(tf.constant(["jazz record"]), tf.constant(5))
    assert [i.decode() for i in served["item_ids"].numpy()[0]] == list(run.item_ids[order])
    np.testing.assert_allclose(served["scores"].numpy()[0], want[order], atol=1e-4)


@pytest.mark.parametrize("override, message", [
    ("search.collaborative_weight=0", r"search: every weight is 0, so a text query would rank nothing"),
    ("search.cosine_weight=-1", r"search\.cosine_weight must be >= 0"),
])
def test_search_weights_are_checked_as_the_config_is_read(override, message):
    with pytest.raises(ConfigError, match=message):
        with_overrides(get_recipe("video"), [override])
