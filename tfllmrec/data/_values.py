"""Column parsers shared by the loaders and the table classes.

Each takes a pandas Series whose index names the row (see `_files.where`), and
raises DataError naming the first bad row, the column and the fix.
"""

import numpy as np
import pandas as pd

from tfllmrec.data._files import place, where
from tfllmrec.errors import DataError

# Unix seconds stay below 1e11 until the year 5138, and milliseconds pass it
# in 1973, so one threshold tells the units of any realistic timestamp.
MILLISECONDS_ABOVE = 1e11
# What str(), pandas and SQL exports write for a missing value: never an id.
MISSING_MARKERS = ("nan", "NaN", "NAN", "None", "NaT", "<NA>", "null", "NULL")


def _first(series, mask):
    position = int(np.argmax(np.asarray(mask, dtype=bool)))
    label, value = series.index[position], series.iloc[position]
    # numpy 2 reprs scalars as np.float64(...); messages show plain values.
    return (label.item() if isinstance(label, np.generic) else label,
            value.item() if isinstance(value, np.generic) else value)


def _at(series, source, column, label):
    return where(source, series.index.name, label, column)


def parse_ids(series, source, column):
    """Returns ids as strings; integral floats lose their ".0".

    Raises:
        DataError: an id is missing, blank, or a fractional number.
    """
    missing = series.isna().to_numpy()
    if missing.any():
        label, _ = _first(series, missing)
        raise DataError(
            f"{_at(series, source, column, label)}: the id is missing. Fix: "
            "fill it in or drop that row."
        )
    if pd.api.types.is_float_dtype(series.dtype):
        fractional = (series != np.floor(series)).to_numpy()
        if fractional.any():
            label, value = _first(series, fractional)
            raise DataError(
                f"{_at(series, source, column, label)}: id {value!r} is a "
                "fractional number. Fix: ids must be strings or whole numbers; "
                "read the column as text (dtype=str)."
            )
        series = series.astype("int64")
    elif pd.api.types.infer_dtype(series, skipna=True) not in ("string", "empty"):
        # Mixed object columns (e.g. ints and floats from a spreadsheet).
        series = series.map(
            lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else v
        )
    text = series.astype(str)
    blank = (text.str.strip() == "").to_numpy()
    if blank.any():
        label, _ = _first(text, blank)
        raise DataError(
            f"{_at(series, source, column, label)}: the id is empty. Fix: fill "
            "it in or drop that row."
        )
    marker = text.str.strip().isin(MISSING_MARKERS).to_numpy()
    if marker.any():
        label, value = _first(text, marker)
        raise DataError(
            f"{_at(series, source, column, label)}: id {value!r} is how Python, "
            "pandas or SQL write a missing value, not an id (the file was "
            "probably written from a table with gaps). Fix: fill in the real id "
            "or drop that row."
        )
    return text


def parse_weights(series, source, column):
    """Returns float64 weights: numeric, finite and >= 0.

    Raises:
        DataError: naming the first empty, non-numeric, infinite or negative value.
    """
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        values = series.astype("float64")
        empty = series.isna().to_numpy()
        unparsed = np.zeros(len(series), dtype=bool)
    else:
        stripped = series.astype("object").map(
            lambda v: v.strip() if isinstance(v, str) else v
        )
        empty = (stripped.isna() | (stripped == "")).to_numpy()
        values = pd.to_numeric(stripped.mask(empty), errors="coerce").astype("float64")
        unparsed = values.isna().to_numpy() & ~empty
    fix = "Fix: weights must be numbers >= 0; correct the value or drop that row."
    if empty.any():
        label, _ = _first(series, empty)
        raise DataError(f"{_at(series, source, column, label)}: the weight is empty. {fix}")
    if unparsed.any():
        label, value = _first(series, unparsed)
        raise DataError(
            f"{_at(series, source, column, label)}: weight {value!r} is not a number. {fix}"
        )
    array = values.to_numpy()
    for bad, what in ((~np.isfinite(array), "is not finite"), (array < 0, "is negative")):
        if bad.any():
            label, value = _first(values, bad)
            raise DataError(
                f"{_at(series, source, column, label)}: weight {value!r} {what}. {fix}"
            )
    return values


