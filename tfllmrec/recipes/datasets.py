"""Loads the dataset a `DataConfig` names."""

from tfllmrec.data import load_movielens_100k, load_movielens_latest_small, load_tabular
from tfllmrec.errors import ConfigError

DATASETS = ("movielens-100k", "movielens-latest-small", "tabular")


def load_dataset(data):
    """Returns the `tfllmrec.data.Dataset` for `data` (a DataConfig)."""
    if data.dataset == "movielens-100k":
        return load_movielens_100k(data.path)
    if data.dataset == "movielens-latest-small":
        return load_movielens_latest_small(data.path)
    if data.dataset == "tabular":
        missing = [k for k in ("interactions", "items") if not getattr(data, k)]
        if missing or not data.text_fields:
            raise ConfigError(
                "data.dataset=tabular needs data.interactions, data.items, data.columns "
                "and data.text_fields; missing: "
                + ", ".join(f"data.{k}" for k in missing + ([] if data.text_fields else ["text_fields"]))
            )
        return load_tabular(data.interactions, data.items, data.columns, list(data.text_fields))
    raise ConfigError(f"data.dataset={data.dataset!r} is unknown. Use one of: {', '.join(DATASETS)}.")
