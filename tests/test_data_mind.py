"""MIND and NeMig loaders and the impression split: small fixtures, malformed rows, real files."""

import pytest

from tfllmrec.data import impression_split, load_mind, load_nemig
from tfllmrec.errors import DataError

MIND_NEWS = (
    "N1\tsports\tfootball_nfl\t\"Brees\" is back\tThe Saints' QB returns.\thttps://x/1\t"
    '[{"Label": "Drew Brees", "Type": "P", "WikidataId": "Q1"}]\t[]\n'
    "N2\tnews\tnewspolitics\tA vote\t\thttps://x/2\t[]\t"
    '[{"Label": "Senate", "Type": "O", "WikidataId": "Q2"}]\n'
    "N3\tfinance\tmarkets\tStocks up\tDow gains.\thttps://x/3\t\t\n"
)
MIND_BEHAVIORS = (
    "1\tU1\t11/11/2019 9:05:58 AM\tN1 N2\tN3-1 N2-0\n"
    "2\tU2\t11/12/2019 2:14:46 PM\t\tN1-0 N2-1 N3-1\n"
    "3\tU1\t11/13/2019 10:00:00 PM\tN1 N2\tN1-0 N3-0\n"
)
NEMIG_NEWS = (
    "news_1\tTexas tours the border\t\"The governor said \"\"more\"\".\"\t"
    "[{'SurfaceForms': 'Texas', 'WikidataId': 'https://www.wikidata.org/wiki/Q1439'}]\t\t"
    "border_said_biden\tNeutral\tright\n"
    "news_2\t\"Asylum, \"\"again\"\"\"\t\t\t\tasylum_court\tNegative\tleft\n"
    "news_3\tCaravan\tMigrants walk north.\t\t[{'SurfaceForms': 'Mexico', 'WikidataId': "
    "'https://www.wikidata.org/wiki/Q96'}]\tcaravan_mexico\tPositive\tcenter\n"
)
NEMIG_BEHAVIORS = "7\tU1\tnews_1 news_2\tnews_3-1 news_2-0\r\n8\tU2\t\tnews_1-0 news_3-1\r\n"


def _write(folder, news, behaviors, newline="\n"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "news.tsv").write_text(news, encoding="utf-8")
    (folder / "behaviors.tsv").write_bytes(behaviors.encode())
    return folder


def test_mind_folder_text_history_impressions_and_times(tmp_path):
    dataset = load_mind(_write(tmp_path, MIND_NEWS, MIND_BEHAVIORS))
    assert dataset.items.texts(["N1", "N2"]).tolist() == [
        "\"Brees\" is back. The Saints' QB returns. sports",  # a leading quote is text, not CSV
        "A vote. news",
    ]
    assert dataset.items.frame["entities"].tolist() == ["Q1", "Q2", ""]
    assert dataset.histories == {"U1": ["N1", "N2"], "U2": []}
    imp = dataset.impressions
    assert imp["candidates"].tolist() == [["N3", "N2"], ["N1", "N2", "N3"], ["N1", "N3"]]
    assert imp["labels"].tolist() == [[1, 0], [0, 1, 1], [0, 0]]
    # 11/12/2019 2:14:46 PM (naive) as Unix seconds.
    assert int(imp["timestamp"].iloc[1]) == 1573568086
    assert dataset.interactions.frame[["user_id", "item_id"]].values.tolist() == [
        ["U1", "N3"], ["U2", "N2"], ["U2", "N3"]]


def test_mind_train_and_dev_parts_and_dev_as_test(tmp_path):
    _write(tmp_path / "MINDsmall_train", MIND_NEWS, MIND_BEHAVIORS)
    _write(tmp_path / "MINDsmall_dev", MIND_NEWS, "1\tU3\t11/15/2019 8:00:00 AM\tN3\tN1-1 N2-0\n")
    dataset = load_mind(tmp_path)
    assert len(dataset.items) == 3  # the same news in both parts, once
    assert dataset.impressions["part"].tolist() == ["train"] * 3 + ["dev"]
    split = impression_split(dataset, (0.6, 0.4, 0.0), seed=0)
    assert split.test["user_id"].tolist() == ["U3"]
    assert len(split.train) + len(split.valid) == 3


