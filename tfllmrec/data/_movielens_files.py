"""Parsers for the MovieLens file layouts; `movielens` finds and fetches the files."""

import csv
import re

import numpy as np
import pandas as pd

from tfllmrec.data._build import build_interactions, item_ids
from tfllmrec.data._files import closest, read_delimited, require_columns
from tfllmrec.data.dataset import Dataset
from tfllmrec.data.items import Items
from tfllmrec.data.user_profiles import UserProfiles
from tfllmrec.errors import DataError

# The order of the 19 genre flags in u.item, as listed in u.genre.
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
TEXT_FIELDS = ["title", "genres"]
# GroupLens' gender codes, as words a sentence encoder knows.
_GENDERS = {"M": "man", "F": "woman"}


def read_latest_small(base):
    """Reads ml-latest-small's ratings.csv and movies.csv from `base`."""
    fix = "this loader reads ml-latest-small's own files; check the file."
    ratings_path = base / "ratings.csv"
    ratings = read_delimited(ratings_path, ",")
    columns = {"user_id": "userId", "item_id": "movieId",
               "weight": "rating", "timestamp": "timestamp"}
    require_columns(ratings, ratings_path, {f"the {k}": v for k, v in columns.items()},
                    ratings.attrs["header_line"], fix)
    interactions = build_interactions(ratings, ratings_path, columns)
    movies_path = base / "movies.csv"
    movies = read_delimited(movies_path, ",")
    require_columns(movies, movies_path, {"the item id": "movieId", "the title": "title",
                                          "the genres": "genres"},
                    movies.attrs["header_line"], fix)
    genres = movies["genres"].str.replace("(no genres listed)", "", regex=False)
    items = Items(pd.DataFrame({
        "item_id": item_ids(movies, movies_path, "movieId"),
        "title": movies["title"].str.strip(),
        "genres": [" ".join(g.strip() for g in v.split("|") if g.strip()) for v in genres],
    }, index=movies.index), TEXT_FIELDS, source=str(movies_path))
    return Dataset("ml-latest-small", interactions, items)


def read_recbole(base):
    """Reads RecBole's atomic ml-100k.inter and ml-100k.item from `base`."""
    inter_path, item_path = base / "ml-100k.inter", base / "ml-100k.item"
    raw = read_delimited(inter_path, "\t", quoting=csv.QUOTE_NONE)
    # Atomic headers carry types ("rating:float"); match on the bare name.
    real = {str(c).split(":", 1)[0]: c for c in raw.columns}
    _require_atomic(raw, inter_path, real, ("user_id", "item_id"))
    wanted = {"user_id": "user_id", "item_id": "item_id",
              "weight": "rating", "timestamp": "timestamp"}
    interactions = build_interactions(
        raw, inter_path, {ours: real[name] for ours, name in wanted.items() if name in real}
    )
    raw = read_delimited(item_path, "\t", quoting=csv.QUOTE_NONE)
    real = {str(c).split(":", 1)[0]: c for c in raw.columns}
    _require_atomic(raw, item_path, real, ("item_id", "movie_title"))
    titles = raw[real["movie_title"]].str.strip()
    if "release_year" in real:
        # Years like "unkonwn" or "V" (video) in RecBole's copy are not years.
        titles = pd.Series([
            f"{t} ({y})" if re.fullmatch(r"\d{4}", y) and not t.endswith(f"({y})") else t
            for t, y in zip(titles, raw[real["release_year"]].str.strip())
        ], index=raw.index)
    genres = (raw[real["class"]].map(lambda v: " ".join(v.replace("|", " ").split()))
              if "class" in real else "")
    items = Items(pd.DataFrame({
        "item_id": item_ids(raw, item_path, real["item_id"]),
        "title": titles, "genres": genres,
    }, index=raw.index), TEXT_FIELDS, source=str(item_path))
    return Dataset("ml-100k", interactions, items, users=_read_recbole_users(base / "ml-100k.user"))


def _read_recbole_users(path):
    """RecBole's ml-100k.user (user_id, age, gender, occupation, zip_code), when the folder has it."""
    if not path.is_file():
        return None
    raw = read_delimited(path, "\t", quoting=csv.QUOTE_NONE)
    real = {str(c).split(":", 1)[0]: c for c in raw.columns}
    _require_atomic(raw, path, real, ("user_id", "age", "gender", "occupation"))
    return _profiles(raw, path, *(real[name] for name in ("user_id", "age", "gender", "occupation")))


