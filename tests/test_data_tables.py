"""Interactions, Items and Dataset built in memory: schema, validation, errors."""

import numpy as np
import pandas as pd
import pytest

from tfllmrec.data import Dataset, Interactions, Items
from tfllmrec.errors import DataError


def raises_data_error(*parts):
    """Context manager: a DataError (exactly) whose message holds every part and a fix."""

    class _Check:
        def __enter__(self):
            self.raises = pytest.raises(DataError)
            self.info = self.raises.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.raises.__exit__(*exc)
            assert type(self.info.value) is DataError
            message = str(self.info.value)
            for part in (*parts, "Fix:"):
                assert part in message, f"{part!r} not in {message!r}"
            return handled

    return _Check()


def inter_frame(**overrides):
    frame = pd.DataFrame({
        "user_id": ["u1", "u1", "u2"],
        "item_id": ["i1", "i2", "i1"],
        "weight": [4.0, 5.0, 1.5],
        "timestamp": [100, 200, 300],
    })
    for key, value in overrides.items():
        frame[key] = value
    return frame


def item_frame():
    return pd.DataFrame({
        "item_id": ["i1", "i2", "i3"],
        "title": ["Toy Story (1995)", "Great pen.", None],
        "genres": ["Animation Children's Comedy", "Office", ""],
        "year": [1995, np.nan, 2001],
    })


# Interactions ---------------------------------------------------------------

def test_interactions_schema_and_views():
    frame = pd.DataFrame({"user_id": [2, 1, 2], "item_id": [10, 10, 30], "extra": [0, 0, 0]})
    interactions = Interactions(frame, source="mem")
    out = interactions.frame
    assert list(out.columns) == ["user_id", "item_id", "weight", "timestamp"]
    assert out["user_id"].tolist() == ["2", "1", "2"]
    assert out["weight"].dtype == np.float64 and (out["weight"] == 1.0).all()
    assert str(out["timestamp"].dtype) == "Int64" and out["timestamp"].isna().all()
    assert not interactions.has_timestamps
    assert len(interactions) == 3 and interactions.source == "mem"
    assert interactions.users.tolist() == ["1", "2"]
    assert interactions.items.tolist() == ["10", "30"]
    assert isinstance(interactions.users, np.ndarray)
    assert "3 rows" in repr(interactions)


def test_interactions_keep_the_index_and_parse_times():
    frame = inter_frame(timestamp=["2000-01-01", "2000-01-01T00:00:10Z", ""])
    frame.index = pd.Index([2, 3, 4], name="line")
    interactions = Interactions(frame)
    assert interactions.frame.index.tolist() == [2, 3, 4]
    assert interactions.frame["timestamp"].tolist()[:2] == [946684800, 946684810]
    assert interactions.frame["timestamp"].isna().tolist() == [False, False, True]
    millis = Interactions(inter_frame(timestamp=[964982703000, 964982704500, 964982705000]))
    assert millis.frame["timestamp"].tolist() == [964982703, 964982704, 964982705]
    dates = Interactions(inter_frame(timestamp=pd.to_datetime(["1970-01-02"] * 3)))
    assert dates.frame["timestamp"].tolist() == [86400] * 3
    assert dates.has_timestamps


def test_interactions_missing_columns_lists_present_and_missing():
    frame = pd.DataFrame({"customer": ["a"], "item_id": ["b"]})
    with raises_data_error("'user_id'", "['customer', 'item_id']", "<memory>") as info:
        Interactions(frame)
    assert "missing" in str(info.value)


def test_interactions_empty_needs_the_flag():
    frame = inter_frame().iloc[:0]
    with raises_data_error("no interactions"):
        Interactions(frame)
    assert len(Interactions(frame, allow_empty=True)) == 0


@pytest.mark.parametrize("column, value, words", [
    ("user_id", None, ["column 'user_id'", "missing"]),
    ("item_id", "  ", ["column 'item_id'", "empty"]),
    ("weight", "lots", ["column 'weight'", "'lots' is not a number"]),
    ("weight", -1.0, ["column 'weight'", "-1.0 is negative"]),
    ("weight", np.inf, ["column 'weight'", "not finite"]),
    ("timestamp", "someday", ["column 'timestamp'", "'someday' is neither"]),
])
def test_interactions_bad_value_names_row_and_column(column, value, words):
    frame = inter_frame(timestamp=["2000-01-01"] * 3)
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    with raises_data_error("<memory>, row with index label 1", *words):
        Interactions(frame)