@pytest.mark.parametrize("row, where, what", [
    ("4\tU1\t11/11/2019 9:05:58 AM\tN1\tN3-x\n", "line 4, column 'impressions'", "NEWSID-LABEL"),
    ("4\tU1\t11/11/2019 9:05:58 AM\tN1\tN3\n", "line 4, column 'impressions'", "leaderboard"),
    ("4\tU1\t13/45/2019 9:05:58 AM\tN1\tN3-1\n", "line 4, column 'time'", "M/D/YYYY"),
    ("4\tU1\t11/11/2019 9:05:58 AM\tN9\tN3-1\n", "line 4, column 'history'", "'N9' is not in"),
    ("4\tU1\t11/11/2019 9:05:58 AM\tN1-1\n", "line 4: 4 fields", "this format has 5"),
    ("1\tU1\t11/11/2019 9:05:58 AM\tN1\tN3-1\n", "column 'impression_id'", "1"),
])
def test_malformed_mind_behaviors_name_file_line_and_fix(tmp_path, row, where, what):
    _write(tmp_path, MIND_NEWS, MIND_BEHAVIORS + row)
    with pytest.raises(DataError, match="behaviors.tsv") as error:
        load_mind(tmp_path)
    assert where in str(error.value) and what in str(error.value) and "Fix" in str(error.value)


def test_malformed_mind_news_names_file_line_and_column(tmp_path):
    _write(tmp_path, MIND_NEWS + "N4\tnews\tx\tT\tA\tu\t[{\"Label\": \"no id\"}]\t[]\n", MIND_BEHAVIORS)
    with pytest.raises(DataError, match=r"news\.tsv, line 4, column 'title_entities'.*Fix"):
        load_mind(tmp_path)


def test_mind_missing_news_can_be_dropped(tmp_path):
    rows = "4\tU3\t11/11/2019 9:05:58 AM\tN9 N1\tN8-1 N3-0\n5\tU4\t11/11/2019 9:05:58 AM\t\tN7-1\n"
    _write(tmp_path, MIND_NEWS, MIND_BEHAVIORS + rows)
    dataset = load_mind(tmp_path, missing_news="drop")
    assert dataset.impressions.attrs["dropped_ids"] == 3  # N9, N8 and N7
    assert dataset.impressions["impression_id"].tolist() == ["1", "2", "3", "4"]  # 5 lost every candidate
    assert dataset.histories["U3"] == ["N1"] and dataset.impressions["candidates"].iloc[3] == ["N3"]


def test_nemig_crlf_csv_quotes_and_python_literal_entities(tmp_path):
    dataset = load_nemig(_write(tmp_path / "en", NEMIG_NEWS, NEMIG_BEHAVIORS), language="en")
    assert dataset.name == "nemig-en"
    assert dataset.items.texts().tolist() == [
        'Texas tours the border. The governor said "more". border said biden',
        'Asylum, "again". asylum court',
        "Caravan. Migrants walk north. caravan mexico",
    ]
    frame = dataset.items.frame
    assert frame["entities"].tolist() == ["Q1439", "", "Q96"]
    assert frame["political_leaning"].tolist() == ["right", "left", "center"]
    assert dataset.impressions["user_id"].tolist() == ["U1", "U2"]  # no '\r' left on the last field
    assert dataset.impressions["labels"].tolist() == [[1, 0], [0, 1]]
    assert dataset.impressions["timestamp"].isna().all()
    assert dataset.histories == {"U1": ["news_1", "news_2"], "U2": []}
    assert load_nemig(tmp_path).items.ids.tolist() == ["news_1", "news_2", "news_3"]  # the parent folder


