"""Reads delimited text files into string DataFrames with exact line numbers.

Every frame returned here is indexed by the 1-based line number at which each
record starts in the file (the header is line 1), so that any later check can
point a user at the line to open in an editor. The `csv` module is used rather
than `pandas.read_csv` because it reports where each record ends, which stays
exact across blank lines and quoted fields that span lines.
"""

import csv
import difflib
import io
from pathlib import Path

import pandas as pd

from tfllmrec.errors import DataError

LINE = "line"  # index name: 1-based line numbers in a text file
ROW = "row"  # index name: 1-based data-row numbers (Parquet has no lines)
_BOM = b"\xef\xbb\xbf"
_SEPARATOR_NAMES = {",": "comma", "\t": "tab", "|": "'|'", ";": "';'"}


def place(index_name, label):
    """Formats a row's position: `line 7`, `row 7` or `row with index label 7`."""
    if index_name == LINE:
        return f"line {label}"
    if index_name == ROW:
        return f"row {label}"
    return f"row with index label {label!r}"


def where(source, index_name, label, column=None):
    """Formats a location: `file, line 7, column 'qty'`."""
    text = f"{source}, {place(index_name, label)}"
    return f"{text}, column {column!r}" if column is not None else text


def closest(name, options):
    """The option most like `name`, or None; case-only differences win."""
    for option in options:
        if str(option).lower() == str(name).lower():
            return option
    found = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return found[0] if found else None


def require_columns(frame, source, wanted, header_line=1, fix=None):
    """Raises DataError unless every column in `wanted` is in `frame`.

    Args:
        frame: pandas.DataFrame. The table read from `source`.
        source: str. The file, for messages.
        wanted: dict. Maps how the caller names each column (e.g.
            "columns['weight']") to the column name expected in the file.
        header_line: int or None. The header's line number, when there is one.
        fix: str or None. The advice to give; by default, to name another
            column or rename the file's column.
    """
    present = [str(c) for c in frame.columns]
    for role, name in wanted.items():
        if name in frame.columns:
            continue
        hint = closest(name, present)
        guess = f" Did you mean {hint!r}?" if hint is not None else ""
        if len(present) == 1 and any(d in present[0] for d in ",\t;|"):
            guess += (" The header was read as one column: check the delimiter "
                      "(e.g. pass delimiter=... or fix the file's suffix).")
        at = f"{source}, line {header_line}" if header_line else str(source)
        advice = fix or (f"name one of those columns for {role}, or rename "
                         "the column in the file.")
        raise DataError(
            f"{at}: there is no column {name!r} ({role}). The file's columns "
            f"are: {', '.join(repr(p) for p in present)}.{guess} Fix: {advice}"
        )


def require_file(path):
    """`Path(path)` if it is a file; else a DataError saying what it is instead."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise DataError(
            f"{path} {what}. Fix: check the path (relative paths start at "
            f"{Path.cwd()})."
        )
    return path


def existing_folder(path):
    """`Path(path)` if it is a folder; else a DataError saying what it is instead."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(
            f"{folder} {what}. Fix: pass the folder that holds the dataset's files "
            "(unzip a downloaded .zip first)."
        )
    return folder


def read_text(path, encoding="utf-8"):
    """Returns the file's text; a UTF-8 byte-order mark is dropped.

    Raises:
        DataError: the file is missing, empty, or not valid in `encoding`.
    """
    path = require_file(path)
    raw = path.read_bytes()
    if not raw:
        raise DataError(
            f"{path} is empty (0 bytes). Fix: point at the complete file; an "
            "interrupted download or export leaves empty files behind."
        )
    skipped = len(_BOM) if encoding == "utf-8" and raw.startswith(_BOM) else 0
    try:
        return raw[skipped:].decode(encoding)
    except UnicodeDecodeError as error:
        offset = skipped + error.start
        line = raw.count(b"\n", 0, offset) + 1
        column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
        byte = raw[offset : offset + 1].hex()
        raise DataError(
            f"{path}, line {line}: byte 0x{byte} at byte offset {offset} (byte "
            f"{column} of that line) is not valid UTF-8. Fix: re-encode the "
            f"file as UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > "
            f"{path.stem}.utf8{path.suffix}` when it is Latin-1 (Excel on "
            "Windows often writes cp1252: use -f cp1252)."
        ) from None