def parse_timestamps(series, source, column):
    """Returns Unix seconds as pandas nullable Int64; unknown values are NA.

    Accepts integer or fractional seconds (fractions are floored), integer
    milliseconds (any value above 1e11; a column mixing both units is an
    error), datetimes, and ISO 8601 strings (naive ones are taken as UTC).
    Empty strings and nulls become NA.

    Raises:
        DataError: mixed units, or a value that is neither a number nor a date.
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _datetimes_to_seconds(series)
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return _numbers_to_seconds(series.astype("float64"), source, column)
    text = series.astype("object").map(lambda v: v.strip() if isinstance(v, str) else v)
    known = ~(text.isna() | (text == "")).to_numpy()
    numbers = pd.to_numeric(text.where(known), errors="coerce")
    numeric = numbers.notna().to_numpy()
    if (known & ~numeric).any() and numeric.any():
        date_label, date_value = _first(text, known & ~numeric)
        number_label, number_value = _first(text, numeric)
        raise DataError(
            f"{_at(series, source, column, number_label)} holds the number "
            f"{number_value!r} but {_at(series, source, column, date_label)} "
            f"holds {date_value!r}: the column mixes Unix times and dates. Fix: "
            "write every timestamp the same way (Unix seconds, or ISO dates "
            "like 2020-01-31T12:00:00)."
        )
    if numeric.any() or not known.any():
        return _numbers_to_seconds(numbers.astype("float64"), source, column)
    parsed = pd.to_datetime(text.where(known), format="ISO8601", utc=True, errors="coerce")
    failed = known & parsed.isna().to_numpy()
    if failed.any():
        label, value = _first(text, failed)
        raise DataError(
            f"{_at(series, source, column, label)}: {value!r} is neither a Unix "
            "time nor an ISO 8601 date. Fix: use Unix seconds (e.g. 964982703) "
            "or ISO dates (e.g. 2000-07-30 or 2000-07-30T18:45:03Z)."
        )
    return _datetimes_to_seconds(parsed)


def _numbers_to_seconds(values, source, column):
    array = values.to_numpy()
    known = ~np.isnan(array)
    infinite = known & ~np.isfinite(array)
    if infinite.any():
        label, value = _first(values, infinite)
        raise DataError(
            f"{_at(values, source, column, label)}: timestamp {value!r} is not "
            "finite. Fix: correct it, or leave it empty when unknown."
        )
    millis = known & (np.abs(array) > MILLISECONDS_ABOVE)
    seconds = known & ~millis
    if millis.any() and seconds.any():
        ms_label, ms_value = _first(values, millis)
        s_label, s_value = _first(values, seconds)
        raise DataError(
            f"{_at(values, source, column, s_label)} holds {s_value:.0f} (Unix "
            f"seconds) but {_at(values, source, column, ms_label)} holds "
            f"{ms_value:.0f} (milliseconds, above 1e11): the column mixes units. "
            "Fix: convert the column to one unit (divide milliseconds by 1000)."
        )
    if millis.any():
        array = array / 1000.0
    result = pd.array(np.floor(np.where(known, array, 0)).astype("int64"), dtype="Int64")
    result[~known] = pd.NA
    return pd.Series(result, index=values.index, name=values.name)


def _datetimes_to_seconds(series):
    if series.dt.tz is None:
        series = series.dt.tz_localize("UTC")
    known = series.notna().to_numpy()
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    seconds = np.zeros(len(series), dtype="int64")
    seconds[known] = (series[known] - epoch) // pd.Timedelta(seconds=1)
    result = pd.array(seconds, dtype="Int64")
    result[~known] = pd.NA
    return pd.Series(result, index=series.index, name=series.name)


def check_unique(ids, source, column):
    """Raises DataError naming both rows of the first duplicated id."""
    duplicated = ids.duplicated(keep=False).to_numpy()
    if not duplicated.any():
        return
    label, value = _first(ids, duplicated)
    same = ids[duplicated & (ids == value).to_numpy()].index
    second = same[1].item() if isinstance(same[1], np.generic) else same[1]
    count = int(ids.duplicated().sum())
    name = ids.index.name
    raise DataError(
        f"{source}, column {column!r}: item id {value!r} appears on "
        f"{place(name, label)} and on {place(name, second)} ({count} duplicate "
        "row(s) in all). Fix: keep one row per item, e.g. "
        "frame.drop_duplicates('item_id')."
    )
