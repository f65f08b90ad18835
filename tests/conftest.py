"""Shared test set-up.

Two logical CPU devices are configured before TensorFlow initialises, so the
`tf.distribute.MirroredStrategy` tests run in-process on a 1-CPU host too.
"""

import os
from pathlib import Path

import pytest

import tfllmrec  # noqa: F401  (selects tf-keras before TensorFlow loads)
import tensorflow as tf

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

REPO = Path(__file__).resolve().parents[1]


def shared_dir():
    """The `shared/` folder beside the checkout (fixtures and datasets)."""
    path = Path(os.environ.get("TFLLMREC_SHARED", REPO.parent / "shared"))
    if not path.is_dir():
        pytest.fail(
            f"The shared folder {path} is missing: these tests read real fixtures "
            "from it. Clone the repository beside `shared/` or set TFLLMREC_SHARED."
        )
    return path


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Keeps downloads and text-embedding caches of tests out of ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFLLMREC_CACHE", str(tmp_path_factory.mktemp("tfllmrec_cache")))
        yield


@pytest.fixture(scope="session")
def shared():
    return shared_dir()


@pytest.fixture
def tiny_encoder():
    """Builds a tiny random BERT encoder; keyword options pass through."""
    from tfllmrec.encoders import TextEncoder

    def build(**options):
        options.setdefault("sequence_length", 32)
        return TextEncoder.from_preset("tiny-random", **options)

    return build


def write_tiny_dataset(folder, num_users=40, num_items=60, per_user=12, seed=0):
    """A small learnable tabular dataset: interactions.csv and items.csv.

    User u mostly picks items of group u % 4; item titles name their group,
    so both ids and text carry the pattern.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = ["running shoe", "chef knife", "jazz record", "garden hose"]
    rows = ["customer,sku,ts"]
    for user in range(num_users):
        liked = [i for i in range(num_items) if i % 4 == user % 4]
        picks = rng.choice(liked, size=min(per_user, len(liked)), replace=False)
        for t, item in enumerate(picks):
            rows.append(f"u{user},i{item},{1_600_000_000 + 1000 * t}")
    (folder / "interactions.csv").write_text("\n".join(rows) + "\n")
    items = ["sku,title"] + [f"i{i},{groups[i % 4]} model {i}" for i in range(num_items)]
    (folder / "items.csv").write_text("\n".join(items) + "\n")
    return folder


def tiny_recipe_overrides(folder, epochs=2):
    """`--set` overrides that point the video recipe at the tiny dataset."""
    return [
        "data.dataset=tabular",
        f"data.interactions={folder / 'interactions.csv'}",
        f"data.items={folder / 'items.csv'}",
        "data.columns={user_id: customer, item_id: sku, timestamp: ts}",
        "data.text_fields=[title]",
        "model.encoder=tiny-random",
        "model.sequence_length=16",
        f"train.epochs={epochs}",
        f"baseline_train.epochs={epochs}",
        "train.batch_size=64",
        "baseline_train.batch_size=64",
        "ranking.enabled=false",  # the tiny data has no ratings
    ]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished run of the video recipe on the tiny dataset (no baselines, no cold start)."""
    from tfllmrec.recipes import get_recipe, with_overrides
    from tfllmrec.recipes.pipeline import train_recipe

    folder = write_tiny_dataset(tmp_path_factory.mktemp("tiny_data"))
    overrides = tiny_recipe_overrides(folder, epochs=3) + [
        "eval.baselines=[]", "data.cold_start_fraction=0",
    ]
    config = with_overrides(get_recipe("video"), overrides)
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFLLMREC_CACHE", str(tmp_path_factory.mktemp("cache")))
        train_recipe(config, run_dir, verbose=0)
    return run_dir
