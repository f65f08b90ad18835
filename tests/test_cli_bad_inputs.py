"""Each class of bad input at the command line: ranges, data too small for the
split, paths, and `init`'s guesses.

Every failure exits 2 with exactly one line on stderr, `tfllmrec: error: ...`,
naming the culprit and the fix, without a traceback, and leaves every file
as it was: no partial output, and an old run survives a failed --overwrite.
"""

import contextlib
import hashlib
import io
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import REPO, tiny_recipe_overrides
from tfllmrec import cli


def run_cli(argv):
    """`tfllmrec ARGV` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exit_:  # argparse's errors
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def assert_one_line_error(result, message):
    """Exit 2, nothing on stdout, and stderr exactly `tfllmrec: error: MESSAGE` (a regex, anchored)."""
    code, out, err = result
    assert "Traceback" not in err
    assert (code, out) == (2, ""), err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert re.fullmatch("tfllmrec: error: " + message, lines[0]), lines[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The test's own folder, as the current directory, with its own caches."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFLLMREC_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _set(overrides):
    return [arg for item in overrides for arg in ("--set", item)]


# Ranges ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["recommend", "RUN", "--user", "196", "-k", "-3"], r"-k must be a positive integer, got -3\. Fix: e\.g\. `-k 10`\."),
    (["recommend", "RUN", "--text", "space", "-k", "0"], r"-k must be a positive integer, got 0\. Fix: e\.g\. `-k 10`\."),
    (["demo", "-k", "12"], r"-k must be from 1 to 11 \(an integer\), got 12\. Fix: e\.g\. `-k 2`\."),
    (["export", "RUN", "--output", "m", "--version", "0"],
     r"--version must be from 1 to 9223372036854775807 \(an integer\), got 0\. Fix: e\.g\. `--version 1`, or omit it\."),
    (["serve", ".", "--port", "65536"], r"--port must be from 1 to 65535 \(an integer\), got 65536\. Fix: e\.g\. `--port 8501`\."),
    (["serve", ".", "--grpc-port", "0"], r"--grpc-port must be from 1 to 65535 \(an integer\), got 0\. Fix: .*"),
    (["serve", ".", "--port", "8500", "--grpc-port", "8500"],
     r"--port and --grpc-port are both 8500: REST and gRPC each need a port of their own\. Fix: .*"),
    (["train", "video", "--output", "run", "--set", "model.temperature=0"],
     r"model\.temperature must be positive \(a number > 0\), got 0\.0\. Fix: e\.g\. `--set model\.temperature=0\.2`, "
     r"or `temperature: 0\.2` in a YAML recipe\."),
    (["train", "video", "--output", "run", "--set", "data.cold_start_fraction=1"],
     r"data\.cold_start_fraction must be in \[0, 1\) \(a number; 0: off\), got 1\.0\. Fix: .*"),
])
def test_a_number_out_of_range_names_the_option_and_the_range(workdir, argv, message):
    before = snapshot(workdir)
    assert_one_line_error(run_cli(argv), message)
    assert snapshot(workdir) == before


def test_a_port_in_use_is_named(workdir):
    (workdir / "models").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_error(run_cli(["serve", "models", "--port", port]),
                              rf"--port {port}: cannot listen on 127\.0\.0\.1:{port} \(Address already in use\)\. "
                              r"Fix: choose another --port .*")


def test_in_process_errors_are_those_of_the_command(workdir):
    """The in-process runs above print what the installed command prints."""
    argv = ["recommend", "RUN", "--user", "196", "-k", "-3"]
    done = subprocess.run([sys.executable, "-m", "tfllmrec", *argv], capture_output=True, text=True,
                          timeout=120, cwd=workdir, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert (done.returncode, done.stdout, done.stderr) == run_cli(argv)


# Data too small for the protocol -----------------------------------------------------------

def _one_interaction(folder):
    (folder / "interactions.csv").write_text("customer,sku,ts\nu1,i0,1600000000\n")
    (folder / "items.csv").write_text("sku,title\ni0,running shoe\ni1,chef knife\n")
    return ["train", "video", "--quiet", "--output", "run", *_set(tiny_recipe_overrides(folder, epochs=1))]


def test_data_too_small_for_the_split_fails_before_training(workdir):
    argv = _one_interaction(workdir)
    before = snapshot(workdir)
    assert_one_line_error(run_cli(argv), re.escape(
        f"{workdir / 'interactions.csv'}: too little data for data.split=random (each user's interactions at "
        "random, ratios 0.8/0.1/0.1): the valid part is empty (validation picks the best epoch); a user needs at "
        "least 3 interactions to have one in valid. The data has 1 interaction(s) of 1 user(s) and 1 item(s), at "
        "most 1 per user, and the split gives train/valid/test 1/0/0. Fix: add interactions (more users, with "
        "more interactions each), or use a bigger file."))
    assert snapshot(workdir) == before  # no run folder, nothing in the text cache


def test_a_failed_overwrite_keeps_the_old_run(workdir, tiny_run):
    argv = _one_interaction(workdir) + ["--overwrite"]
    shutil.copytree(tiny_run, workdir / "run")
    before = snapshot(workdir)
    assert_one_line_error(run_cli(argv), r".*/interactions\.csv: too little data for data\.split=random .*")
    assert snapshot(workdir) == before


# Paths -----------------------------------------------------------------------------

@pytest.mark.parametrize("argv,message", [
    (["serve", "saved_models"], r"Models root saved_models does not exist\. Fix: pass the folder that holds your "
                                r"model folders \(`tfllmrec export --output ROOT/NAME` writes ROOT/NAME/<version>\)\."),
    (["serve", "notes.txt"], r"Models root notes\.txt is a file, not a folder\. Fix: .*"),
    (["evaluate", "runs/none"], r"Run folder runs/none does not exist\. Fix: pass the folder that `tfllmrec train` "
                                r"wrote \(its --output; runs/RECIPE by default\)\."),
    (["recommend", "notes.txt", "--user", "1"], r"Run folder notes\.txt is a file, not a folder\. Fix: .*"),
    (["export", "notes.txt", "--output", "notes.txt/video"],
     r"Model folder notes\.txt/video cannot be created: notes\.txt is a file\. Fix: choose another --output, .*"),
    (["train", "video", "--output", "notes.txt"],
     r"Output folder notes\.txt is a file, not a folder\. Fix: choose another --output \(a run folder\)\."),
    (["train", "notes.txt"], r"No recipe 'notes\.txt'\. notes\.txt is a file, but not a YAML recipe \(\.yaml or \.yml\)\. .*"),
    (["init", "notes.txt", "--interactions", "orders.csv", "--items", "items.csv"],
     r"Recipe folder notes\.txt is a file, not a folder\. Fix: choose a new recipe folder name\."),
    (["init", "shop", "--interactions", "orders", "--items", "items.csv"],
     r"orders does not exist\. Fix: check the path \(relative paths start at .*\)\."),
    (["demo", "--preset", "./no/such/model"], r"Preset folder '\./no/such/model' does not exist\. Fix: check the path .*"),
])
def test_a_missing_path_or_one_of_the_wrong_kind_is_named(workdir, argv, message):
    (workdir / "notes.txt").write_text("mine")
    before = snapshot(workdir)
    assert_one_line_error(run_cli(argv), message)
    assert snapshot(workdir) == before


# init checks its guesses against the data ------------------------------------------------------

ORDERS = "customer,sku,ts\nc1,p1,1700000000\nc2,p2,1700000600\nc2,p1,1700000900\n"


def test_init_refuses_an_items_file_without_the_item_ids(workdir):
    """The issue's example: `product_name` says "product" by its name, but holds no id of the orders."""
    (workdir / "orders.csv").write_text(ORDERS)
    (workdir / "items.csv").write_text("colour,product_name\nred,Red shoe\nsteel,Chef knife\n")
    before = snapshot(workdir)
    assert_one_line_error(
        run_cli(["init", "shop", "--interactions", "orders.csv", "--items", "items.csv"]), re.escape(
            "Cannot find the item id column of items.csv: none of its columns shares a value with the item ids "
            "of orders.csv (column 'sku' (e.g. 'p1', 'p2')). Its columns: 'colour' (e.g. 'red', 'steel'), "
            "'product_name' (e.g. 'Red shoe', 'Chef knife'). Fix: add a column holding those item ids to "
            "items.csv (one row per item, with its text), then rerun init."))
    assert snapshot(workdir) == before