def test_interactions_error_names_the_file_line():
    frame = inter_frame(weight=["1", "2", "x"])
    frame.index = pd.Index([2, 3, 5], name="line")
    with raises_data_error("ratings.csv, line 5, column 'weight'"):
        Interactions(frame, source="ratings.csv")


def test_interactions_numbers_and_dates_mixed_name_a_row_of_each():
    frame = inter_frame(timestamp=["2000-01-01", "964982703", "2000-01-02"])
    with raises_data_error("label 0", "label 1", "mixes Unix times and dates"):
        Interactions(frame)


def test_interactions_mixed_time_units_name_a_row_of_each():
    frame = inter_frame(timestamp=[964982703, 964982703000, 964982703])
    frame.index = pd.Index([2, 3, 4], name="line")
    with raises_data_error("line 2", "line 3", "mixes units"):
        Interactions(frame, source="f.csv")


def test_filter_returns_new_interactions():
    interactions = Interactions(inter_frame())
    kept = interactions.filter(interactions.frame["weight"] >= 4)
    assert isinstance(kept, Interactions) and len(kept) == 2 and len(interactions) == 3
    assert kept.frame.index.tolist() == [0, 1]
    assert len(interactions.filter([False] * 3, allow_empty=True)) == 0
    with raises_data_error("keeps none"):
        interactions.filter([False] * 3)
    with raises_data_error("shape (2,)"):
        interactions.filter([True, False])


# Items ------------------------------------------------------------------------

def test_items_texts_join_fields():
    items = Items(item_frame(), ["title", "genres"], categorical_fields=["year"])
    assert items.texts().tolist() == [
        "Toy Story (1995). Animation Children's Comedy",
        "Great pen. Office",
        "",
    ]
    assert items.texts(["i2", "i1"]).tolist() == [
        "Great pen. Office", "Toy Story (1995). Animation Children's Comedy"]
    assert items.ids.tolist() == ["i1", "i2", "i3"] and len(items) == 3
    assert items.frame["year"].tolist() == ["1995", "", "2001"]
    assert items.text_fields == ["title", "genres"]
    assert items.categorical_fields == ["year"]


def test_items_index_of():
    items = Items(item_frame(), ["title"])
    assert items.index_of(["i3", "i1", "i3"]).tolist() == [2, 0, 2]
    assert items.index_of("i2").tolist() == [1]
    with raises_data_error("7 item id(s)", "'x0'", "'x4'", "and 2 more", "<memory>") as info:
        items.index_of(["i1"] + [f"x{i}" for i in range(7)])
    assert "'x5'" not in str(info.value)


def test_items_duplicate_id_names_both_rows():
    frame = item_frame()
    frame.loc[2, "item_id"] = "i1"
    frame.index = pd.Index([2, 3, 4], name="line")
    with raises_data_error("items.csv", "column 'item_id'", "'i1'", "line 2", "line 4"):
        Items(frame, ["title"], source="items.csv")


def test_items_missing_field_suggests_a_name():
    with raises_data_error("'titel'", "Did you mean 'title'?"):
        Items(item_frame(), ["titel"])
    with raises_data_error("no text fields"):
        Items(item_frame(), [])


# Dataset ----------------------------------------------------------------------

def test_dataset_accepts_matching_tables():
    dataset = Dataset("toy", Interactions(inter_frame()), Items(item_frame(), ["title"]))
    assert dataset.name == "toy" and len(dataset.items) == 3
    assert "3 interactions" in repr(dataset)


def test_dataset_unknown_items_name_rows_and_fix():
    frame = pd.DataFrame({"user_id": ["u"] * 8, "item_id": ["i1"] + [f"z{i}" for i in range(7)]})
    frame.index = pd.Index(range(2, 10), name="line")
    interactions = Interactions(frame, source="orders.csv")
    items = Items(item_frame(), ["title"], source="products.csv")
    with raises_data_error("orders.csv", "products.csv", "7 interaction(s)", "'z0' (line 3)",
                           "'z4' (line 7)", "add them to the items file or drop those rows"
                           ) as info:
        Dataset("x", interactions, items)
    assert "z5" not in str(info.value)
    with pytest.raises(TypeError):
        Dataset("x", frame, items)
