"""Loader for Amazon Office in ReChorus format, as the LRD repository ships it.

LRD (github.com/ysh-1998/LRD, `data/Office/`) preprocessed the Amazon-2014
Office Products 5-core reviews ReChorus-style: users and items re-indexed
from 1, a leave-one-out split into train.csv / dev.csv / test.csv, and 99
sampled negatives per dev and test row. Item text (title, leaf category and
brand) is in Office.text, keyed by ASIN; Office.item2index maps ASINs to ids.
"""

import csv
import json
from pathlib import Path

import pandas as pd

from tfllmrec.data import _fetch
from tfllmrec.data._build import build_interactions, item_ids
from tfllmrec.data._files import LINE, ROW, existing_folder, read_delimited, require_columns, where
from tfllmrec.data._values import check_unique
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.interactions import Interactions
from tfllmrec.data.items import Items
from tfllmrec.data.movielens import _complete
from tfllmrec.data.split import Split
from tfllmrec.errors import DataError

NAME = "amazon-office"
BASE_URL = ("https://raw.githubusercontent.com/ysh-1998/LRD/"
            "ccbd8299c71bb0d26488d67b622706caf9139e21/data/Office/")
FILES = {
    "Office.text": "01dd6eaf5ff1048e49e9936e2a2651ed",
    "Office.item2index": "44dcc1603ffc73cb69f097916d6ab57f",
    "train.csv": "334c0de3b574d3a001f3f751eb8e4c18",
    "dev.csv": "faeea71244964d5bf8bc6ac6dae4655c",
    "test.csv": "c2976810ba9504674a0885a3f136b7a4",
}
PARTS = {"train": "train.csv", "valid": "dev.csv", "test": "test.csv"}
_COLUMNS = {"user_id": "user_id", "item_id": "item_id", "timestamp": "time"}


def _download(url, dest):
    """Fetches `url` into the file `dest` (a module function so tests can replace it)."""
    _fetch.download(url, dest)


def load_amazon_office(path=None, cache_dir=None):
    """Loads Amazon Office (ReChorus files): 53,258 interactions, 4,905 users, 2,420 items.

    The split is the one shipped: train/valid/test are exactly the rows of
    train.csv/dev.csv/test.csv (43,448/4,905/4,905; one dev and one test row
    per user), each part indexed by its file's line numbers so errors point
    at the line. `interactions` is all three files together, indexed by row
    1..53,258 in the order train, dev, test. A user with two test rows would
    be kept (and evaluated twice); the shipped files have none. Negatives
    may repeat within a row (ReChorus samples with replacement) and are
    kept as shipped.

    Args:
        path: str, Path or None. A folder with Office.text, Office.item2index,
            train.csv, dev.csv and test.csv; None downloads LRD's copy (commit
            ccbd829, md5-checked) into `cache_dir` on first use.
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.

    Returns:
        Dataset named "amazon-office": item ids "1".."2420" with the text
        field "text" and the ASIN as the categorical field "asin";
        timestamps in Unix seconds (day resolution), weight 1.0; `split` as
        shipped; `negatives` = {"valid", "test": DataFrame of user_id,
        item_id (the positive) and negatives (list of 99 item ids)}.

    Raises:
        DataError: a file is missing or malformed (naming file and line), an
            item id is unknown, or a negatives list is empty, not integers,
            names an unknown item or the row's own item.

    Example:
    >>> folder = Path("office"); folder.mkdir()
    >>> header = "user_id\\titem_id\\ttime"
    >>> files = {"Office.text": "id\\ttext\\nB01\\tRed pen\\nB02\\tStapler\\nB03\\tInk\\n",
    ...          "Office.item2index": "B01\\t1\\nB02\\t2\\nB03\\t3\\n",
    ...          "train.csv": f"{header}\\n1\\t1\\t1400000000\\n",
    ...          "dev.csv": f"{header}\\tneg_items\\n1\\t2\\t1400086400\\t[3]\\n",
    ...          "test.csv": f"{header}\\tneg_items\\n1\\t3\\t1400172800\\t[1, 2]\\n"}
    >>> for name, text in files.items():
    ...     _ = (folder / name).write_text(text)
    >>> dataset = load_amazon_office("office")
    >>> dataset.split.sizes, dataset.negatives["test"]["negatives"].tolist()
    ((1, 1, 1), [['1', '2']])
    >>> dataset.items.texts(["1"]).tolist()
    ['Red pen']
    """
    folder = dataset_folder(path, cache_dir, NAME, BASE_URL, FILES, _download)
    items = _read_items(folder)
    parts, negatives = {}, {}
    for part, name in PARTS.items():
        file = folder / name
        raw = read_delimited(file, "\t", quoting=csv.QUOTE_NONE)
        wanted = dict(_COLUMNS, **({} if part == "train" else {"negatives": "neg_items"}))
        require_columns(raw, file, {f"the {k}": v for k, v in wanted.items()},
                        raw.attrs["header_line"])
        parts[part] = build_interactions(raw, file, _COLUMNS)
        # Checked per file, so an unknown item is reported with its file and line.
        Dataset(NAME, parts[part], items)
        if part != "train":
            negatives[part] = _read_negatives(raw, file, parts[part], items)
    combined = pd.concat([p.frame for p in parts.values()], ignore_index=True)
    combined.index = pd.RangeIndex(1, len(combined) + 1, name=ROW)
    source = f"{folder / 'train.csv'}, dev.csv and test.csv (rows numbered across all three)"
    interactions = Interactions(combined, source=source)
    return Dataset(NAME, interactions, items, split=Split(**parts), negatives=negatives)


