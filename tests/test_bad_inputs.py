"""One table of malformed inputs, across every loader, the recipe config, run
folders and the serving layer.

Each case builds a bad input under `tmp_path`, makes one call, and expects one
exact error class whose message matches every pattern: the file (and line,
row or key) to look at, and the fix. Every case also checks that the failed
call wrote nothing: the whole of `tmp_path` (inputs, output folders and the
download/text caches, pointed into it) is byte-for-byte the same afterwards.

In patterns, `@TMP@` stands for `tmp_path` and `@name@` for `ctx[name]`, both
regex-escaped.

Decisions recorded here:
- A 10 MB line (one huge field) is a DataError, not a load: a CSV field may
  hold at most csv's 131,072 characters. The error names the line, comes at
  once and needs little memory (asserted below).
- A Latin-1 file read as your own tabular data is a DataError naming the line
  and the byte offset, with the iconv fix; the same file in UTF-8 with a BOM
  and CRLF line endings loads (`test_lastfm_style_utf8_bom_crlf_loads`).
  Last.fm's own `tags.dat` is Latin-1 by its format, and `load_lastfm_2k`
  reads it as such (`tests/test_data_lastfm.py`).
- A SavedModel version without `variables/` does not crash the repository or
  the REST server: `ModelRepository.get` raises NotFoundError with TF
  Serving's own text, the version's status is END with error_code UNKNOWN
  and the loader's reason (naming the variables path), and the REST API
  answers 404 `{"error": ...}` to :predict and /metadata (as TF Serving
  does), and 200 with that status to GET /v1/models/NAME, and keeps serving.
- A number out of range is a RangeError (a ConfigError, hence a ValueError)
  naming it as it was given (an argument, or the whole config key) and the
  valid range; NaN and infinities are out of every range.
- Data too small for the split fails in `Task.prepare`, before any text is
  encoded or folder written: with `overwrite=True` the old run is kept
  whole (the snapshot below covers the copied run folder).
"""

import dataclasses
import hashlib
import json
import re
import shutil
import time
import tracemalloc
import urllib.error
import urllib.request
from typing import Callable, Optional

import pandas as pd
import pytest
import tensorflow as tf

import bad_input_builders as b
from tfllmrec.data import (Interactions, load_lastfm_2k, load_mind, load_movielens_100k,
                           load_movielens_latest_small, load_tabular, random_split)
from tfllmrec.errors import ConfigError, DataError, PathError, RangeError, RunFolderError, TfllmrecError
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.trained_run import TrainedRun

COLUMNS = {"user_id": "customer", "item_id": "sku", "weight": "qty", "timestamp": "ts"}
ORDERS = ("customer,sku,qty,ts\n"
          "c1,i1,2,1600000000\n"
          "c1,i2,1,1600000100\n"
          "c2,i1,3.5,1600000200\n")
ITEMS = ("sku,title\n"
         "i1,Blue pen\n"
         "i2,Stapler\n")
CHECKPOINT = "checkpoints/main/best"


# Builders -------------------------------------------------------------------------

def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def tabular(orders=ORDERS, items=ITEMS):
    """A builder writing orders.csv and items.csv (str or bytes)."""
    def build(tmp, request):
        write(tmp / "orders.csv", orders)
        write(tmp / "items.csv", items)
        return {}
    return build


def load_csvs(ctx):
    tmp = ctx["TMP"]
    load_tabular(tmp / "orders.csv", tmp / "items.csv", COLUMNS, ["title"])


def orders_with(old, new):
    assert old in ORDERS
    return tabular(orders=ORDERS.replace(old, new, 1))


def non_utf8(tmp, request):
    data = ORDERS.encode().replace(b"c2,i1", b"c\xe9,i1")  # Latin-1 'é' on line 4
    write(tmp / "orders.csv", data)
    write(tmp / "items.csv", ITEMS)
    return {"offset": data.index(b"\xe9")}


def parquet_nan_user(tmp, request):
    pd.DataFrame({"customer": ["c1", None, "c2"], "sku": ["i1", "i2", "i1"],
                  "qty": [1.0, 2.0, 3.0], "ts": [1, 2, 3]}).to_parquet(tmp / "orders.parquet")
    write(tmp / "items.csv", ITEMS)
    return {}


def load_parquet(ctx):
    tmp = ctx["TMP"]
    load_tabular(tmp / "orders.parquet", tmp / "items.csv", COLUMNS, ["title"])


