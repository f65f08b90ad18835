"""`tfllmrec init`: a recipe folder for your own files, columns guessed and checked against the data."""

from pathlib import Path

from tfllmrec.errors import ConfigError
from tfllmrec.files import require_creatable_folder
from tfllmrec.recipes.config_tree import to_yaml, with_overrides
from tfllmrec.data.column_guess import guess_columns
from tfllmrec.recipes.registry import get_recipe


def init_recipe(folder, base, interactions, items):
    """Writes `folder/config.yaml`: recipe `base` pointed at your files.

    Columns are guessed from the files' headers and checked against their
    values (`tfllmrec.data.column_guess.guess_columns`; nothing is asked); the guesses are
    returned so they can be printed, and can be edited in the YAML
    afterwards. Nothing is written unless every guess fits.

    Args:
        folder: str or Path. The recipe folder to create (must not exist, or be empty).
        base: str. A registered recipe whose model and schedule to start from.
        interactions: str or Path. CSV/TSV/Parquet of (user, item[, weight, time]).
        items: str or Path. CSV/TSV/Parquet of items with text columns.

    Returns:
        (RecipeConfig, dict of what was guessed: columns, text_fields,
        matched and notes, see `guess_columns`).

    Example:
    >>> _ = open("orders.csv", "w").write("customer,sku,ts\\nc1,p1,1700000000\\nc2,p2,1700000600\\n")
    >>> _ = open("products.csv", "w").write("sku,title,colour\\np1,Red shoe,red\\np2,Chef knife,steel\\n")
    >>> config, guessed = init_recipe("my_recipe", "ecommerce", "orders.csv", "products.csv")
    >>> guessed["columns"], guessed["text_fields"], config.data.split
    ({'user_id': 'customer', 'item_id': 'sku', 'timestamp': 'ts'}, ['title'], 'leave_one_out')
    >>> guessed["matched"]  # item ids of orders.csv found in products.csv, of all
    (2, 2)
    """
    folder = Path(folder)
    base_config = get_recipe(base)
    if base_config.task == "impressions":
        raise ConfigError(
            f"The {base} recipe reads impression logs (MIND's news.tsv + behaviors.tsv), not "
            f"interaction tables. Fix: copy zoo/{base}/config.yaml and set data.path to your "
            "MIND-format folder, or start from --from ecommerce for (user, item, time) tables."
        )
    require_creatable_folder(folder, "Recipe folder", "choose a new recipe folder name", ConfigError)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"Recipe folder {folder} already exists and is not empty. Fix: choose a "
                          "new recipe folder name (init never overwrites).")
    guessed = guess_columns(interactions, items)
    columns, text = guessed["columns"], guessed["text_fields"]
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
    if "weight" not in columns and base_config.ranking.enabled and base_config.ranking.objective == "rating":
        overrides.append("ranking.enabled=false")  # a rating model needs ratings
    if base_config.ranking.user_profile:
        # Profiles come from a users file, which init is not given: data.users and data.user_fields add one.
        overrides.append("ranking.user_profile=false")
    config = with_overrides(base_config, overrides)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(to_yaml(config))
    return config, guessed
