"""Amazon loaders: raw 2014/2018 review dumps, ReChorus (Office) and LETTER
(Scientific) folders. Downloads use stand-ins: no test touches the network."""

import gzip
import hashlib
import json
import shutil

import pytest

from tfllmrec.data import (leave_one_out, letter, load_amazon_office, load_amazon_reviews,
                           load_amazon_scientific, rechorus)
from test_data_tables import raises_data_error

# 2014: strict JSON reviews, metadata as Python literals with lists of category paths.
REVIEWS_2014 = [
    {"reviewerID": "A1", "asin": "P1", "overall": 5.0, "unixReviewTime": 1252800000},
    {"reviewerID": "A1", "asin": "P2", "overall": 3.0, "unixReviewTime": 1252900000},
    {"reviewerID": "A2", "asin": "P1", "overall": 4.0, "unixReviewTime": 1253000000},
    {"reviewerID": "A2", "asin": "P1", "overall": 1.0, "unixReviewTime": 1252000000},  # earlier: kept
]
META_2014 = (
    "{'asin': 'P1', 'title': 'Swingline Stapler', 'brand': 'Swingline', 'categories': "
    "[['Office Products', 'Office & School Supplies', 'Staplers'], ['Misc']], "
    "'description': \"Staples 20 sheets, it's sturdy\"}\n"
    "{'asin': 'P2', 'title': 'Pens &amp; Pencils', 'categories': [['Office Products']]}\n"
    "{'asin': 'P9', 'title': 'Never reviewed'}\n"
)
REVIEWS_2018 = [
    {"overall": 5.0, "verified": True, "reviewerID": "U1", "asin": "B1", "unixReviewTime": 1441065600},
    {"overall": 2.0, "reviewerID": "U2", "asin": "B2", "unixReviewTime": 1441065601, "vote": "2"},
]
META_2018 = [
    {"asin": "B1", "title": "Lab Goggles", "brand": "3M", "description": ["Clear.", "Anti-fog."],
     "category": ["Industrial & Scientific", "Safety"]},
    {"asin": "B2", "title": "Nitrile Gloves", "brand": "", "description": "Blue", "category": []},
    {"asin": "B2", "title": "A duplicate row", "category": []},  # 2018 dumps repeat some asins
]


def json_lines(records):
    return "".join(json.dumps(r) + "\n" for r in records)


def write(path, text, zipped=False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if zipped else data)
    return path


@pytest.mark.parametrize("zipped", [False, True])
def test_2014_reviews_and_literal_metadata(tmp_path, zipped):
    suffix = ".json.gz" if zipped else ".json"
    reviews = write(tmp_path / f"reviews_Office_Products_5{suffix}", json_lines(REVIEWS_2014), zipped)
    meta = write(tmp_path / f"meta_Office_Products{suffix}", META_2014, zipped)
    dataset = load_amazon_reviews(reviews, meta, name="office")
    frame = dataset.interactions.frame
    assert dataset.name == "office"
    assert frame.index.tolist() == [1, 2, 4]  # line 3 repeats (A2, P1) later than line 4
    assert frame["weight"].tolist() == [5.0, 3.0, 1.0]
    assert frame["timestamp"].tolist() == [1252800000, 1252900000, 1252000000]
    assert list(dataset.items.ids) == ["P1", "P2"]  # P9 has no review
    assert dataset.items.texts().tolist() == [
        "Swingline Stapler. Swingline. Office Products, Office & School Supplies, Staplers",
        "Pens & Pencils. Office Products",
    ]


def test_2018_json_metadata_and_description_field(tmp_path):
    reviews = write(tmp_path / "Industrial_and_Scientific_5.json", json_lines(REVIEWS_2018))
    meta = write(tmp_path / "meta_Industrial_and_Scientific.json", json_lines(META_2018))
    dataset = load_amazon_reviews(reviews, meta, text_fields=("title", "description"))
    assert dataset.name == "amazon-reviews"
    assert dataset.items.texts().tolist() == ["Lab Goggles. Clear. Anti-fog.", "Nitrile Gloves. Blue"]
    default = load_amazon_reviews(reviews, meta)
    assert default.items.texts(["B1"])[0] == "Lab Goggles. 3M. Industrial & Scientific, Safety"


