"""load_tabular: CSV/TSV/Parquet with a column mapping, and every malformed-file error."""

import pandas as pd
import pytest

from tfllmrec.data import load_tabular
from tfllmrec.errors import DataError, MissingPackageError
from test_data_tables import raises_data_error

COLUMNS = {"user_id": "customer", "item_id": "sku", "weight": "qty", "timestamp": "ts"}
ORDERS = ("customer,sku,qty,ts\n"
          "c1,007,2,1600000000\n"
          "c1,042,1,1600000100\n"
          "c2,007,3.5,1600000200\n")
PRODUCTS = ("sku\tname\tdescription\tbrand\n"
            "007\tBlue pen\tWrites smoothly.\tAcme\n"
            "042\tStapler\t\tAcme\n")


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def load(tmp_path, orders=ORDERS, products=PRODUCTS, columns=COLUMNS, **kwargs):
    orders_path = write(tmp_path / kwargs.pop("orders_name", "orders.csv"), orders)
    products_path = write(tmp_path / kwargs.pop("products_name", "products.tsv"), products)
    return load_tabular(orders_path, products_path, columns, ["name", "description"], **kwargs)


def test_csv_and_tsv_with_a_mapping(tmp_path):
    dataset = load(tmp_path, categorical_fields=["brand"], name="shop")
    frame = dataset.interactions.frame
    assert dataset.name == "shop"
    assert frame["item_id"].tolist() == ["007", "042", "007"]  # ids stay strings
    assert frame["weight"].tolist() == [2.0, 1.0, 3.5]
    assert frame["timestamp"].tolist() == [1600000000, 1600000100, 1600000200]
    assert dataset.items.texts().tolist() == ["Blue pen. Writes smoothly.", "Stapler"]
    assert dataset.items.frame["brand"].tolist() == ["Acme", "Acme"]


def test_bom_crlf_and_blank_lines_simply_work(tmp_path):
    orders = "\ufeff" + ORDERS.replace("\n", "\r\n").replace("c1,042", "\r\nc1,042")
    products = "\ufeff" + PRODUCTS.replace("\n", "\r\n")
    dataset = load(tmp_path, orders, products)
    assert dataset.interactions.frame.index.tolist() == [2, 4, 5]  # line numbers
    assert dataset.items.ids.tolist() == ["007", "042"]


def test_optional_columns_and_items_id_mapping(tmp_path):
    products = PRODUCTS.replace("sku\t", "product_id\t", 1)
    dataset = load(tmp_path, products=products,
                   columns={"user_id": "customer", "item_id": "sku",
                            "items_item_id": "product_id"})
    frame = dataset.interactions.frame
    assert frame["weight"].tolist() == [1.0] * 3 and frame["timestamp"].isna().all()


def test_timestamp_formats(tmp_path):
    millis = ORDERS.replace("1600000000", "1600000000000").replace(
        "1600000100", "1600000100500").replace("1600000200", "1600000200000")
    (tmp_path / "ms").mkdir()
    frame = load(tmp_path / "ms", millis).interactions.frame
    assert frame["timestamp"].tolist() == [1600000000, 1600000100, 1600000200]
    iso = ORDERS.replace("1600000000", "2020-09-13T12:26:40Z").replace(
        "1600000100", "2020-09-13 12:28:20").replace("1600000200", "")
    (tmp_path / "iso").mkdir()
    frame = load(tmp_path / "iso", iso).interactions.frame
    assert frame["timestamp"].tolist()[:2] == [1600000000, 1600000100]
    assert pd.isna(frame["timestamp"].iloc[2])


@pytest.mark.parametrize("old, new, words", [
    ("1600000100", "1600000100000", ["line 2", "line 3", "column 'ts'", "mixes units"]),
    ("1600000100", "2020-09-13", ["line 2", "line 3", "mixes Unix times and dates"]),
    ("c1,042,1,", "c1,042,lots,", ["line 3", "column 'qty'", "'lots' is not a number"]),
    ("c1,042,1,", "c1,042,-1,", ["line 3", "column 'qty'", "is negative"]),
    ("c1,042,1,", "c1,042,,", ["line 3", "column 'qty'", "weight is empty"]),
    ("c2,007,", ",007,", ["line 4", "column 'customer'", "id is empty"]),
    ("c2,007,3.5,1600000200", ",,,", ["line 4", "column 'customer'", "id is empty"]),
    ("c1,042,1,1600000100", "c1,042,1,1600000100,x",
     ["line 3", "5 fields", "header (line 1) has 4", "quote fields that contain a comma"]),
    ("c2,007,3.5,1600000200", "c2,999,3.5,1600000200",
     ["1 interaction(s)", "'999' (line 4)", "products.tsv", "add them to the items file"]),
])
def test_malformed_interactions(tmp_path, old, new, words):
    with raises_data_error(str(tmp_path / "orders.csv"), *words):
        load(tmp_path, ORDERS.replace(old, new, 1))


def test_quoted_field_spanning_lines_keeps_line_numbers_exact(tmp_path):
    orders = ('customer,sku,qty,ts,note\n'
              'c1,007,2,1600000000,"first line\nsecond line"\n'
              'c1,042,x,1600000100,\n')
    with raises_data_error("line 4", "column 'qty'"):
        load(tmp_path, orders)


