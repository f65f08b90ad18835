"""Items added after training: placed by text, ranked, exported, and bad input refused."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfllmrec.errors import ConfigError, DataError
from tfllmrec.recipes.export_run import build_module, export_run
from tfllmrec.recipes.trained_run import TrainedRun


@pytest.fixture
def run(tiny_run):
    return TrainedRun(tiny_run)


def test_a_new_item_gets_the_vector_of_an_item_without_a_trained_id(run):
    # Same text as catalogue item 3: the frozen encoder gives the same embedding,
    # so the new item must land exactly where the tower places an item known
    # only by item 3's text (its text neighbours, or the text MLP).
    position = int(np.flatnonzero(run.item_ids == "i3")[0])
    text = str(run.item_texts[position])
    run.add_items(["new-3"], [text])
    vectors = run.item_vectors()
    assert vectors.shape == (61, run.model.embedding_dim)
    tower = run.model.item_tower
    expected = tower.new_item_vectors(tf.gather(tower.text_table, [position])).numpy()[0]
    np.testing.assert_allclose(vectors[-1], expected, atol=1e-5)
    # Text search compares the text-only vector, whatever the placement.
    np.testing.assert_allclose(run.search_vectors()[-1], tower.text_only(tf.constant([position])).numpy()[0],
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors[-1]), 1.0, atol=1e-5)
    # The catalogue's vectors are untouched.
    np.testing.assert_array_equal(vectors[:60], run.model.candidates().numpy())
    assert list(run.item_ids[-1:]) == ["new-3"] and run.num_catalogue_items == 60


def test_new_items_are_ranked_for_text_and_users(run):
    run.add_items(["new-a", "new-b"], ["jazz record limited edition", "garden hose deluxe"])
    top = run.recommend_for_text("jazz record limited edition", k=3)
    assert top[0][0] == "new-a" and top[0][2] == pytest.approx(1.0, abs=1e-5)
    user = str(run.user_ids[0])
    ranked = run.recommend_for_user(user, k=len(run.item_ids))
    scores = {item: score for item, _, score in ranked}
    query = run.model.query(tf.constant([0])).numpy()[0]
    vectors = run.item_vectors()
    for item in ("new-a", "new-b"):
        position = int(np.flatnonzero(run.item_ids == item)[0])
        assert scores[item] == pytest.approx(float(vectors[position] @ query), abs=1e-5)
    seen = {str(run.item_ids[i]) for i in run.seen[0]}
    assert not seen & {item for item, _, _ in ranked[: len(ranked) - len(seen)]}


def test_export_serves_new_items_from_a_file(tiny_run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("item_id,text\nnew-1,chef knife carbon steel\nnew-2,running shoe trail\n")
    path = export_run(tiny_run, tmp_path / "models" / "tiny", retrieval_only=True, new_items=str(new))
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["recommend_k"](user_id=tf.constant(["u0"]), k=tf.constant(1000))
    ids = [x.decode() for x in out["item_ids"].numpy()[0]]
    assert len(ids) == 62 and {"new-1", "new-2"} <= set(ids)
    run = TrainedRun(tiny_run)
    run.add_items_from_file(new)
    want = [item for item, _, _ in run.recommend_for_user("u0", k=62)]
    unseen = len(want)
    assert ids[:unseen] == want


def test_full_export_finds_a_new_item_by_its_text(tiny_run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("item_id,text\nnew-hose,garden hose with brass fittings\n")
    path = export_run(tiny_run, tmp_path / "models" / "tiny", new_items=str(new))
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["recommend_by_text_k"](query=tf.constant(["garden hose with brass fittings"]),
                                                   k=tf.constant(3))
    assert out["item_ids"].numpy()[0][0].decode() == "new-hose"
    assert out["scores"].numpy()[0][0] == pytest.approx(1.0, abs=1e-4)


def test_build_module_index_holds_catalogue_then_new_items(run):
    run.add_items(["n1"], ["chef knife ceramic"])
    module = build_module(run, retrieval_only=True)
    ids = [x.decode() for x in module.item_ids.numpy()]
    assert ids[:60] == list(run.item_ids[:60]) and ids[60:] == ["n1"]
    np.testing.assert_allclose(module.item_vectors.numpy(), run.item_vectors(), atol=1e-6)
    assert module.popularity.numpy()[60] == 0.0


def test_file_with_the_recipes_text_fields_works(run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("item_id,title\nn9,garden hose model x\n")
    assert run.add_items_from_file(new) == 1
    assert run.item_texts[-1] == "garden hose model x"


@pytest.mark.parametrize(
    "ids,texts,pattern",
    [
        (["i1"], ["jazz record"], r"\['i1'\] are already in the catalogue"),
        (["n1", "n1"], ["a", "b"], r"\['n1'\] repeat"),
        (["n1"], ["   "], r"empty text"),
        (["n1"], [], r"one text per id"),
    ],
)
def test_bad_new_items_are_refused_and_nothing_is_added(run, ids, texts, pattern):
    with pytest.raises(ConfigError, match=pattern):
        run.add_items(ids, texts)
    assert len(run.item_ids) == 60 and run.item_vectors().shape[0] == 60


def test_file_errors_name_the_file_and_the_fix(run, tmp_path):
    missing = tmp_path / "missing.csv"
    missing.write_text("item_id,name\nn1,chef knife\n")
    with pytest.raises(DataError, match=r"missing.csv.*title"):
        run.add_items_from_file(missing)
    twice = tmp_path / "twice.csv"
    twice.write_text("item_id,text\nn1,chef knife\nn1,garden hose\n")
    with pytest.raises(DataError, match=r"twice.csv.*n1"):
        run.add_items_from_file(twice)
    assert len(run.item_ids) == 60


def test_a_run_without_text_cannot_place_new_items(run):
    run.config = dataclasses.replace(run.config, model=dataclasses.replace(run.config.model, use_text=False))
    with pytest.raises(ConfigError, match="no text path.*model.use_text=true"):
        run.add_items(["n1"], ["chef knife"])


def test_cli_recommend_with_new_items(tiny_run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("item_id,text\nnew-jazz,jazz record box set\n")
    result = subprocess.run(
        [sys.executable, "-m", "tfllmrec", "recommend", str(tiny_run), "--text", "jazz record box set",
         "--new-items", str(new), "-k", "3"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "Added 1 new items" in lines[0]
    assert "[new-jazz]" in next(line for line in lines if line.strip().startswith("1."))


def test_text_search_compares_the_query_with_items_placed_by_their_text(run):
    """A free-text query has no id, so it is ranked against the items' text-only
    vectors, not the hybrid id + text vectors users are scored against."""
    run.add_items(["new-a"], ["garden hose deluxe"])
    n = run.num_catalogue_items
    vectors = run.search_vectors()
    np.testing.assert_allclose(vectors[:n], run.model.item_tower.text_only(tf.range(n)).numpy(), atol=1e-6)
    # An added item is searched by its text-only vector too, whatever ranks it for users.
    tower = run.model.item_tower
    embedding = run._encode(["garden hose deluxe"])
    np.testing.assert_allclose(vectors[n:], tower.text_only_vectors(embedding).numpy(), atol=1e-6)
    np.testing.assert_allclose(run.item_vectors()[n:], tower.new_item_vectors(embedding).numpy(), atol=1e-6)
    assert not np.allclose(vectors[:n], run.item_vectors()[:n], atol=1e-3)  # the model has item ids
    query = "jazz record limited edition"
    q = run.model.item_tower.text_only_vectors(run._encode([query])).numpy()[0]
    found = run.recommend_for_text(query, k=5)
    np.testing.assert_allclose([score for _, _, score in found], np.sort(vectors @ q)[::-1][:5], atol=1e-5)
    # The full export serves the same search.
    module = build_module(run)  # kept: its tf.functions hold it weakly
    out = module.recommend_by_text_k(tf.constant([query]), tf.constant(5))
    assert [x.decode() for x in out["item_ids"].numpy()[0]] == [item for item, _, _ in found]