def test_reviews_without_metadata_are_dropped_with_a_warning(tmp_path):
    reviews = write(tmp_path / "r.json", json_lines(REVIEWS_2018 + [
        {"reviewerID": "U3", "asin": "GONE", "overall": 1.0, "unixReviewTime": 1}]))
    meta = write(tmp_path / "m.json", json_lines(META_2018))
    with pytest.warns(UserWarning, match=r"1 review\(s\) of 1 item\(s\) have no row .* line 3"):
        assert len(load_amazon_reviews(reviews, meta).interactions) == 2
    with raises_data_error("r.json", "line 3", "drop_unknown_items=True"):
        load_amazon_reviews(reviews, meta, drop_unknown_items=False)
    with raises_data_error("none of the reviewed items"):
        load_amazon_reviews(reviews, write(tmp_path / "other.json", '{"asin": "X"}\n'))


@pytest.mark.parametrize("line, expected", [
    ('{"reviewerID": "A9", "asin": "P1", "overall": 5.0', "neither JSON nor a Python literal"),
    ('{"reviewerID": "A9", "asin": "P1", "overall": 5.0}', "has no unixReviewTime"),
    ('{"reviewerID": "A9", "asin": "P1", "overall": 5, "unixReviewTime": "09 13, 2009"}',
     "'09 13, 2009' is not an integer Unix time"),
    ('{"reviewerID": "A9", "asin": "P1", "overall": "five", "unixReviewTime": 1}',
     "column 'overall'"),
    ('["A9", "P1"]', "must be an object"),
])
def test_malformed_review_line_names_file_and_line(tmp_path, line, expected):
    text = json_lines(REVIEWS_2014[:2]) + "\n" + line + "\n"  # a blank line 3 still counts
    reviews = write(tmp_path / "reviews.json", text)
    meta = write(tmp_path / "meta.json", META_2014)
    with raises_data_error("reviews.json", "line 4", expected):
        load_amazon_reviews(reviews, meta)


def test_bad_bytes_empty_and_broken_files(tmp_path):
    meta = write(tmp_path / "meta.json", META_2014)
    latin = write(tmp_path / "latin.json", json_lines(REVIEWS_2014[:1]).encode() + b'{"a": "caf\xe9"}\n')
    with raises_data_error("latin.json", "line 2", "0xe9", "not valid UTF-8"):
        load_amazon_reviews(latin, meta)
    with raises_data_error("empty.json", "is empty"):
        load_amazon_reviews(write(tmp_path / "empty.json", "\n\n"), meta)
    cut = gzip.compress(json_lines(REVIEWS_2014).encode())[:-12]
    with raises_data_error("cut.json.gz", "broken or cut short"):
        load_amazon_reviews(write(tmp_path / "cut.json.gz", cut), meta)
    bad_meta = write(tmp_path / "bad_meta.json", META_2014 + "{'title': 'no asin'}\n")
    reviews = write(tmp_path / "reviews.json", json_lines(REVIEWS_2014))
    with raises_data_error("bad_meta.json", "line 4", "has no asin"):
        load_amazon_reviews(reviews, bad_meta)
    with raises_data_error("missing.json", "does not exist"):
        load_amazon_reviews(tmp_path / "missing.json", meta)


def test_swapped_files_say_so(tmp_path):
    reviews = write(tmp_path / "reviews.json", json_lines(REVIEWS_2014))
    meta = write(tmp_path / "meta.json", META_2014)
    with raises_data_error("reviews.json, line 1", "is a review, not metadata", "reviews="):
        load_amazon_reviews(reviews, reviews)
    with raises_data_error("meta.json, line 1", "has no reviewerID", "meta="):
        load_amazon_reviews(meta, meta)