def test_missing_mapped_column_suggests_the_closest(tmp_path):
    with raises_data_error(str(tmp_path / "orders.csv"), "line 1", "no column 'qty'",
                           "columns['weight']", "'customer', 'sku', 'quantity', 'ts'",
                           "Did you mean 'quantity'?"):
        load(tmp_path, ORDERS.replace(",qty,", ",quantity,"))
    write(tmp_path / "orders.csv", ORDERS)
    with raises_data_error(str(tmp_path / "products.tsv"), "'descripton'",
                           "Did you mean 'description'?"):
        load_tabular(tmp_path / "orders.csv", tmp_path / "products.tsv", COLUMNS,
                     ["name", "descripton"])


@pytest.mark.parametrize("content, words", [
    (b"", ["empty (0 bytes)"]),
    (b"customer,sku,qty,ts\r\n\r\n", ["has a header (line 1) but no data rows"]),
    (b"customer,sku,qty,ts\nc1,007,2,1600000000\nc\xe9,042,1,1600000100\n",
     ["line 3", "byte 0xe9", "byte offset 41", "not valid UTF-8", "re-encode", "iconv"]),
    (b"\xef\xbb\xbfcustomer,sku,sku,ts\nc1,007,2,1\n", ["line 1", "'sku' twice"]),
])
def test_unreadable_files(tmp_path, content, words):
    with raises_data_error(str(tmp_path / "orders.csv"), *words):
        load(tmp_path, content)


def test_path_and_format_errors(tmp_path):
    write(tmp_path / "products.tsv", PRODUCTS)
    with raises_data_error(str(tmp_path / "nope.csv"), "does not exist"):
        load_tabular(tmp_path / "nope.csv", tmp_path / "products.tsv", COLUMNS, ["name"])
    write(tmp_path / "orders.dat", ORDERS.replace(",", "|"))
    with raises_data_error("orders.dat", "'.dat'", "delimiter="):
        load_tabular(tmp_path / "orders.dat", tmp_path / "products.tsv", COLUMNS, ["name"])
    with raises_data_error("products.tsv", "read as one column", "delimiter"):
        load_tabular(tmp_path / "orders.dat", tmp_path / "products.tsv", COLUMNS, ["name"],
                     delimiter="|")  # the delimiter applies to both files
    write(tmp_path / "products.txt", PRODUCTS.replace("\t", "|"))
    dataset = load_tabular(tmp_path / "orders.dat", tmp_path / "products.txt", COLUMNS,
                           ["name"], delimiter="|")
    assert len(dataset.interactions) == 3
    with raises_data_error("unknown key(s) ['rating']"):
        load(tmp_path, columns={**COLUMNS, "rating": "qty"})
    with raises_data_error("missing key(s) ['user_id']"):
        load(tmp_path, columns={"item_id": "sku"})


def test_duplicate_item_names_both_lines(tmp_path):
    with raises_data_error(str(tmp_path / "products.tsv"), "column 'sku'", "'007'",
                           "line 2", "line 4"):
        load(tmp_path, products=PRODUCTS + "007\tRed pen\tSame id\tAcme\n")


def test_parquet(tmp_path):
    pd.DataFrame({"customer": ["c1", "c2"], "sku": [7, 42], "qty": [1.0, -2.0]}).to_parquet(
        tmp_path / "orders.parquet")
    pd.DataFrame({"sku": [7, 42], "name": ["Blue pen", "Stapler"]}).to_parquet(
        tmp_path / "products.pq")
    columns = {"user_id": "customer", "item_id": "sku", "weight": "qty"}
    with raises_data_error("orders.parquet, row 2, column 'qty'", "is negative"):
        load_tabular(tmp_path / "orders.parquet", tmp_path / "products.pq", columns, ["name"])
    pd.DataFrame({"customer": ["c1", "c2"], "sku": [7, 42], "qty": [1.0, 2.0]}).to_parquet(
        tmp_path / "orders.parquet")
    dataset = load_tabular(tmp_path / "orders.parquet", tmp_path / "products.pq", columns,
                           ["name"])
    assert dataset.interactions.frame["item_id"].tolist() == ["7", "42"]
    assert dataset.items.texts(["42"]).tolist() == ["Stapler"]


def test_parquet_errors(tmp_path, monkeypatch):
    write(tmp_path / "products.tsv", PRODUCTS)
    write(tmp_path / "empty.parquet", b"")
    with raises_data_error("empty.parquet", "empty (0 bytes)"):
        load_tabular(tmp_path / "empty.parquet", tmp_path / "products.tsv", COLUMNS, ["name"])
    write(tmp_path / "orders.parquet", b"PAR1 not really")

    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    with pytest.raises(MissingPackageError, match="pip install pyarrow"):
        load_tabular(tmp_path / "orders.parquet", tmp_path / "products.tsv", COLUMNS, ["name"])

    def broken(*args, **kwargs):
        raise OSError("Parquet magic bytes not found")

    monkeypatch.setattr(pd, "read_parquet", broken)
    with raises_data_error("orders.parquet", "not a readable Parquet file", "magic bytes"):
        load_tabular(tmp_path / "orders.parquet", tmp_path / "products.tsv", COLUMNS, ["name"])
    assert issubclass(DataError, ValueError)
