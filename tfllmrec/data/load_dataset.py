"""`load_dataset`: the `Dataset` a recipe's data config names."""

from tfllmrec.data.amazon_reviews import load_amazon_reviews
from tfllmrec.data.lastfm import load_lastfm_2k
from tfllmrec.data.letter import load_amazon_scientific
from tfllmrec.data.mind import load_mind
from tfllmrec.data.movielens import load_movielens_100k, load_movielens_latest_small
from tfllmrec.data.nemig import load_nemig
from tfllmrec.data.rechorus import load_amazon_office
from tfllmrec.data.tabular import load_tabular
from tfllmrec.errors import ConfigError

# Each takes the config's `path` (None: the canonical download).
_BY_PATH = {
    "movielens-100k": load_movielens_100k,
    "movielens-latest-small": load_movielens_latest_small,
    "lastfm-2k": load_lastfm_2k,
    "amazon-office": load_amazon_office,
    "amazon-scientific": load_amazon_scientific,
    "mind": load_mind,
    "nemig": load_nemig,
}
DATASETS = (*_BY_PATH, "amazon-reviews", "tabular")
# A loader's own options, as the data config names them.
_OPTIONS = {"lastfm-2k": ("held_out_tags",)}


def load_dataset(data):
    """Returns the `tfllmrec.data.Dataset` for `data` (a recipe's `DataConfig`)."""
    if data.dataset in _BY_PATH:
        options = {name: getattr(data, name) for name in _OPTIONS.get(data.dataset, ())}
        return _BY_PATH[data.dataset](data.path, **options)
    if data.dataset == "amazon-reviews":
        _require(data, ("interactions", "items"), "the reviews JSON and the metadata JSON")
        return load_amazon_reviews(data.interactions, data.items)
    if data.dataset == "tabular":
        _require(data, ("interactions", "items", "text_fields"), "your files, columns and text fields")
        return load_tabular(data.interactions, data.items, data.columns, list(data.text_fields),
                            users_path=data.users, user_fields=list(data.user_fields))
    raise ConfigError(f"data.dataset={data.dataset!r} is unknown. Use one of: {', '.join(DATASETS)}.")


def _require(data, keys, what):
    missing = [f"data.{k}" for k in keys if not getattr(data, k)]
    if missing:
        raise ConfigError(
            f"data.dataset={data.dataset} needs {what} ({', '.join(f'data.{k}' for k in keys)}); "
            f"missing: {', '.join(missing)}."
        )