def _read_items(folder):
    index_path, text_path = folder / "Office.item2index", folder / "Office.text"
    mapping = read_delimited(index_path, "\t", names=["asin", "item_id"], quoting=csv.QUOTE_NONE)
    ids = item_ids(mapping, index_path, "item_id")
    asins = mapping["asin"].str.strip()
    check_unique(asins, str(index_path), "asin")
    texts = read_delimited(text_path, "\t", quoting=csv.QUOTE_NONE)
    require_columns(texts, text_path, {"the ASIN": "id", "the text": "text"},
                    texts.attrs["header_line"])
    text_ids = texts["id"].str.strip()
    check_unique(text_ids, str(text_path), "id")
    lacking = ~asins.isin(text_ids).to_numpy()
    if lacking.any():
        raise DataError(
            f"{where(index_path, LINE, int(mapping.index[lacking][0]))}: ASIN "
            f"{asins[lacking].iloc[0]!r} has no row in {text_path} ({int(lacking.sum())} "
            "ASIN(s) lack one). Fix: use matching copies of both files (their md5s "
            "are in rechorus.FILES)."
        )
    frame = pd.DataFrame({"item_id": ids, "text": asins.map(dict(zip(text_ids, texts["text"]))),
                          "asin": asins}, index=mapping.index)
    return Items(frame, ["text"], ["asin"], source=str(index_path))


def _read_negatives(raw, file, part, items):
    """The neg_items column as lists of item ids (str), checked row by row."""
    known = set(items.ids)
    lists = []
    for line, text, positive in zip(raw.index, raw["neg_items"], part.frame["item_id"]):
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        ids = [str(v) for v in values] if isinstance(values, list) else []
        if not ids or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            problem = f"{text[:60]!r} is not a non-empty list of integer item ids"
        elif positive in ids:
            problem = f"the negatives include the row's own item {positive}"
        elif not known.issuperset(ids):
            problem = f"negative item {next(i for i in ids if i not in known)} is unknown"
        else:
            lists.append(ids)
            continue
        raise DataError(
            f"{where(file, LINE, int(line), 'neg_items')}: {problem}. Fix: write a "
            "list like [12, 7, 301] of ids from Office.item2index, none of them "
            "the row's item_id, or download the files again."
        )
    return pd.DataFrame({"user_id": part.frame["user_id"], "item_id": part.frame["item_id"],
                         "negatives": lists}, index=raw.index)


def dataset_folder(path, cache_dir, name, base_url, files, download_fn):
    """The folder holding `files`: `path`, or the cached download of `base_url + file`.

    Each file is md5-checked inside a temporary folder, which is renamed to
    `cache/name` only when all are; see `_fetch`.

    Args:
        path: str, Path or None. A local folder; None uses the cache.
        cache_dir: str, Path or None. The cache; None is the default one.
        name: str. The cache subfolder and the dataset's name in messages.
        base_url: str. Ends with "/"; each file's URL is base_url + its name.
        files: dict. File name -> md5.
        download_fn: callable(url, dest). Does each transfer.

    Raises:
        DataError: `path` lacks a file, or the download failed.
    """
    if path is not None:
        folder = existing_folder(path)
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise DataError(
                f"{folder} lacks {', '.join(missing)}. Fix: pass the folder holding "
                f"all of {', '.join(files)} (from {base_url}), or path=None to download them."
            )
        return folder
    cache = _fetch.cache_folder(cache_dir)
    target = cache / name
    if _complete(target, files):
        return target
    try:
        with _fetch.temporary_folder(cache) as tmp:
            out = Path(tmp) / name
            out.mkdir()
            for file, md5 in files.items():
                download_fn(base_url + file, out / file)
                if _fetch.md5_of(out / file) != md5:
                    raise DataError(
                        f"{base_url + file}: md5 {_fetch.md5_of(out / file)}, expected {md5}"
                    )
            _fetch.publish(out, target, lambda p: _complete(p, files))
    except (OSError, DataError) as error:
        raise DataError(
            f"Could not download {name} from {base_url} ({error}). Fix: retry, or "
            f"download {', '.join(files)} by hand into one folder and pass it as path=."
        ) from None
    return target
