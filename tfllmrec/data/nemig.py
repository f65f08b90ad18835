"""Loader for NeMig (Iana et al., INRA@RecSys 2023; https://github.com/andreeaiana/nemig).

MIND's behaviours without the time column (CRLF line endings); news columns
`news_id, title, abstract, title_entities, abstract_entities, category,
sentiment, political_leaning`, CSV-quoted where a field holds quotes,
entities as Python literals (`[{'SurfaceForms': ..., 'WikidataId': ...}]`).
The shared readers are in `_mind_format.py`.
"""

import ast
import csv
from pathlib import Path

from tfllmrec.data import _fetch
from tfllmrec.data._mind_format import FILES, build_dataset, read_behaviors, read_news, require_files
from tfllmrec.errors import DataError

NEMIG_COMMIT = "ce7f09eed94811aaf5774e4e45453ea1c8253c76"
NEMIG_URL = "https://raw.githubusercontent.com/andreeaiana/nemig_nrs/{commit}/data/{language}/{name}"
NEMIG_MD5 = {
    ("en", "news.tsv"): "efd2e5e097210a5ed9e56363478eb86b",
    ("en", "behaviors.tsv"): "a3f98fc8bb24bc9e9b6abfaa18d45c9a",
    ("de", "news.tsv"): "447f45d6dce8fa5e437e7b2af1d15d68",
    ("de", "behaviors.tsv"): "8f32b5ab5f96cd85a253b64c10e84d5f",
}
NEMIG_NEWS = ["news_id", "title", "abstract", "title_entities", "abstract_entities",
              "category", "sentiment", "political_leaning"]


def load_nemig(path=None, language="en", cache_dir=None):
    """Loads NeMig (migration news, user studies in the US and Germany).

    Every history, candidate and clicked id has its article in news.tsv;
    an id that does not is a DataError naming its line. Users have exactly
    5 impressions and one history each; there are no timestamps and no
    official split (see `impression_split`).

    Args:
        path: str, Path or None. The language folder (holding news.tsv and
            behaviors.tsv) or the folder holding `en/` and `de/`. None
            downloads `language` from the authors' repository (`NEMIG_URL`,
            commit `NEMIG_COMMIT`, md5-checked) into `cache_dir` on first use.
        language: str. "en" or "de".
        cache_dir: str, Path or None. Download cache; default ~/.cache/tfllmrec.

    Returns:
        Dataset named "nemig-<language>": items = news with text "title.
        abstract. topic" (the topic label with spaces for underscores;
        sentiment, political_leaning and Wikidata `entities` categorical),
        interactions = clicks in impressions, `histories`, `impressions`.

    Example:
    >>> folder = Path("nemig/en"); folder.mkdir(parents=True)
    >>> _ = (folder / "news.tsv").write_text(
    ...     "N1\\tBorder talks\\tLeaders meet.\\t\\t\\tpolitics_migration\\tneutral\\tcenter\\n"
    ...     "N2\\tNew arrivals\\tA town grows.\\t\\t\\tsociety\\tpositive\\tleft\\n")
    >>> _ = (folder / "behaviors.tsv").write_text(  # no time column; CRLF line ends
    ...     "1\\tU1\\tN1\\tN1-0 N2-1\\r\\n2\\tU2\\t\\tN1-1 N2-0\\r\\n")
    >>> dataset = load_nemig("nemig")  # the folder holding en/ (and de/)
    >>> len(dataset.impressions), dataset.histories
    (2, {'U1': ['N1'], 'U2': []})
    >>> dataset.items.texts().tolist()
    ['Border talks. Leaders meet. politics migration', 'New arrivals. A town grows. society']
    """
    if language not in ("en", "de"):
        raise ValueError(f"language={language!r}: use 'en' or 'de'.")
    if path is None:
        folder = _download_nemig(language, cache_dir)
    else:
        folder = Path(path)
        if not (folder / "news.tsv").is_file() and (folder / language / "news.tsv").is_file():
            folder = folder / language
        require_files(folder, f"the NeMig language folder (e.g. nemig/{language}, from "
                      f"{NEMIG_URL.format(commit=NEMIG_COMMIT, language=language, name='')})")
    items = read_news(folder / "news.tsv", NEMIG_NEWS, csv.QUOTE_MINIMAL, ast.literal_eval)
    items["category"] = items["category"].str.replace("_", " ")
    impressions = read_behaviors(folder / "behaviors.tsv", False, set(items["item_id"]), "error")
    return build_dataset(f"nemig-{language}", items, ["sentiment", "political_leaning", "entities"],
                         impressions, str(folder / "news.tsv"), str(folder / "behaviors.tsv"))


def _download_nemig(language, cache_dir):
    cache = _fetch.cache_folder(cache_dir)
    target = cache / "nemig" / language
    if all((target / f).is_file() for f in FILES):
        return target
    (cache / "nemig").mkdir(parents=True, exist_ok=True)
    with _fetch.temporary_folder(cache / "nemig") as tmp:
        tmp = Path(tmp) / language
        tmp.mkdir()
        for name in FILES:
            url = NEMIG_URL.format(commit=NEMIG_COMMIT, language=language, name=name)
            try:
                _fetch.download(url, tmp / name)
            except OSError as error:
                raise DataError(
                    f"Could not download {url} ({error}). Fix: download news.tsv and "
                    f"behaviors.tsv of data/{language}/ from github.com/andreeaiana/nemig_nrs "
                    f"and pass their folder: load_nemig(path='.../nemig/{language}')."
                ) from None
            if _fetch.md5_of(tmp / name) != NEMIG_MD5[language, name]:
                raise DataError(f"{url}: the download's md5 is not {NEMIG_MD5[language, name]}; "
                                "it is corrupt or changed upstream. Fix: retry, or pass path=.")
        _fetch.publish(tmp, target, lambda p: all((p / f).is_file() for f in FILES))
    return target