# ReChorus (LRD) Office files; items 1-4, users 1-2.
OFFICE = {
    "Office.item2index": "B01\t1\nB02\t2\nB03\t3\nB04\t4\n",
    "Office.text": "id\ttext\nB01\tStapler Staplers Swingline\nB02\tPen Pens Bic\n"
                   "B03\tTape Tapes 3M\nB04\tClip Clips Acco\n",
    "train.csv": "user_id\titem_id\ttime\n1\t1\t100\n1\t2\t100\n2\t3\t200\n2\t1\t300\n",
    "dev.csv": "user_id\titem_id\ttime\tneg_items\n1\t3\t200\t[4, 4]\n2\t2\t300\t[4]\n",
    "test.csv": "user_id\titem_id\ttime\tneg_items\n1\t4\t200\t[2]\n2\t4\t300\t[2, 3]\n",
}
LETTER = {
    "Scientific.inter.json": '{"0": [0, 1, 2], "1": [2, 0]}',
    "Scientific.item.json": json.dumps({str(i): {
        "title": f"Item {i}", "description": "", "brand": "Acme", "categories": "Lab,Glass"}
        for i in range(3)}, indent=2),
}


def write_folder(folder, files, **changes):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**files, **changes}.items():
        (folder / name).write_text(text)
    return folder


def test_rechorus_folder(tmp_path):
    dataset = load_amazon_office(write_folder(tmp_path, OFFICE))
    assert dataset.name == "amazon-office" and dataset.split.sizes == (4, 2, 2)
    assert len(dataset.interactions) == 8
    assert dataset.interactions.frame.index.tolist() == list(range(1, 9))
    assert dataset.split.test.frame.index.tolist() == [2, 3]  # test.csv's lines
    assert dataset.split.test.source.endswith("test.csv")
    assert dataset.items.texts(["2"])[0] == "Pen Pens Bic"
    assert dataset.items.frame["asin"].tolist() == ["B01", "B02", "B03", "B04"]
    valid = dataset.negatives["valid"]
    assert valid.columns.tolist() == ["user_id", "item_id", "negatives"]
    assert valid["negatives"].tolist() == [["4", "4"], ["4"]]  # repeats kept as shipped
    assert dataset.negatives["test"]["item_id"].tolist() == ["4", "4"]


@pytest.mark.parametrize("file, changes, expected", [
    ("test.csv", {"test.csv": "user_id\titem_id\ttime\tneg_items\n1\t4\t200\t[2]\n2\t4\t300\t[4, 3]\n"},
     ["line 3", "'neg_items'", "the row's own item 4"]),
    ("dev.csv", {"dev.csv": "user_id\titem_id\ttime\tneg_items\n1\t3\t200\t[]\n2\t2\t300\t[4]\n"},
     ["line 2", "not a non-empty list of integer"]),
    ("dev.csv", {"dev.csv": "user_id\titem_id\ttime\tneg_items\n1\t3\t200\t[4]\n2\t2\t300\t[4, 'x']\n"},
     ["line 3", "not a non-empty list of integer"]),
    ("dev.csv", {"dev.csv": "user_id\titem_id\ttime\tneg_items\n1\t3\t200\t[4]\n2\t2\t300\t[9]\n"},
     ["line 3", "negative item 9 is unknown"]),
    ("train.csv", {"train.csv": "user_id\titem_id\ttime\n1\t1\t100\n1\t7\t100\n"},
     ["line 3", "'7'", "missing from the items table"]),
    ("dev.csv", {"dev.csv": "user_id\titem_id\ttime\n1\t3\t200\n"}, ["no column 'neg_items'"]),
    ("Office.item2index", {"Office.item2index": "B01\t1\nB02\t2\nB05\t3\nB04\t4\n"},
     ["line 3", "'B05' has no row in"]),
])
def test_malformed_rechorus_files_name_file_and_line(tmp_path, file, changes, expected):
    folder = write_folder(tmp_path, OFFICE, **changes)
    with raises_data_error(file, *expected):
        load_amazon_office(folder)


def test_letter_folder_positions_are_timestamps(tmp_path):
    dataset = load_amazon_scientific(write_folder(tmp_path, LETTER))
    frame = dataset.interactions.frame
    assert frame["user_id"].tolist() == ["0", "0", "0", "1", "1"]
    assert frame["timestamp"].tolist() == [0, 1, 2, 0, 1]
    assert dataset.items.texts(["1"])[0] == "Item 1. Acme. Lab,Glass"
    assert leave_one_out(dataset.interactions).test.frame["item_id"].tolist() == ["2"]
    assert dataset.split is None and dataset.negatives is None