def test_init_says_how_many_ids_match_and_which_of_two_columns_it_chose(workdir):
    (workdir / "orders.csv").write_text(ORDERS)
    (workdir / "items.csv").write_text("code,sku,name,price\nX1,p1,Red shoe,9.99\np2,p2,Chef knife,12\n"
                                       "X3,p3,Blue pen,1\n")
    code, out, err = run_cli(["init", "shop", "--interactions", "orders.csv", "--items", "items.csv"])
    assert (code, err) == (0, ""), err
    assert "  item_id        <- sku (2 of 2 item ids found in items.csv column 'sku')" in out
    assert "  item text      <- name" in out  # 'price' holds numbers, 'code' ids
    assert ("  note: item id: items.csv columns 'sku' (2 match) and 'code' (1) all hold item ids of orders.csv; "
            "chose 'sku'. To use another, set data.columns.items_item_id in the written config.yaml.") in out
    assert (workdir / "shop" / "config.yaml").is_file()


def test_init_leaves_out_a_text_column_that_holds_numbers(workdir):
    (workdir / "orders.csv").write_text(ORDERS)
    (workdir / "items.csv").write_text("sku,title,category\np1,Red shoe,101\np2,Chef knife,102\n")
    code, out, err = run_cli(["init", "shop", "--interactions", "orders.csv", "--items", "items.csv"])
    assert (code, err) == (0, ""), err
    assert "  item text      <- title\n" in out
    assert ("  note: item text: 'category' (e.g. '101', '102') fits by name but holds ids or numbers, not text; "
            "left out.") in out


def test_a_sequence_length_past_the_encoders_maximum_is_named_by_its_key(monkeypatch):
    """The encoder knows its maximum only once loaded; the task names the config key."""
    from tfllmrec.encoders._options import check_loaded_options
    from tfllmrec.errors import RangeError
    from tfllmrec.recipes import get_recipe, with_overrides
    from tfllmrec.tasks import task

    class Backbone:
        max_sequence_length = 512

    def encode(texts, encoder, sequence_length):
        check_loaded_options("mean", sequence_length, Backbone())  # what TextEncoder raises

    monkeypatch.setattr(task, "item_text_table", encode)
    config = with_overrides(get_recipe("video"), ["model.sequence_length=1000"])
    with pytest.raises(RangeError) as info:
        task.text_table_of(config.model, ["a text"])
    assert str(info.value) == (
        "model.sequence_length must be from 2 to 512 (an integer), got 1000. Fix: e.g. "
        "`--set model.sequence_length=128` (all-minilm-l6-v2's maximum is 512).")
