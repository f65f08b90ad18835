"""`tfllmrec init`: a recipe folder for your own files, columns guessed from headers."""

import re
from pathlib import Path

import pandas as pd

from tfllmrec.errors import ConfigError
from tfllmrec.recipes.config_tree import to_yaml, with_overrides
from tfllmrec.recipes.registry import get_recipe

_USER = r"user|customer|client|member|reviewer|visitor|account|buyer"
_ITEM = r"item|product|sku|asin|movie|film|artist|track|song|news|article|doc|video|book"
_TIME = r"time|date|ts$|^ts|timestamp|when"
_WEIGHT = r"rating|weight|qty|quantity|count|plays|score|stars"
_TEXT_FIRST = r"title|name|headline|description|desc|brand|categor|genre|tag|abstract|summary|text"


def init_recipe(folder, base, interactions, items):
    """Writes `folder/config.yaml`: recipe `base` pointed at your files.

    Columns are guessed from the files' headers (nothing is asked); the
    guesses are returned so they can be printed, and can be edited in the
    YAML afterwards.

    Args:
        folder: str or Path. The recipe folder to create (must not exist).
        base: str. A registered recipe whose model and schedule to start from.
        interactions: str or Path. CSV/TSV/Parquet of (user, item[, weight, time]).
        items: str or Path. CSV/TSV/Parquet of items with text columns.

    Returns:
        (RecipeConfig, dict of what was guessed).

    Example:
    >>> _ = open("orders.csv", "w").write("customer,sku,ts\\nc1,p1,1700000000\\nc2,p2,1700000600\\n")
    >>> _ = open("products.csv", "w").write("sku,title,colour\\np1,Red shoe,red\\np2,Chef knife,steel\\n")
    >>> config, guessed = init_recipe("my_recipe", "ecommerce", "orders.csv", "products.csv")
    >>> guessed["columns"], guessed["text_fields"], config.data.split
    ({'user_id': 'customer', 'item_id': 'sku', 'timestamp': 'ts'}, ['title'], 'leave_one_out')
    """
    folder = Path(folder)
    base_config = get_recipe(base)
    if base_config.task == "impressions":
        raise ConfigError(
            f"The {base} recipe reads impression logs (MIND's news.tsv + behaviors.tsv), not "
            f"interaction tables. Fix: copy zoo/{base}/config.yaml and set data.path to your "
            "MIND-format folder, or start from --from ecommerce for (user, item, time) tables."
        )
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} already exists and is not empty; choose a new recipe folder.")
    inter_cols = _columns(interactions)
    item_cols = _columns(items)
    user = _pick(inter_cols, _USER, "the user id", interactions)
    item = _pick([c for c in inter_cols if c != user], _ITEM, "the item id", interactions)
    columns = {"user_id": user, "item_id": item}
    rest = [c for c in inter_cols if c not in (user, item)]
    for key, pattern in (("timestamp", _TIME), ("weight", _WEIGHT)):
        found = [c for c in rest if re.search(pattern, c, re.I)]
        if found:
            columns[key] = found[0]
    items_id = item if item in item_cols else _pick(item_cols, _ITEM + r"|id", "the item id", items)
    if items_id != item:
        columns["items_item_id"] = items_id
    text = [c for c in item_cols if c != items_id and re.search(_TEXT_FIRST, c, re.I)]
    if not text:
        text = [c for c in item_cols if c != items_id][:3]
    if not text:
        raise ConfigError(f"{items} has no column besides the item id to use as text.")
    name = folder.name
    overrides = [
        f"name={name}", "data.dataset=tabular",
        f"data.interactions={Path(interactions).resolve()}", f"data.items={Path(items).resolve()}",
        "data.columns={" + ", ".join(f"{k}: {v!r}" for k, v in columns.items()) + "}",
        "data.text_fields=[" + ", ".join(repr(t) for t in text) + "]",
        f"description=your data, from the {base} recipe",
    ]
    if "timestamp" not in columns:
        overrides.append("data.split=random")
        # Time periods need timestamps: without them the query tower goes without.
        overrides += ["model.period_days=0", "baseline_model.period_days=0"]
    elif base_config.data.split == "predefined":
        # Your files ship no split: hold out each user's latest items instead.
        overrides.append("data.split=leave_one_out")
    config = with_overrides(base_config, overrides)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(to_yaml(config))
    return config, {"columns": columns, "text_fields": text}


def _columns(path):
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return [str(c) for c in pd.read_parquet(path).columns]
        sep = "\t" if path.suffix.lower() in (".tsv", ".dat") else ","
        return [str(c).strip().lstrip("\ufeff") for c in pd.read_csv(path, sep=sep, nrows=0).columns]
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"Cannot read the header of {path}: {e}") from e


def _pick(columns, pattern, what, path):
    found = [c for c in columns if re.search(pattern, c, re.I)]
    found.sort(key=lambda c: (not re.search(r"id$|_id|Id$|ID", c), len(c)))
    if not found:
        raise ConfigError(
            f"Cannot tell which column of {path} is {what} (columns: {columns}). Rename it "
            "(e.g. user_id, item_id) or edit data.columns in the written config.yaml."
        )
    return found[0]
