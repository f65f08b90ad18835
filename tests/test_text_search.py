"""Free-text search benchmark: Last.fm query tags held out of the texts, metrics, BM25, the script."""

import math
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from tfllmrec.data import load_dataset
from tfllmrec.data.lastfm import load_lastfm_2k, tag_key, tag_queries
from tfllmrec.errors import ConfigError, DataError, RangeError
from tfllmrec.evaluation.text_search import (align_queries, bm25_scores, choose_blend, search_metrics,
                                             split_queries, zscore)
from tfllmrec.recipes import DataConfig, get_recipe, with_overrides

# Tag id -> (tag, artists, users). Eligible as a query: >= 10 artists, >= 3 users.
TAGS = {
    "1": ("post-punk", range(0, 12), (1, 2)),
    "2": ("Post Punk", range(0, 12), (3,)),       # the same tag, spelled apart: 3 users in all
    "3": ("dub", range(12, 24), (1, 2, 3)),
    "4": ("synth pop", range(6, 18), (1, 2, 3, 4)),
    "5": ("80s", range(0, 24, 2), (2, 3, 4)),
    "6": ("my private list", range(0, 20), (5,)),  # one user's label: not a query
    "7": ("rare", range(0, 5), (1, 2, 3)),         # 5 artists: not a query
    "8": ("guitar", range(24), (6,)),
}
ELIGIBLE = ["80s", "dub", "post-punk", "synth pop"]


def _write(folder, shuffle=None):
    """24 artists, 30 users who each played 8 of them, and the tags of TAGS."""
    folder.mkdir(exist_ok=True)
    (folder / "artists.dat").write_text(
        "id\tname\turl\tpictureURL\n" + "".join(f"{a}\tBand {a}\thttp://x\thttp://y\n" for a in range(24)))
    plays = "".join(f"{u}\t{(u + k) % 24}\t{10 + k}\n" for u in range(30) for k in range(8))
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n" + plays)
    (folder / "tags.dat").write_bytes(
        ("tagID\ttagValue\n" + "".join(f"{i}\t{t[0]}\n" for i, t in TAGS.items())).encode("latin-1"))
    rows = [f"{u}\t{a}\t{i}\t1\t4\t2009\n" for i, (_, artists, users) in TAGS.items()
            for a in artists for u in users]
    if shuffle is not None:
        rows = [rows[i] for i in np.random.default_rng(shuffle).permutation(len(rows))]
    (folder / "user_taggedartists.dat").write_text("userID\tartistID\ttagID\tday\tmonth\tyear\n" + "".join(rows))
    return folder


def _tag_keys(text):
    tags = text.split(". ", 1)[1] if ". " in text else ""
    return [tag_key(t) for t in tags.split(", ") if t]


def test_query_set_is_the_eligible_tags_drawn_deterministically(tmp_path):
    folder = _write(tmp_path / "a")
    assert sorted(tag_queries(folder, 4)) == ELIGIBLE  # never the private label, nor the rare tag
    drawn = tag_queries(folder, 2)
    assert len(drawn) == 2 and set(drawn) <= set(ELIGIBLE)
    assert tag_queries(folder, 2) == drawn
    assert tag_queries(_write(tmp_path / "b", shuffle=3), 2) == drawn  # row order does not matter
    post_punk = tag_queries(folder, 4)["post-punk"]  # both spellings' artists, most applied spelling
    assert post_punk == tuple(sorted(str(a) for a in range(12)))
    assert tag_queries(folder, 0) == {}


def test_held_out_tags_are_absent_from_texts_and_the_next_tags_fill_in(tmp_path):
    folder = _write(tmp_path)
    held_out = {tag_key(t) for t in tag_queries(folder, 4)}
    full = load_lastfm_2k(folder).items.texts().tolist()
    texts = load_lastfm_2k(folder, held_out_tags=4).items.texts().tolist()
    assert any(held_out & set(_tag_keys(t)) for t in full)
    assert not any(held_out & set(_tag_keys(t)) for t in texts)
    # Band 0's tags by users (per tag id, ties by id): 80s 3, rare 3, post-punk 2, then 1 each.
    assert full[0] == "Band 0. 80s, rare, post-punk, Post Punk, my private list"
    assert texts[0] == "Band 0. rare, my private list, guitar"  # both spellings of post-punk gone
    assert load_lastfm_2k(folder, top_tags=2, held_out_tags=4).items.texts()[0] == "Band 0. rare, my private list"


def test_the_data_config_reaches_the_loader(tmp_path):
    folder = _write(tmp_path)
    config = DataConfig(dataset="lastfm-2k", path=str(folder), held_out_tags=2)
    texts = load_dataset(config).items.texts().tolist()
    assert texts == load_lastfm_2k(folder, held_out_tags=2).items.texts().tolist()
    assert texts != load_lastfm_2k(folder).items.texts().tolist()


@pytest.mark.parametrize("value,error,fix", [
    ("-1", RangeError, r"data\.held_out_tags must be >= 0.*--set data\.held_out_tags=200"),
    ("abc", ConfigError, r"data\.held_out_tags must be an integer.*--set data\.held_out_tags=3"),
    ("2.5", ConfigError, r"data\.held_out_tags must be an integer"),
    ("true", ConfigError, r"data\.held_out_tags must be an integer"),
])
def test_bad_held_out_tags_name_the_key_and_the_fix(value, error, fix):
    with pytest.raises(error, match=fix):
        with_overrides(get_recipe("music"), [f"data.held_out_tags={value}"])


