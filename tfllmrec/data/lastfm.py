"""Loader for HetRec 2011 Last.fm-2k (`hetrec2011-lastfm-2k`)."""

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from tfllmrec.data import _fetch
from tfllmrec.data._build import build_interactions, item_ids
from tfllmrec.data._files import existing_folder, read_delimited, require_columns
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.items import Items
from tfllmrec.errors import DataError
from tfllmrec.ranges import Range

_TOP_TAGS = Range(int, 0, example=5, meaning="0: the name alone")
_HELD_OUT = Range(int, 0, example=200, meaning="0: none")

# A tag is a query when it describes artists for more than one listener: on
# at least 10 artists (a relevant set NDCG@10 can fill), by at least 3 users
# (1,392 tags, spellings merged, reach 10 artists, but 504 of them are one
# user's private label: "songs for gil", "4m4zinq"). 758 Last.fm-2k tags qualify.
QUERY_MIN_ARTISTS = 10
QUERY_MIN_USERS = 3
QUERY_SEED = 2011

LASTFM_URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
LASTFM_FILES = ("artists.dat", "user_artists.dat", "tags.dat", "user_taggedartists.dat")
TEXT_FIELDS = ["name", "tags"]


def load_lastfm_2k(path=None, cache_dir=None, top_tags=5, held_out_tags=0):
    """Loads Last.fm-2k: 92,834 (user, artist, play count) rows; 17,632 artists.

    Item text is the artist's name and its `top_tags` most frequent tags.
    `tags.dat` is Latin-1 (ISO-8859-1), the other files UTF-8 or ASCII; each
    is read in its own encoding.

    With `held_out_tags`, the tags `tag_queries` draws as free-text search
    queries are removed from every artist's text, in every spelling
    (`tag_key`), and the artist's next most frequent tags fill their places:
    a search for "post-punk" must then find post-punk artists by their other
    tags and names, not by the word itself.

    Args:
        path: str, Path or None. The unzipped folder; None downloads the
            GroupLens zip into `cache_dir` on first use.
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.
        top_tags: int. Tags per artist in its text.
        held_out_tags: int. How many query tags (`tag_queries(path,
            held_out_tags)`) to leave out of the texts; 0: none.

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
    _HELD_OUT.check(held_out_tags, "held_out_tags")
    folder = existing_folder(path) if path is not None else _download(cache_dir)
    _require_files(folder)
    interactions = _plays(folder)
    artists, ids = _artists(folder, {"the artist id": "id", "the name": "name"})
    assigned = _tag_assignments(folder, ids)
    held_out = {tag_key(t) for t in _draw_queries(assigned, held_out_tags, folder)}
    tags = _artist_tags(assigned[~assigned["key"].isin(held_out)], top_tags)
    items = Items(pd.DataFrame({
        "item_id": ids,
        "name": artists["name"].str.strip(),
        "tags": [tags.get(i, "") for i in ids],
    }, index=artists.index), TEXT_FIELDS, source=str(folder / "artists.dat"))
    return Dataset("lastfm-2k", interactions, items)


def tag_queries(path, count):
    """The free-text search benchmark's queries: `count` Last.fm tags and their artists.

    A tag is eligible when users applied it, in any spelling (`tag_key`), to
    at least `QUERY_MIN_ARTISTS` artists of `artists.dat` and at least
    `QUERY_MIN_USERS` users applied it; `count` of the eligible tags are drawn
    with the fixed seed `QUERY_SEED`, so the same files give the same queries.
    `load_lastfm_2k(path, held_out_tags=count)` removes exactly these tags
    from the artists' texts.

    Args:
        path: str or Path. The unzipped hetrec2011-lastfm-2k folder.
        count: int. How many queries (>= 0).

    Returns:
        dict: query text (the tag's most applied spelling) -> tuple of the
        ids of the artists tagged with it, queries in `tag_key` order.

    Raises:
        DataError: a file is missing or malformed, or fewer than `count`
            tags are eligible.

    Example:
    >>> folder = Path("tagged"); folder.mkdir()
    >>> # 12 artists; 3 users tag each "post-punk" (or "Post Punk"), 1 user "dub".
    >>> rows = [f"{u}\\t{a}\\t{1 + (u == 3)}\\n" for a in range(12) for u in (1, 2, 3)]
    >>> files = {"artists.dat": "id\\tname\\n" + "".join(f"{a}\\tband {a}\\n" for a in range(12)),
    ...          "user_artists.dat": "userID\\tartistID\\tweight\\n1\\t0\\t5\\n",
    ...          "tags.dat": "tagID\\ttagValue\\n1\\tpost-punk\\n2\\tPost Punk\\n3\\tdub\\n",
    ...          "user_taggedartists.dat": "userID\\tartistID\\ttagID\\n" + "".join(rows)
    ...                                    + "".join(f"1\\t{a}\\t3\\n" for a in range(12))}
    >>> for name, text in files.items():
    ...     _ = (folder / name).write_text(text)
    >>> queries = tag_queries(folder, 1)
    >>> list(queries), len(queries["post-punk"])
    (['post-punk'], 12)
    >>> load_lastfm_2k(folder).items.texts()[:1].tolist()
    ['band 0. post-punk, Post Punk, dub']
    >>> load_lastfm_2k(folder, held_out_tags=1).items.texts()[:1].tolist()  # both spellings held out
    ['band 0. dub']
    """
    _HELD_OUT.check(count, "held_out_tags")
    folder = existing_folder(path)
    _require_files(folder)
    _, ids = _artists(folder, {"the artist id": "id"})
    return _draw_queries(_tag_assignments(folder, ids), count, folder)


def tag_key(tag):
    """A tag's spelling-free form: lower case, letters and digits only.

    >>> tag_key("Post-Punk"), tag_key("post punk"), tag_key("80's")
    ('postpunk', 'postpunk', '80s')
    """
    return re.sub(r"[\W_]+", "", str(tag).lower())


def _draw_queries(assigned, count, folder):
    """`count` eligible tags of `assigned` (see `tag_queries`), drawn with `QUERY_SEED`."""
    _HELD_OUT.check(count, "held_out_tags")
    if count == 0:
        return {}
    named = assigned[assigned["key"] != ""]
    per_key = named.groupby("key").agg(artists=("artistID", "nunique"), users=("userID", "nunique"))
    eligible = sorted(per_key.index[(per_key["artists"] >= QUERY_MIN_ARTISTS)
                                    & (per_key["users"] >= QUERY_MIN_USERS)])
    if count > len(eligible):
        raise DataError(
            f"held_out_tags={count} is more than the {len(eligible)} tags of {folder} that can be "
            f"queries (applied to >= {QUERY_MIN_ARTISTS} artists by >= {QUERY_MIN_USERS} users). "
            f"Fix: hold out at most {len(eligible)} tags (`--set data.held_out_tags=N` in a recipe)."
        )
    drawn = np.random.default_rng(QUERY_SEED).choice(len(eligible), size=count, replace=False)
    keys = sorted(eligible[i] for i in drawn)
    chosen = named[named["key"].isin(keys)]
    spellings = (chosen.groupby(["key", "tag"]).size().reset_index(name="n")
                 .sort_values(["key", "n", "tag"], ascending=[True, False, True])
                 .drop_duplicates("key").set_index("key")["tag"])
    artists = chosen.groupby("key")["artistID"].unique()
    return {spellings[k]: tuple(sorted(artists[k])) for k in keys}


def _plays(folder):
    """user_artists.dat as `Interactions`: weight = play count."""
    path = folder / "user_artists.dat"
    plays = read_delimited(path, "\t", quoting=csv.QUOTE_NONE)
    columns = {"user_id": "userID", "item_id": "artistID", "weight": "weight"}
    require_columns(plays, path, {f"the {k}": v for k, v in columns.items()}, plays.attrs["header_line"])
    return build_interactions(plays, path, columns)


def _artists(folder, wanted):
    """(artists.dat as read, its artist ids); `wanted`: the columns it must have."""
    path = folder / "artists.dat"
    artists = read_delimited(path, "\t", quoting=csv.QUOTE_NONE)
    require_columns(artists, path, wanted, artists.attrs["header_line"])
    return artists, item_ids(artists, path, "id")


def _tag_assignments(folder, artist_ids):
    """Tag assignments of catalogue artists: userID, artistID, tagID, tag, key (`tag_key`)."""
    tags_path = folder / "tags.dat"
    tags = read_delimited(tags_path, "\t", encoding="latin-1", quoting=csv.QUOTE_NONE)
    require_columns(tags, tags_path, {"the tag id": "tagID", "the tag": "tagValue"},
                    tags.attrs["header_line"])
    names = dict(zip(tags["tagID"].str.strip(), tags["tagValue"].str.strip()))
    assigned_path = folder / "user_taggedartists.dat"
    assigned = read_delimited(assigned_path, "\t", quoting=csv.QUOTE_NONE)
    require_columns(assigned, assigned_path, {"the user id": "userID", "the artist id": "artistID",
                                              "the tag id": "tagID"}, assigned.attrs["header_line"])
    frame = pd.DataFrame({column: assigned[column].str.strip()
                          for column in ("userID", "artistID", "tagID")})
    frame["tag"] = frame["tagID"].map(names).fillna("")
    frame = frame[(frame["tag"] != "") & frame["artistID"].isin(set(artist_ids))]
    keys = {tag_id: tag_key(tag) for tag_id, tag in names.items()}  # per tag, not per row
    return frame.assign(key=frame["tagID"].map(keys))


def _artist_tags(assigned, top_tags):
    """Artist id -> its `top_tags` most frequent tags in `assigned`, joined by ", "."""
    counts = assigned.groupby(["artistID", "tagID"]).size().reset_index(name="n")
    counts = counts.sort_values(["artistID", "n", "tagID"], ascending=[True, False, True])
    names = dict(zip(assigned["tagID"], assigned["tag"]))
    top = counts.groupby("artistID").head(top_tags)
    return {artist: ", ".join(names[t] for t in group["tagID"]) for artist, group in top.groupby("artistID")}


def _require_files(folder):
    missing = [f for f in LASTFM_FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{folder} lacks {missing}. Fix: pass the unzipped hetrec2011-lastfm-2k "
            f"folder (from {LASTFM_URL})."
        )


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