def read_delimited(path, sep, *, names=None, encoding="utf-8", quoting=csv.QUOTE_MINIMAL):
    """Reads a delimited text file into a DataFrame of strings.

    Blank lines are skipped. Every record must have as many fields as the
    header (or as `names`, for a file without a header).

    Args:
        path: str or Path. The file.
        sep: str. One-character delimiter.
        names: list of str or None. Column names for a file without a header
            line; None means the first non-blank line is the header.
        encoding: str. "utf-8" (a byte-order mark is fine) or "latin-1".
        quoting: int. A `csv.QUOTE_*` constant; QUOTE_NONE for formats whose
            fields may contain a bare double quote.

    Returns:
        pandas.DataFrame of str, indexed by line number (index name "line");
        `frame.attrs["header_line"]` is the header's line number, or None.

    Example:
    >>> _ = open("ratings.csv", "w").write("user,item,rating\\n\\nu1,i7,5\\nu2,i3,4\\n")
    >>> frame = read_delimited("ratings.csv", ",")
    >>> frame
         user item rating
    line
    3      u1   i7      5
    4      u2   i3      4
    >>> frame.attrs["header_line"]
    1
    """
    path = Path(path)
    text = read_text(path, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
    sep_name = _SEPARATOR_NAMES.get(sep, repr(sep))
    header, header_line = (list(names), None) if names is not None else (None, None)
    rows, lines, previous_end = [], [], 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            # A blank line; a line of bare delimiters is a row of empty fields.
            if len(record) <= 1 and not "".join(record).strip():
                continue
            if header is None:
                header, header_line = [f.strip() for f in record], start
                _check_header(path, header, header_line)
                continue
            if len(record) != len(header):
                _raise_field_count(path, start, record, header, header_line, sep_name)
            rows.append(record)
            lines.append(start)
    except csv.Error as error:
        start = previous_end + 1  # the record being read when the error came
        span = (f"line {start}" if reader.line_num <= start
                else f"the record starting on line {start} (read up to line {reader.line_num})")
        if "field larger than field limit" in str(error):
            raise DataError(
                f"{path}, {span}: a field is longer than {csv.field_size_limit():,} "
                "characters, the most a field may hold. Fix: if a quoted field is "
                "not closed, close it (an opening '\"' without its closing '\"' "
                "swallows the lines after it); otherwise shorten the field: item "
                "texts are cut to the encoder's sequence length anyway."
            ) from None
        raise DataError(
            f"{path}, {span}: {error}. Fix: remove NUL bytes and close every "
            "quoted field (a field that starts with '\"' must end with '\"')."
        ) from None
    if quoting != csv.QUOTE_NONE and rows and lines[-1] < previous_end:
        _check_last_record_closed(path, text, lines[-1], previous_end)
    if not rows:
        found = f"a header (line {header_line})" if header_line else "only blank lines"
        raise DataError(
            f"{path} has {found} but no data rows. Fix: point at the complete "
            "file, or add at least one row."
        )
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame.index = pd.Index(lines, name=LINE)
    frame.attrs["header_line"] = header_line
    return frame


def _check_last_record_closed(path, text, start, end):
    """Raises DataError when the last record (lines start..end) opens a quote it never closes.

    The csv module, at the end of the file inside a quoted field, silently
    returns the rest of the file as that field: rows would vanish into it. In
    a well-formed record every quoted field holds an even number of '"' (its
    two delimiters and doubled quotes inside), so an odd count in a record
    that spans lines means a quote was left open.
    """
    # The csv module's own line splitting (\n, \r\n or \r), so numbers agree.
    record = "".join(io.StringIO(text, newline="").readlines()[start - 1:end])
    if record.count('"') % 2:
        raise DataError(
            f"{path}, line {start}: a quoted field opened on this line is never "
            f"closed, so lines {start}-{end} (the rest of the file) were read as "
            "one field. Fix: add the closing '\"' (write a '\"' inside a quoted "
            "field as '\"\"')."
        )


def _check_header(path, header, line):
    seen = {}
    for position, name in enumerate(header, start=1):
        if name == "":
            raise DataError(
                f"{path}, line {line}: column {position} of the header has no "
                "name. Fix: give every column a name (or remove a trailing "
                "delimiter from the header line)."
            )
        if name in seen:
            raise DataError(
                f"{path}, line {line}: the header names column {name!r} twice "
                f"(columns {seen[name]} and {position}). Fix: rename one of them."
            )
        seen[name] = position


def _raise_field_count(path, line, record, header, header_line, sep_name):
    expected = len(header)
    if header_line is not None:
        basis = f"the header (line {header_line}) has {expected}"
    else:
        basis = f"this format has {expected}"
    if len(record) > expected:
        fix = (f"quote fields that contain a {sep_name}, or remove the extra "
               f"{sep_name}")
    else:
        fix = (f"add the missing fields (an empty field is two {sep_name}s in a "
               "row) or delete the line")
    raise DataError(
        f"{path}, line {line}: {len(record)} fields, but {basis} "
        f"({', '.join(header)}). Fix: {fix}."
    )