# Last.fm (hetrec-2011) style: tab-separated .dat files; tags.dat is Latin-1.
LASTFM_TAGGINGS = ("userID\ttagID\ttimestamp\n"
                   "2\t1\t1238536800000\n"
                   "2\t3\t1241128800000\n"
                   "3\t2\t1243807200000\n")
LASTFM_TAGS = "tagID\ttagValue\n1\tmetal\n2\tchillout\n3\tmúsica latina\n"
LASTFM_COLUMNS = {"user_id": "userID", "item_id": "tagID", "timestamp": "timestamp"}


def lastfm_latin1(tmp, request):
    write(tmp / "user_taggedtags.dat", LASTFM_TAGGINGS)
    data = LASTFM_TAGS.encode("latin-1")
    write(tmp / "tags.dat", data)
    return {"offset": data.index("ú".encode("latin-1"))}


def load_lastfm(ctx, folder=None):
    folder = folder or ctx["TMP"]
    return load_tabular(folder / "user_taggedtags.dat", folder / "tags.dat", LASTFM_COLUMNS,
                        ["tagValue"], delimiter="\t", name="lastfm-tags")


def recbole_files(inter_header):
    def build(tmp, request):
        folder = tmp / "ml-100k"
        write(folder / "ml-100k.inter", inter_header + "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
        write(folder / "ml-100k.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\t"
                                       "class:token_seq\n242\tKolya\t1996\tComedy\n"
                                       "302\tL.A. Confidential\t1997\tCrime Film-Noir\n")
        return {}
    return build


def grouplens_short_row(tmp, request):
    folder = tmp / "ml-100k"
    write(folder / "u.data", "196\t242\t3\t881250949\n186\t302\t3\n")
    flags = "|".join(["0"] * 5 + ["1"] + ["0"] * 13)
    write(folder / "u.item", (f"242|Kolya (1996)|24-Jan-1997||http://x|{flags}\n"
                              f"302|L.A. Confidential (1997)|01-Jan-1997||http://x|{flags}\n"
                              ).encode("latin-1"))
    return {}


def latest_small_bad_row(tmp, request):
    folder = tmp / "ml-latest-small"
    write(folder / "ratings.csv", "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n"
                                  "1,3,4.0\r\n2,1,0.5,1445714994\r\n")
    write(folder / "movies.csv", "movieId,title,genres\r\n1,Toy Story (1995),Animation\r\n"
                                 "3,Grumpier Old Men (1995),Comedy|Romance\r\n")
    return {}


def nothing(tmp, request):
    return {}


def yaml_file(text):
    def build(tmp, request):
        write(tmp / "recipe.yaml", text)
        return {}
    return build


def load_yaml_recipe(ctx):
    get_recipe(str(ctx["TMP"] / "recipe.yaml"))


def override(*items):
    return lambda ctx: with_overrides(get_recipe("video"), list(items))


@pytest.fixture(scope="session")
def loaded_tiny_run(tiny_run):
    """The session's tiny run, loaded once for the cases that only call it."""
    return TrainedRun(tiny_run)


def run_copy(damage):
    """A copy of the session's tiny run under tmp/run, damaged by `damage(folder)`."""
    def build(tmp, request):
        run = tmp / "run"
        shutil.copytree(request.getfixturevalue("tiny_run"), run)
        damage(run)
        return {"run": run}
    return build


def truncate(relative):
    def damage(run):
        path = run / relative
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return damage


def garble(relative):
    def damage(run):
        path = run / relative
        data = bytearray(path.read_bytes())
        for i in range(0, len(data), 5):
            data[i] ^= 0xA5
        path.write_bytes(bytes(data))
    return damage


def saved_model_without_variables(tmp, request):
    from tfllmrec.recipes.export_run import export_run

    exported = export_run(request.getfixturevalue("tiny_run"), tmp / "export" / "m",
                          retrieval_only=True)
    version = tmp / "models" / "m" / "1"
    shutil.copytree(exported, version)
    shutil.rmtree(version / "variables")
    shutil.rmtree(tmp / "export")
    return {"version": version}


def serve_missing_variables(ctx):
    from tfllmrec.serving import ModelRepository

    ctx["repository"] = ModelRepository(ctx["TMP"] / "models")
    ctx["repository"].get("m")


def check_serving_reports_the_failure(ctx, error):
    from tfllmrec.serving import RestServer

    repository = ctx["repository"]
    [status] = repository.status("m")
    assert status["version"] == "1" and status["state"] == "END"
    assert status["status"]["error_code"] == "UNKNOWN"
    assert "not a valid checkpoint" in status["status"]["error_message"]
    assert str(ctx["version"] / "variables" / "variables") in status["status"]["error_message"]
    with RestServer(repository, port=0) as server:
        code, body = http(server, "POST", "/v1/models/m:predict", {"instances": ["u0"]})
        # TF Serving's text (tensorflow_serving/core/basic_manager.cc).
        assert (code, body) == (404, {"error": "Servable not found for request: Latest(m)"})
        code, body = http(server, "GET", "/v1/models/m/metadata")
        assert (code, body) == (404, {"error": "Servable not found for request: Latest(m)"})
        code, body = http(server, "GET", "/v1/models/m")
        assert code == 200 and body["model_version_status"][0]["state"] == "END"
        code, body = http(server, "GET", "/v1/models/other")
        assert code == 404 and "other" in body["error"]  # still serving


def http(server, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as failure:
        return failure.code, json.loads(failure.read())


# The table ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    build: Callable  # (tmp_path, request) -> dict of context values
    call: Callable  # (ctx) -> anything; must raise `error`
    error: type  # the exact class expected
    patterns: tuple  # regexes the message must match (re.search)
    then: Optional[Callable] = None  # (ctx, error): further checks
    max_seconds: float = 60.0
    max_peak_mib: Optional[float] = None  # Python allocations during the call


ORDERS_AT = r"@TMP@/orders\.csv"
ITEMS_AT = r"@TMP@/items\.csv"

CASES = [
    # load_tabular ------------------------------------------------------------
    Case("tabular-missing-column",
         tabular(orders=ORDERS.replace(",ts\n", ",when_bought\n", 1)),
         load_csvs, DataError,
         (ORDERS_AT + r", line 1: there is no column 'ts' \(columns\['timestamp'\]\)",
          r"The file's columns are: 'customer', 'sku', 'qty', 'when_bought'\.",
          r"Fix: name one of those columns for columns\['timestamp'\], or rename")),
    Case("tabular-renamed-column-suggests-closest",
         tabular(orders=ORDERS.replace(",qty,", ",quantity,", 1)),
         load_csvs, DataError,
         (ORDERS_AT + r", line 1: there is no column 'qty' \(columns\['weight'\]\)",
          r"Did you mean 'quantity'\?", r"Fix: ")),
    Case("tabular-wrong-delimiter",
         tabular(orders=ORDERS.replace(",", ";")),
         load_csvs, DataError,
         (ORDERS_AT + r", line 1: there is no column 'customer'",
          r"'customer;sku;qty;ts'", r"read as one column: check the delimiter",
          r"delimiter=")),
    Case("tabular-header-only",
         tabular(orders="customer,sku,qty,ts\r\n\r\n"),
         load_csvs, DataError,
         (ORDERS_AT + r" has a header \(line 1\) but no data rows",
          r"Fix: point at the complete file, or add at least one row")),
    Case("tabular-zero-byte-file",
         tabular(items=b""),
         load_csvs, DataError,
         (ITEMS_AT + r" is empty \(0 bytes\)", r"Fix: point at the complete file")),
    Case("tabular-non-utf8-bytes",
         non_utf8, load_csvs, DataError,
         (ORDERS_AT + r", line 4: byte 0xe9 at byte offset @offset@ ",
          r"not valid UTF-8", r"Fix: re-encode the file as UTF-8", r"iconv -f latin1")),
    Case("tabular-latin1-tags-file",
         lastfm_latin1, load_lastfm, DataError,
         (r"@TMP@/tags\.dat, line 4: byte 0xfa at byte offset @offset@ ",
          r"not valid UTF-8", r"iconv -f latin1 -t utf-8 tags\.dat")),
    Case("tabular-empty-user-id",
         orders_with("c2,i1,", ",i1,"), load_csvs, DataError,
         (ORDERS_AT + r", line 4, column 'customer': the id is empty",
          r"Fix: fill it in or drop that row")),
    Case("tabular-nan-item-id",
         orders_with("c1,i2,", "c1,nan,"), load_csvs, DataError,
         (ORDERS_AT + r", line 3, column 'sku': id 'nan' is how .* write a missing value",
          r"Fix: fill in the real id or drop that row")),
    Case("parquet-nan-user-id",
         parquet_nan_user, load_parquet, DataError,
         (r"@TMP@/orders\.parquet, row 2, column 'customer': the id is missing",
          r"Fix: fill it in or drop that row")),
    Case("tabular-duplicated-item-id",
         tabular(items=ITEMS + "i1,Red pen\n"), load_csvs, DataError,
         (ITEMS_AT + r", column 'sku': item id 'i1' appears on line 2 and on line 4",
          r"Fix: keep one row per item")),
    Case("tabular-interaction-names-unknown-item",
         orders_with("c2,i1,", "c2,i99,"), load_csvs, DataError,
         (ORDERS_AT + r": 1 interaction\(s\) refer to 1 item id\(s\) missing from the items "
          r"table \(" + ITEMS_AT + r"\); the first: 'i99' \(line 4\)",
          r"Fix: add them to the items file or drop those rows")),
    Case("tabular-negative-rating",
         orders_with(",1,1600000100", ",-1,1600000100"), load_csvs, DataError,
         (ORDERS_AT + r", line 3, column 'qty': weight -1\.0 is negative",
          r"Fix: weights must be numbers >= 0")),
    Case("tabular-non-numeric-rating",
         orders_with(",1,1600000100", ",one,1600000100"), load_csvs, DataError,
         (ORDERS_AT + r", line 3, column 'qty': weight 'one' is not a number",
          r"Fix: weights must be numbers >= 0")),
    Case("tabular-timestamps-in-mixed-units",
         orders_with("1600000100", "1600000100000"), load_csvs, DataError,
         (ORDERS_AT + r", line 2, column 'ts' holds 1600000000 \(Unix seconds\) but "
          + ORDERS_AT + r", line 3, column 'ts' holds 1600000100000 \(milliseconds",
          r"Fix: convert the column to one unit \(divide milliseconds by 1000\)")),
    Case("tabular-10mb-single-line",
         tabular(items=ITEMS.replace("i2,Stapler", "i2," + "x" * 10_000_000)),
         load_csvs, DataError,
         (ITEMS_AT + r", line 3: a field is longer than [\d,]+ characters",
          r"Fix: .*close it.*otherwise shorten the field"),
         max_seconds=10.0, max_peak_mib=300.0),
    Case("tabular-unclosed-quote-swallows-the-rest",
         tabular(items='sku,title\ni1,Blue pen\ni2,"Stapler\ni3,Glue\n'), load_csvs, DataError,
         (ITEMS_AT + r", line 3: a quoted field opened on this line is never closed",
          r"lines 3-4", r"Fix: add the closing '\"'")),
    Case("tabular-extra-field",
         orders_with("c1,i2,1,1600000100", "c1,i2,1,1600000100,gift, wrapped"), load_csvs, DataError,
         (ORDERS_AT + r", line 3: 6 fields, but the header \(line 1\) has 4",
          r"Fix: quote fields that contain a comma")),
    # MovieLens loaders -------------------------------------------------------
    Case("recbole-inter-missing-column",
         recbole_files("userid:token\titem_id:token\trating:float\ttimestamp:float\n"),
         lambda ctx: load_movielens_100k(ctx["TMP"] / "ml-100k"), DataError,
         (r"@TMP@/ml-100k/ml-100k\.inter, line 1: no column user_id:<type>",
          r"Did you mean 'userid:token'\?", r"Fix: use RecBole's ml-100k atomic files")),
    Case("grouplens-u-data-short-row",
         grouplens_short_row,
         lambda ctx: load_movielens_100k(ctx["TMP"] / "ml-100k"), DataError,
         (r"@TMP@/ml-100k/u\.data, line 2: 3 fields, but this format has 4",
          r"Fix: add the missing fields .* or delete the line")),
    Case("latest-small-ratings-bad-row",
         latest_small_bad_row,
         lambda ctx: load_movielens_latest_small(ctx["TMP"] / "ml-latest-small"), DataError,
         (r"@TMP@/ml-latest-small/ratings\.csv, line 3: 3 fields, but the header \(line 1\) has 4",
          r"userId, movieId, rating, timestamp", r"Fix: add the missing fields")),
    # Recipe configs ----------------------------------------------------------
    Case("config-unknown-key",
         nothing, lambda ctx: with_overrides(get_recipe("video"), ["train.epoch=3"]), ConfigError,
         (r"Unknown config key 'train\.epoch'\.", r"Did you mean 'train\.epochs'\?",
          r"Valid keys under 'train': (\w+, )*epochs(, \w+)*\.$")),
    Case("config-wrong-value-type",
         nothing, lambda ctx: with_overrides(get_recipe("video"), ["train.epochs=abc"]), ConfigError,
         (r"^train\.epochs must be an integer, got 'abc' \(type str\)",
          r"Fix: .*--set train\.epochs=3")),
    Case("config-recipe-does-not-exist",
         nothing, lambda ctx: get_recipe("vidoe"), ConfigError,
         (r"No recipe 'vidoe'\.", r"Did you mean 'video'\?", r"Registered recipes: .*video",
          r"or pass a recipe folder holding config\.yaml, or a YAML file")),
    Case("config-malformed-yaml",
         yaml_file("name: video\ntrain: {epochs: 2\nmodel: {}\n"), load_yaml_recipe, ConfigError,
         (r"Cannot read config file @TMP@/recipe\.yaml: it is not valid YAML",
          r"line \d+, column \d+", r"Fix: correct the YAML at the line and column shown")),
    Case("config-yaml-unknown-key",
         yaml_file("name: video\nmodel: {temprature: 0.5}\n"), load_yaml_recipe, ConfigError,
         (r"^@TMP@/recipe\.yaml: Unknown config key 'model\.temprature'",
          r"Did you mean 'model\.temperature'\?", r"Valid keys under 'model': ")),
    Case("config-yaml-wrong-value-type",
         yaml_file("name: video\ntrain:\n  epochs: many\n"), load_yaml_recipe, ConfigError,
         (r"^@TMP@/recipe\.yaml: train\.epochs must be an integer, got 'many'",
          r"Fix: .*`epochs: 3` in a YAML recipe")),
    # Run folders ---------------------------------------------------------------
    Case("run-truncated-checkpoint-data",
         run_copy(truncate(CHECKPOINT + ".data-00000-of-00001")),
         lambda ctx: TrainedRun(ctx["run"]), RunFolderError,
         (r"^@run@ is damaged: the checkpoint @run@/checkpoints/main/best ",
          r"cannot be read \(",
          r"Fix: restore @run@ from a backup, or retrain it: `tfllmrec train "
          r"@run@/config\.yaml --output @run@ --overwrite`")),
    Case("run-garbled-checkpoint-index",
         run_copy(garble(CHECKPOINT + ".index")),
         lambda ctx: TrainedRun(ctx["run"]), RunFolderError,
         (r"^@run@ is damaged: the checkpoint @run@/checkpoints/main/best ",
          r"Fix: restore @run@ from a backup, or retrain it")),
    Case("run-missing-metrics-json",
         run_copy(lambda run: (run / "metrics.json").unlink()),
         lambda ctx: TrainedRun(ctx["run"]), RunFolderError,
         (r"^@run@ is not a finished run: metrics\.json is missing",
          r"Fix: finish the run with `tfllmrec train @run@/config\.yaml --output @run@`",
          r"add --overwrite to retrain from scratch\), or restore the folder")),
    # Ranges: arguments of the Python entry points -----------------------------
    Case("recommend-k-negative",
         b.loaded_run, lambda ctx: ctx["loaded"].recommend_for_user("u0", k=-3), RangeError,
         (r"^k must be a positive integer, got -3\. Fix: e\.g\. k=10\.$",)),
    Case("recommend-for-text-k-zero",
         b.loaded_run, lambda ctx: ctx["loaded"].recommend_for_text("running shoe", k=0), RangeError,
         (r"^k must be a positive integer, got 0\.",)),
    Case("recommend-for-text-blank-query",
         b.loaded_run, lambda ctx: ctx["loaded"].recommend_for_text("   "), ConfigError,
         (r"^The text query '   ' is empty, or not a string", r"Fix: give some words")),
    Case("encoder-sequence-length-one",
         nothing, lambda ctx: b.TextEncoderFor(sequence_length=1), RangeError,
         (r"^sequence_length must be >= 2 \(an integer; tokens per text, with \[CLS\] and \[SEP\]\), "
          r"got 1\. Fix: e\.g\. sequence_length=64\.$",)),
    Case("encoder-length-buckets-zero",
         nothing, lambda ctx: b.TextEncoderFor(length_buckets=0), RangeError,
         (r"^length_buckets must be a positive integer \(1: one chunk\), got 0\. Fix: e\.g\. length_buckets=4\.$",)),
    Case("encoder-encode-batch-size-zero",
         b.encoder, lambda ctx: ctx["encoder"].encode(["red shoe"], batch_size=0), RangeError,
         (r"^batch_size must be a positive integer, got 0\. Fix: e\.g\. batch_size=32\.$",)),
    Case("split-seed-negative",
         nothing, lambda ctx: random_split(Interactions(pd.DataFrame({"user_id": ["a"], "item_id": ["x"]})),
                                           seed=-1), RangeError,
         (r"^seed must be from 0 to 4294967295 \(an integer\), got -1\.",)),
    Case("lastfm-top-tags-negative",
         nothing, lambda ctx: load_lastfm_2k(ctx["TMP"], top_tags=-1), RangeError,
         (r"^top_tags must be >= 0 \(an integer; 0: the name alone\), got -1\.",)),
    Case("export-version-zero",
         b.tiny_run_path, b.export_to("m", version=0), RangeError,
         (r"^version must be from 1 to 9223372036854775807 \(an integer\), got 0\. "
          r"Fix: e\.g\. version=1, or omit it for the next one\.$",)),
    Case("export-warmup-users-negative",
         b.tiny_run_path, b.export_to("m", warmup_users=-1), RangeError,
         (r"^warmup_users must be >= 0 \(an integer; 0: no user in the warm-up requests\), got -1",)),
    # Ranges: config values, named by their whole key ----------------------------
    Case("config-learning-rate-nan",
         nothing, override("train.learning_rate=nan"), RangeError,
         (r"^train\.learning_rate must be positive \(a number > 0\), got nan\. "
          r"Fix: e\.g\. `--set train\.learning_rate=0\.003`, or `learning_rate: 0\.003` in a YAML recipe\.$",)),
    Case("config-text-dropout-one",
         nothing, override("model.text_dropout=1"), RangeError,
         (r"^model\.text_dropout must be in \[0, 1\) \(a number\), got 1\.0\.",)),
    Case("config-baseline-patience-negative",
         nothing, override("baseline_train.patience=-1"), RangeError,
         (r"^baseline_train\.patience must be >= 0 \(an integer; 0: never stop early\), got -1\.",
          r"`--set baseline_train\.patience=5`")),
    Case("config-split-seed-too-big",
         nothing, override("data.split_seed=4294967296"), RangeError,
         (r"^data\.split_seed must be from 0 to 4294967295 \(an integer\), got 4294967296\.",)),
    Case("config-ratios-without-validation",
         nothing, override("data.ratios=[0.9, 0, 0.1]"), RangeError,
         (r"^data\.ratios=\(0\.9, 0, 0\.1\): the valid share must be > 0 \(the runner picks the best "
          r"epoch on valid", r"e\.g\. `--set data\.ratios=\[0\.8, 0\.1, 0\.1\]`")),
    Case("config-eval-ks-zero",
         nothing, override("eval.ks=[0, 10]"), ConfigError,
         (r"^Invalid eval: ks holds 0; each cut-off must be a positive integer\.",
          r"Fix: e\.g\. `--set eval\.ks=\[5, 10, 20\]`")),
    Case("config-export-top-k-zero",
         nothing, override("export.top_k=0"), RangeError,
         (r"^export\.top_k must be a positive integer, got 0\.",)),
    Case("config-max-history-negative",
         nothing, override("model.max_history=-1"), RangeError,
         (r"^model\.max_history must be >= 0 \(an integer; 0: no history\), got -1\.",)),
    Case("config-cold-neighbor-temperature-infinite",
         nothing, override("model.cold_neighbor_temperature=inf"), RangeError,
         (r"^model\.cold_neighbor_temperature must be positive \(a number > 0\), got inf\.",)),
    # Data too small for the protocol: checked before anything trains or is written --
    Case("train-single-interaction",
         b.tiny_training(b.rows(("u1", "i0", 0))), b.train, DataError,
         (r"^@TMP@/interactions\.csv: too little data for data\.split=random \(each user's interactions "
          r"at random, ratios 0\.8/0\.1/0\.1\): the valid part is empty \(validation picks the best epoch\)",
          r"a user needs at least 3 interactions to have one in valid",
          r"The data has 1 interaction\(s\) of 1 user\(s\) and 1 item\(s\), at most 1 per user",
          r"train/valid/test 1/0/0", r"Fix: add interactions")),
    Case("train-leave-one-out-two-per-user",
         b.tiny_training(b.rows(("u1", "i0", 0), ("u1", "i1", 1), ("u2", "i2", 0), ("u2", "i3", 1)),
                         ["data.split=leave_one_out"]), b.train, DataError,
         (r"too little data for data\.split=leave_one_out", r"the valid part is empty",
          r"a user needs at least 3 interactions to have one in valid and one in test",
          r"at most 2 per user")),
    Case("train-validation-holds-only-repeats",
         b.tiny_training(b.rows(*[(f"u{u}", "i0", t) for u in range(3) for t in range(3)]),
                         ["data.cold_start_fraction=0"]), b.train, DataError,
         (r"the valid part holds only items each user has in train already \(seen items are not ranked\)",)),
    Case("train-cold-start-holds-out-no-item",
         b.tiny_training(b.rows(*[(f"u{u}", f"i{i}", i) for u in range(3) for i in range(3)])),
         b.train, DataError,
         (r"data\.cold_start_fraction=0\.1 of 3 items rounds to 0 cold items",
          r"Or set it to 0 \(no cold-start evaluation\), or add items\.$")),
    Case("train-overwrite-keeps-the-old-run",
         b.tiny_training(b.rows(("u1", "i0", 0)), keep_run=True),
         lambda ctx: b.train(ctx, overwrite=True), DataError,
         (r"the valid part is empty",)),
    Case("train-news-without-non-clicks",
         b.news_without_non_clicks, b.train, DataError,
         (r"^@TMP@/nemig/en/behaviors\.tsv: too little data for data\.split=impressions",
          r"the train part has \d+ impression\(s\), none with both a click and a non-click",
          r"Fix: add impressions \(each with a clicked and a non-clicked news")),
    # Paths ------------------------------------------------------------------------
    Case("run-folder-does-not-exist",
         nothing, lambda ctx: TrainedRun(ctx["TMP"] / "nope"), RunFolderError,
         (r"^Run folder @TMP@/nope does not exist\. Fix: pass the folder that `tfllmrec train` wrote",)),
    Case("run-folder-is-a-file",
         b.files(metrics_json="{}"), lambda ctx: TrainedRun(ctx["TMP"] / "metrics.json"), RunFolderError,
         (r"^Run folder @TMP@/metrics\.json is a file, not a folder\.",)),
    Case("serve-models-root-missing",
         nothing, lambda ctx: b.ModelRepositoryAt(ctx["TMP"] / "saved_models"), PathError,
         (r"^Models root @TMP@/saved_models does not exist\. Fix: pass the folder that holds your "
          r"model folders",)),
    Case("train-output-is-a-file",
         b.tiny_training(b.rows(("u1", "i0", 0))), lambda ctx: b.train(ctx, output="interactions.csv"),
         ConfigError, (r"^Output folder @TMP@/interactions\.csv is a file, not a folder\. "
                       r"Fix: choose another --output \(a run folder\)\.$",)),
    Case("export-output-below-a-file",
         lambda tmp, request: {**b.files(notes_txt="mine")(tmp, request), **b.tiny_run_path(tmp, request)},
         b.export_to("notes.txt/m"), ConfigError,
         (r"^Model folder @TMP@/notes\.txt/m cannot be created: @TMP@/notes\.txt is a file\.",
          r"Fix: choose another --output")),
    Case("export-new-items-file-missing",
         b.tiny_run_path, b.export_to("m", new_items="new.csv"), DataError,
         (r"^new\.csv does not exist\. Fix: check the path",)),
    Case("lastfm-path-is-a-file",
         b.files(lastfm_zip="PK"), lambda ctx: load_lastfm_2k(ctx["TMP"] / "lastfm.zip"), DataError,
         (r"^@TMP@/lastfm\.zip is a file, not a folder\. Fix: pass the folder that holds the dataset's files",)),
    Case("mind-path-does-not-exist",
         nothing, lambda ctx: load_mind(ctx["TMP"] / "MINDsmall_train"), DataError,
         (r"^@TMP@/MINDsmall_train does not exist\.",)),
    Case("tabular-interactions-is-a-folder",
         lambda tmp, request: (tmp / "orders").mkdir() or {},
         lambda ctx: load_tabular(ctx["TMP"] / "orders", ctx["TMP"] / "items.csv", COLUMNS, ["title"]),
         DataError, (r"^@TMP@/orders is a folder, not a file\.",)),
    Case("init-folder-is-a-file",
         b.files(shop_txt="", orders_csv=ORDERS, items_csv=ITEMS),
         lambda ctx: b.init_recipe_at(ctx, "shop.txt"), ConfigError,
         (r"^Recipe folder @TMP@/shop\.txt is a file, not a folder\.",)),
    # init checks its guesses against the values -------------------------------------
    Case("init-items-file-without-the-item-ids",
         b.files(orders_csv=ORDERS, items_csv="colour,product_name\nred,Red shoe\nsteel,Chef knife\n"),
         b.init_shop, ConfigError,
         (r"^Cannot find the item id column of @TMP@/items\.csv: none of its columns shares a value with "
          r"the item ids of @TMP@/orders\.csv \(column 'sku' \(e\.g\. 'i1', 'i2'\)\)",
          r"Its columns: 'colour' \(e\.g\. 'red', 'steel'\), 'product_name' \(e\.g\. 'Red shoe', 'Chef knife'\)",
          r"Fix: add a column holding those item ids to @TMP@/items\.csv")),
    Case("init-no-text-column",
         b.files(orders_csv=ORDERS, items_csv="sku,name,price\ni1,SKU-1,9.99\ni2,SKU-2,12\n"),
         b.init_shop, ConfigError,
         (r"^Cannot find a text column in @TMP@/items\.csv: besides the item id 'sku', no column holds "
          r"words", r"'name' \(e\.g\. 'SKU-1', 'SKU-2'\), 'price' \(e\.g\. '9\.99', '12'\)",
          r"Fix: add a column of item titles or descriptions")),
    Case("init-no-user-column",
         b.files(orders_csv="who,sku\nc1,i1\n", items_csv=ITEMS), b.init_shop, ConfigError,
         (r"^Cannot tell which column of @TMP@/orders\.csv is the user id: no column name says so\. "
          r"Its columns: 'who' \(e\.g\. 'c1'\), 'sku' \(e\.g\. 'i1'\)", r"Fix: rename that column")),
    # Serving -------------------------------------------------------------------
    Case("savedmodel-missing-variables",
         saved_model_without_variables, serve_missing_variables, tf.errors.NotFoundError,
         (r"^Servable not found for request: Latest\(m\)$",),
         then=check_serving_reports_the_failure),
]


def snapshot(folder):
    """{relative path: sha256} of every file, and the set of folders, under `folder`."""
    files, folders = {}, set()
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_dir():
            folders.add(relative)
        else:
            files[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files, folders


def expand(pattern, ctx):
    return re.sub(r"@(\w+)@", lambda m: re.escape(str(ctx[m.group(1)])), pattern)


def test_the_table_covers_at_least_55_distinct_cases():
    assert len(CASES) >= 55
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case, tmp_path, request, monkeypatch):
    ctx = {"TMP": tmp_path, **case.build(tmp_path, request)}
    # Point the cache (downloads and text embeddings) into tmp_path, so a
    # write to it shows in the snapshot.
    monkeypatch.setenv("TFLLMREC_CACHE", str(tmp_path / "cache"))
    before = snapshot(tmp_path)
    if case.max_peak_mib is not None:
        tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as info:
            case.call(ctx)
        elapsed = time.monotonic() - started
        peak_mib = tracemalloc.get_traced_memory()[1] / 2**20 if case.max_peak_mib else 0.0
    finally:
        if case.max_peak_mib is not None:
            tracemalloc.stop()
    error = info.value
    assert type(error) is case.error, f"{type(error).__name__}: {error}"
    message = error.message if isinstance(error, tf.errors.OpError) else str(error)
    for pattern in case.patterns:
        assert re.search(expand(pattern, ctx), message), f"{pattern!r} not in:\n{message}"
    if isinstance(error, TfllmrecError):
        # Raised on purpose: no chained low-level traceback to wade through.
        assert error.__suppress_context__ or error.__cause__ is None
    assert elapsed < case.max_seconds, f"took {elapsed:.1f} s"
    if case.max_peak_mib is not None:
        assert peak_mib < case.max_peak_mib, f"peak {peak_mib:.0f} MiB"
    if case.then is not None:
        case.then(ctx, error)
    assert snapshot(tmp_path) == before, "the failed call wrote or changed files"


def test_lastfm_style_utf8_bom_crlf_loads(tmp_path):
    """The Latin-1 case's files, re-encoded as `iconv` would, with a BOM and CRLF."""
    for name, text in (("user_taggedtags.dat", LASTFM_TAGGINGS), ("tags.dat", LASTFM_TAGS)):
        write(tmp_path / name, b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    before = snapshot(tmp_path)
    dataset = load_lastfm(None, tmp_path)
    assert dataset.items.ids.tolist() == ["1", "2", "3"]
    assert dataset.items.texts(["3"]).tolist() == ["música latina"]
    frame = dataset.interactions.frame
    assert frame.index.tolist() == [2, 3, 4]  # line numbers survive CRLF and the BOM
    assert frame["user_id"].tolist() == ["2", "2", "3"]
    assert frame["timestamp"].tolist() == [1238536800, 1241128800, 1243807200]  # ms -> s
    assert snapshot(tmp_path) == before
