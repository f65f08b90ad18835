"""Loader for HetRec 2011 Last.fm-2k (`hetrec2011-lastfm-2k`)."""

import csv
from pathlib import Path

import pandas as pd

from tfllmrec.data import _fetch
from tfllmrec.data._build import build_interactions, item_ids
from tfllmrec.data._files import existing_folder, read_delimited, require_columns
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.items import Items
from tfllmrec.errors import DataError
from tfllmrec.ranges import Range

_TOP_TAGS = Range(int, 0, example=5, meaning="0: the name alone")

LASTFM_URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
LASTFM_FILES = ("artists.dat", "user_artists.dat", "tags.dat", "user_taggedartists.dat")
TEXT_FIELDS = ["name", "tags"]


def load_lastfm_2k(path=None, cache_dir=None, top_tags=5):
    """Loads Last.fm-2k: 92,834 (user, artist, play count) rows; 17,632 artists.

    Item text is the artist's name and its `top_tags` most frequent tags.
    `tags.dat` is Latin-1 (ISO-8859-1), the other files UTF-8 or ASCII; each
    is read in its own encoding.

    Args:
        path: str, Path or None. The unzipped folder; None downloads the
            GroupLens zip into `cache_dir` on first use.
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.
        top_tags: int. Tags per artist in its text.

    Returns:
        Dataset named "lastfm-2k": weight = play count; items with text
        fields ["name", "tags"]. No timestamps (the files have none for plays).

    Example:
    >>> folder = Path("lastfm"); folder.mkdir()
    >>> files = {
    ...     "artists.dat": "id\\tname\\n51\\tDuran Duran\\n52\\tMorcheeba\\n",
    ...     "user_artists.dat": "userID\\tartistID\\tweight\\n2\\t51\\t13883\\n2\\t52\\t11690\\n",
    ...     "tags.dat": "tagID\\ttagValue\\n1\\tnew wave\\n2\\ttrip-hop\\n3\\t80s\\n",
    ...     "user_taggedartists.dat": "userID\\tartistID\\ttagID\\n2\\t51\\t1\\n2\\t51\\t3\\n2\\t52\\t2\\n",
    ... }
    >>> for name, text in files.items():
    ...     _ = (folder / name).write_text(text)
    >>> dataset = load_lastfm_2k("lastfm")
    >>> dataset.items.texts().tolist()
    ['Duran Duran. new wave, 80s', 'Morcheeba. trip-hop']
    >>> dataset.interactions.frame["weight"].tolist()  # play counts
    [13883.0, 11690.0]
    """
    _TOP_TAGS.check(top_tags, "top_tags")
    folder = existing_folder(path) if path is not None else _download(cache_dir)
    missing = [f for f in LASTFM_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{folder} lacks {missing}. Fix: pass the unzipped hetrec2011-lastfm-2k "
            f"folder (from {LASTFM_URL})."
        )
    plays_path = folder / "user_artists.dat"
    plays = read_delimited(plays_path, "\t", quoting=csv.QUOTE_NONE)
    columns = {"user_id": "userID", "item_id": "artistID", "weight": "weight"}
    require_columns(plays, plays_path, {f"the {k}": v for k, v in columns.items()},
                    plays.attrs["header_line"])
    interactions = build_interactions(plays, plays_path, columns)

    artists_path = folder / "artists.dat"
    artists = read_delimited(artists_path, "\t", quoting=csv.QUOTE_NONE)
    require_columns(artists, artists_path, {"the artist id": "id", "the name": "name"},
                    artists.attrs["header_line"])
    ids = item_ids(artists, artists_path, "id")
    tags = _artist_tags(folder, top_tags)
    items = Items(pd.DataFrame({
        "item_id": ids,
        "name": artists["name"].str.strip(),
        "tags": [tags.get(i, "") for i in ids],
    }, index=artists.index), TEXT_FIELDS, source=str(artists_path))
    return Dataset("lastfm-2k", interactions, items)


def _artist_tags(folder, top_tags):
    """Artist id -> its most frequent tags, joined by ", "."""
    tags_path = folder / "tags.dat"
    tags = read_delimited(tags_path, "\t", encoding="latin-1", quoting=csv.QUOTE_NONE)
    require_columns(tags, tags_path, {"the tag id": "tagID", "the tag": "tagValue"},
                    tags.attrs["header_line"])
    names = dict(zip(tags["tagID"].str.strip(), tags["tagValue"].str.strip()))
    assigned_path = folder / "user_taggedartists.dat"
    assigned = read_delimited(assigned_path, "\t", quoting=csv.QUOTE_NONE)
    require_columns(assigned, assigned_path, {"the artist id": "artistID", "the tag id": "tagID"},
                    assigned.attrs["header_line"])
    counts = assigned.groupby([assigned["artistID"].str.strip(), assigned["tagID"].str.strip()]).size()
    counts = counts.reset_index(name="n").sort_values(["artistID", "n", "tagID"],
                                                      ascending=[True, False, True])
    top = counts.groupby("artistID").head(top_tags)
    return {artist: ", ".join(names.get(t, "") for t in group["tagID"] if names.get(t))
            for artist, group in top.groupby("artistID")}


def _download(cache_dir):
    cache = _fetch.cache_folder(cache_dir)
    folder = cache / "lastfm-2k"
    if all((folder / f).is_file() for f in LASTFM_FILES):
        return folder
    try:
        # The HetRec zip holds its .dat files at the top level, not in a folder.
        _fetch.fetch_zip(LASTFM_URL, None, cache, "lastfm-2k", LASTFM_FILES, _fetch.download, inner="")
    except (OSError, DataError) as error:
        raise DataError(
            f"Could not download {LASTFM_URL} ({error}). Fix: download it, unzip it, and "
            "pass the folder: load_lastfm_2k(path='.../hetrec2011-lastfm-2k')."
        ) from None
    return folder