def _profiles(raw, path, user, age, gender, occupation):
    """`UserProfiles` of MovieLens users: "A 24-year-old man; occupation: technician."
    (the zip code is left out: a sentence encoder reads digits poorly)."""
    ages = raw[age].str.strip()
    bad = ~ages.str.fullmatch(r"\d{1,3}").to_numpy()
    if bad.any():
        line = raw.index[np.argmax(bad)]
        raise DataError(f"{path}, line {line}, column {age!r}: age {ages[line]!r} is not a whole number of "
                        "years. Fix: correct it, or delete the users file to train without profiles.")
    texts = [f"A {a}-year-old {_GENDERS.get(g.strip(), g.strip() or 'person')}; occupation: {o.strip()}."
             for a, g, o in zip(ages, raw[gender], raw[occupation])]
    frame = pd.DataFrame({"user_id": raw[user], "profile": texts}, index=raw.index)
    return UserProfiles(frame, ["profile"], source=str(path))


def _require_atomic(raw, path, real, names):
    for name in names:
        if name not in real:
            hint = closest(name, list(real))
            guess = f" Did you mean {real[hint]!r}?" if hint is not None else ""
            raise DataError(
                f"{path}, line {raw.attrs['header_line']}: no column {name}:<type>; "
                f"the header is {list(raw.columns)}.{guess} Fix: use RecBole's ml-100k "
                "atomic files, whose headers start with user_id:token item_id:token "
                "(.inter) and item_id:token movie_title:token_seq (.item)."
            )


def read_grouplens(base):
    """Reads GroupLens' u.data, u.item (Latin-1) and optional u.genre from `base`."""
    data_path, item_path = base / "u.data", base / "u.item"
    fields = ["user id (field 1)", "item id (field 2)", "rating (field 3)",
              "timestamp (field 4)"]
    raw = read_delimited(data_path, "\t", names=fields, quoting=csv.QUOTE_NONE)
    interactions = build_interactions(raw, data_path, dict(zip(
        ("user_id", "item_id", "weight", "timestamp"), fields)))
    genres = _read_genres(base / "u.genre")
    names = ["movie id", "movie title", "release date", "video release date",
             "IMDb URL", *genres]
    raw = read_delimited(item_path, "|", names=names, encoding="latin-1",
                         quoting=csv.QUOTE_NONE)
    flags = raw[genres].apply(lambda column: column.str.strip())
    bad = ~flags.isin(["0", "1"]).to_numpy()
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{item_path}, line {raw.index[row]}, column {genres[col]!r} (field "
            f"{6 + col}): genre flag {flags.iat[row, col]!r} must be 0 or 1. Fix: "
            "correct the flag; u.item has 5 fields then one 0/1 flag per genre "
            "of u.genre."
        )
    chosen = flags.to_numpy() == "1"
    labels = np.array(genres, dtype=object)
    items = Items(pd.DataFrame({
        "item_id": item_ids(raw, item_path, "movie id"),
        "title": raw["movie title"].str.strip(),
        "genres": [" ".join(labels[row]) for row in chosen],
    }, index=raw.index), TEXT_FIELDS, source=str(item_path))
    return Dataset("ml-100k", interactions, items, users=_read_grouplens_users(base / "u.user"))


def _read_grouplens_users(path):
    """GroupLens' u.user ("user id | age | gender | occupation | zip code"), when the folder has it."""
    if not path.is_file():
        return None
    fields = ["user id (field 1)", "age (field 2)", "gender (field 3)", "occupation (field 4)",
              "zip code (field 5)"]
    raw = read_delimited(path, "|", names=fields, encoding="latin-1", quoting=csv.QUOTE_NONE)
    return _profiles(raw, path, *fields[:4])


def _read_genres(path):
    """Genre names in flag order, from u.genre ("name|index"), else the standard 19."""
    if not path.is_file():
        return list(GENRES_100K)
    raw = read_delimited(path, "|", names=["genre", "index"], encoding="latin-1",
                         quoting=csv.QUOTE_NONE)
    indexes = raw["index"].str.strip()
    expected = [str(i) for i in range(len(raw))]
    for line, index, want in zip(raw.index, indexes, expected):
        if index != want:
            raise DataError(
                f"{path}, line {line}, column 2 (index): {index!r}, expected "
                f"{want}. Fix: list genres as name|index with indexes 0, 1, 2, ... "
                "in order, or delete u.genre to use the standard 19 genres."
            )
    return [g.strip() for g in raw["genre"]]