def test_held_out_tags_on_another_dataset_or_too_many_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.held_out_tags=5 .*'movielens-100k'.*data\.held_out_tags=0"):
        with_overrides(get_recipe("video"), ["data.held_out_tags=5"])
    folder = _write(tmp_path)
    with pytest.raises(DataError, match=r"held_out_tags=5 is more than the 4 tags .*at most 4"):
        load_dataset(DataConfig(dataset="lastfm-2k", path=str(folder), held_out_tags=5))
    with pytest.raises(RangeError, match=r"held_out_tags must be >= 0"):
        load_lastfm_2k(folder, held_out_tags=-1)


def test_metrics_on_a_hand_made_case():
    scores = np.array([[0.9, 0.8, 0.1, 0.0, 0.5],   # ranks 0 1 4 2 3: item 1 at rank 2
                       [0.1, 0.2, 0.3, 0.4, 0.5],   # item 4 first
                       [0.5, 0.5, 0.5, 0.5, 0.5]])  # ties: 0 1 2 ...; item 3 at rank 4
    positives = [np.array([1, 3]), np.array([4]), np.array([3])]
    metrics = search_metrics(scores, positives, k=2)
    ndcg0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert metrics["recall@2"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert metrics["ndcg@2"] == pytest.approx((ndcg0 + 1 + 0) / 3)
    assert metrics["queries"] == 3
    assert search_metrics(scores, positives, rows=[0, 2], k=2)["ndcg@2"] == pytest.approx(ndcg0 / 2)
    # k=10 over 5 items: every positive is found.
    assert search_metrics(scores, positives)["recall@10"] == 1.0


def test_queries_align_to_the_catalogue_and_unknown_items_drop():
    texts, positives = align_queries({"dub": ("a", "zz"), "ska": ("c", "a")}, ["c", "b", "a"])
    assert texts == ["dub", "ska"] and [p.tolist() for p in positives] == [[2], [0, 2]]


def test_bm25_ranks_an_exact_word_match_first_with_the_okapi_value():
    docs = ["Joy Division. post punk, new wave", "Bob Marley. reggae, roots", "King Tubby. dub, reggae",
            "Kraftwerk. electronic, synth pop"]
    scores = bm25_scores(docs, ["dub", "kraftwerk", "synth", "polka"])
    assert scores.argmax(axis=1)[:3].tolist() == [2, 3, 3]
    assert scores[3].tolist() == [0.0] * 4  # no shared word
    # "c" in ["a b", "b c c"]: N=2, df=1, tf=2, |d|=3, avgdl=2.5, k1=1.5, b=0.75.
    value = math.log(1 + 1.5 / 1.5) * 2 / (2 + 1.5 * (0.25 + 0.75 * 3 / 2.5))
    assert bm25_scores(["a b", "b c c"], ["c"])[0].tolist() == pytest.approx([0.0, value])


def test_blend_weight_is_chosen_on_the_validation_queries_only():
    assert zscore(np.array([[2.0, 2.0, 2.0]])).tolist() == [[0.0, 0.0, 0.0]]
    first = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    second = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    positives = [np.array([0]), np.array([1]), np.array([1])]
    # Queries 0-1 want `first`, query 2 `second`: the choice follows the rows given.
    assert choose_blend(first, second, positives, [0, 1], grid=(0.0, 1.0), k=1)[:2] == (1.0, 1.0)
    assert choose_blend(first, second, positives, [2], grid=(0.0, 1.0), k=1)[:2] == (0.0, 1.0)
    valid, test = split_queries(200)
    assert len(valid) == len(test) == 100 and not set(valid) & set(test)
    assert np.array_equal(split_queries(200)[0], valid)


def _script(*args):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "text_search.py"), *args],
                            cwd=REPO, capture_output=True, text=True, timeout=900)
    return result.returncode, result.stdout, result.stderr


def test_benchmark_script_on_a_trained_run(tmp_path, monkeypatch):
    from tfllmrec.recipes.pipeline import train_recipe
    from tfllmrec.recipes.trained_run import TrainedRun

    folder = _write(tmp_path / "lastfm")
    monkeypatch.setenv("TFLLMREC_CACHE", str(tmp_path / "cache"))
    config = with_overrides(get_recipe("music"), [
        f"data.path={folder}", "data.held_out_tags=3", "data.cold_start_fraction=0", "eval.baselines=[]",
        "model.encoder=tiny-random", "model.sequence_length=16", "train.epochs=1", "train.batch_size=64"])
    train_recipe(config, tmp_path / "run", verbose=0)
    held_out = {tag_key(t) for t in tag_queries(folder, 3)}
    assert not any(held_out & set(_tag_keys(t)) for t in TrainedRun(tmp_path / "run").item_texts)

    code, stdout, stderr = _script("--run", str(tmp_path / "run"))
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    assert "| ours (recommend_for_text) | 3 |" in stdout and "| plain cosine | 3 |" in stdout
    assert "| BM25 | 3 |" in stdout and re.search(r"\| blend \(w = [\d.]+\) \| 2 \|", stdout)
    assert re.fullmatch(r"RESULT text_search_ndcg_at_10_ours \d\.\d{4}", stdout.strip().splitlines()[-1])

    # A run whose texts keep the query tags is refused: search would be string matching.
    shutil.copytree(tmp_path / "run", tmp_path / "leaky")
    path = tmp_path / "leaky" / "config.yaml"
    path.write_text(path.read_text().replace("held_out_tags: 3", "held_out_tags: 0"))
    code, stdout, stderr = _script("--run", str(tmp_path / "leaky"))
    assert code != 0 and "data.held_out_tags=200" in stderr