@pytest.mark.parametrize("changes, expected", [
    ({"Scientific.item.json": LETTER["Scientific.item.json"].replace('"Acme",', '"Acme"', 1)},
     # json reports the missing comma after "Acme" (line 5) at the next key
     ["Scientific.item.json", "line 6, column 5", "not valid JSON"]),
    ({"Scientific.inter.json": '{"0": [0, 1, 7]}'}, ["Scientific.inter.json", "user '0', position 2"]),
    ({"Scientific.inter.json": '{"0": []}'}, ["user '0'", "not a non-empty list"]),
    ({"Scientific.item.json": '{"0": {"title": "x"}}'}, ["item '0'", "description, brand"]),
])
def test_malformed_letter_files(tmp_path, changes, expected):
    with raises_data_error(*expected):
        load_amazon_scientific(write_folder(tmp_path, LETTER, **changes))


@pytest.mark.parametrize("module, load, files", [
    (rechorus, load_amazon_office, OFFICE), (letter, load_amazon_scientific, LETTER)])
def test_download_into_the_cache(tmp_path, monkeypatch, module, load, files):
    source = write_folder(tmp_path / "source", files)
    md5s = {name: hashlib.md5((source / name).read_bytes()).hexdigest() for name in files}
    monkeypatch.setattr(module, "FILES", md5s)
    urls = []

    def fake(url, dest):
        urls.append(url)
        shutil.copy(source / url.rsplit("/", 1)[1], dest)

    monkeypatch.setattr(module, "_download", fake)
    cache = tmp_path / "cache"
    first = load(cache_dir=cache)
    assert sorted(urls) == sorted(module.BASE_URL + name for name in files)
    assert urls[0].startswith("https://raw.githubusercontent.com/")
    assert sorted(p.name for p in cache.iterdir()) == [first.name]
    monkeypatch.setattr(module, "_download", lambda url, dest: pytest.fail("cached"))
    assert len(load(cache_dir=cache).interactions) == len(first.interactions)


def test_a_corrupt_download_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(rechorus, "_download", lambda url, dest: dest.write_text("404: Not Found"))
    cache = tmp_path / "cache"
    with raises_data_error("Could not download amazon-office", "md5", "path="):
        load_amazon_office(cache_dir=cache)
    assert list(cache.iterdir()) == []
    with raises_data_error("lacks Office.text", "path=None"):
        load_amazon_office(write_folder(tmp_path / "partial", {"train.csv": OFFICE["train.csv"]}))


def test_real_amazon_office(shared):
    dataset = load_amazon_office(shared / "datasets" / "amazon-office")
    assert len(dataset.interactions) == 53_258
    assert dataset.split.sizes == (43_448, 4_905, 4_905)
    assert len(dataset.interactions.users) == 4_905 and len(dataset.items) == 2_420
    for part in ("valid", "test"):
        assert dataset.negatives[part]["negatives"].map(len).eq(99).all()
    # The shipped split is leave-one-out by time. In 23.7% of users the test
    # row's day equals that of an earlier row (times are day-resolution), so
    # time alone cannot tell which came last; leave_one_out's stable sort
    # breaks ties by row order, and `interactions` lists train, dev, test in
    # that order, so every user's shipped test row comes out (measured: 100%).
    ours = leave_one_out(dataset.interactions).test.frame
    shipped = dataset.split.test.frame
    same = (ours.set_index("user_id")["item_id"].sort_index()
            == shipped.set_index("user_id")["item_id"].sort_index())
    assert same.mean() == 1.0


def test_real_amazon_scientific(shared):
    dataset = load_amazon_scientific(shared / "datasets" / "amazon-scientific")
    assert len(dataset.interactions.users) == 8_317
    assert len(dataset.items) == 4_344
    assert len(dataset.interactions) == 58_492
    assert dataset.items.texts(["0"])[0].startswith("SUPCO SPP6 Relay/Capacitor")