@pytest.mark.parametrize("news, behaviors, match", [
    (NEMIG_NEWS, NEMIG_BEHAVIORS + "9\tU3\tnews_1\tnews_5-1\r\n",
     r"behaviors\.tsv, line 3, column 'impressions': news id 'news_5' is not in"),
    (NEMIG_NEWS + "news_4\tT\tA\t[{'SurfaceForms': 'X'\t\tc\tNeutral\tleft\n", NEMIG_BEHAVIORS,
     r"news\.tsv, line 4, column 'title_entities'.*Python literal"),
    (NEMIG_NEWS + "news_4\tT\tA\t\t\tc\tNeutral\n", NEMIG_BEHAVIORS,
     r"news\.tsv, line 4: 7 fields, but this format has 8"),
    (NEMIG_NEWS, NEMIG_BEHAVIORS + "9\tU3\tnews_1\t\r\n", r"line 3, column 'impressions': no candidates"),
])
def test_malformed_nemig_rows(tmp_path, news, behaviors, match):
    _write(tmp_path, news, behaviors)
    with pytest.raises(DataError, match=match):
        load_nemig(tmp_path)


def test_missing_files_say_what_to_pass(tmp_path):
    with pytest.raises(DataError, match=r"lacks \['news\.tsv', 'behaviors\.tsv'\].*NeMig"):
        load_nemig(tmp_path)
    with pytest.raises(DataError, match=r"MINDsmall_train"):
        load_mind(tmp_path)


def test_split_ratios_seed_and_empty_histories(tmp_path):
    rows = "".join(f"{i}\tU{i % 7}\t{'news_1' if i % 7 else ''}\tnews_2-0 news_3-1\r\n" for i in range(100))
    dataset = load_nemig(_write(tmp_path, NEMIG_NEWS, rows))
    split = impression_split(dataset, (0.7, 0.03, 0.27), seed=3, drop_empty_history=True)
    assert split.dropped_empty_history == 15
    # pandas draws round(frac * n): 85 -> round(59.4999...) = 59 train, round(2.6) = 3 valid.
    assert (len(split.train), len(split.valid), len(split.test)) == (59, 3, 23)
    ids = [set(p["impression_id"]) for p in (split.train, split.valid, split.test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    again = impression_split(dataset, (0.7, 0.03, 0.27), seed=3, drop_empty_history=True)
    assert again.test.index.tolist() == split.test.index.tolist()  # line numbers kept
    other = impression_split(dataset, (0.7, 0.03, 0.27), seed=4, drop_empty_history=True)
    assert other.test.index.tolist() != split.test.index.tolist()
    with pytest.raises(ValueError, match=r"sum to 1\.3, not 1"):
        impression_split(dataset, (0.7, 0.3, 0.3))


def test_real_nemig_en(shared):
    dataset = load_nemig(shared / "datasets" / "nemig" / "en")
    assert len(dataset.impressions) == 15_000 and len(dataset.histories) == 3_000
    assert len(dataset.items) == 4_596 and len(dataset.interactions) == 14_148
    assert sum(not dataset.histories[u] for u in dataset.impressions["user_id"]) == 2_685
    assert sum(len(c) for c in dataset.impressions["candidates"]) == 85_218
    split = impression_split(dataset, (0.7, 0.03, 0.27), seed=1, drop_empty_history=True)
    # The authors' split of 12,315 impressions: sample(frac=0.7), then 10% of the rest.
    assert (len(split.train), len(split.valid), len(split.test)) == (8_620, 370, 3_325)


def test_real_mind_sample(shared):
    with pytest.raises(DataError, match=r"MINDsmall_train/behaviors\.tsv, line 1, column 'history'"):
        load_mind(shared / "datasets" / "mind-sample")
    dataset = load_mind(shared / "datasets" / "mind-sample", missing_news="drop")
    assert len(dataset.items) == 2_000
    # PROVENANCE: 2,396 impressions show a news with text; 175 clicks on such news.
    assert len(dataset.impressions) == 2_396 and len(dataset.interactions) == 175
    assert dataset.impressions["timestamp"].min() >= 1573257600  # 2019-11-09
