"""Last.fm-2k loader: Latin-1 tags load, artist text = name + top tags."""

import pytest

from tfllmrec.data import load_lastfm_2k
from tfllmrec.errors import DataError


def _write(folder, tags_encoding="latin-1", plays="userID\tartistID\tweight\n2\t51\t100\n3\t52\t7\n"):
    (folder / "artists.dat").write_text(
        "id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://x\thttp://y\n52\tCéline Dion\thttp://x\thttp://y\n",
        encoding="utf-8")
    (folder / "user_artists.dat").write_text(plays)
    (folder / "tags.dat").write_bytes(
        "tagID\ttagValue\n1\tnew wave\n2\trock français\n3\tpop\n".encode(tags_encoding))
    (folder / "user_taggedartists.dat").write_text(
        "userID\tartistID\ttagID\tday\tmonth\tyear\n"
        "2\t51\t1\t1\t4\t2009\n3\t51\t1\t1\t4\t2009\n2\t51\t3\t1\t4\t2009\n2\t52\t2\t1\t4\t2009\n")
    return folder


def test_small_folder_with_latin1_tags(tmp_path):
    dataset = load_lastfm_2k(_write(tmp_path), top_tags=2)
    assert dataset.items.texts(["51", "52"]).tolist() == [
        "Duran Duran. new wave, pop",        # "new wave" twice, "pop" once
        "Céline Dion. rock français",
    ]
    frame = dataset.interactions.frame
    assert frame["weight"].tolist() == [100.0, 7.0]


def test_malformed_play_row_names_file_and_line(tmp_path):
    _write(tmp_path, plays="userID\tartistID\tweight\n2\t51\t100\n3\t52\n")
    with pytest.raises(DataError, match=r"user_artists\.dat.*line 3"):
        load_lastfm_2k(tmp_path)


def test_missing_files_say_what_to_pass(tmp_path):
    with pytest.raises(DataError, match=r"lacks \['artists\.dat'.*hetrec2011-lastfm-2k"):
        load_lastfm_2k(tmp_path)


def test_real_lastfm_2k(shared):
    dataset = load_lastfm_2k(shared / "datasets" / "lastfm-2k")
    assert len(dataset.interactions) == 92_834
    assert len(dataset.interactions.users) == 1_892
    assert len(dataset.items) == 17_632
    texts = dataset.items.texts()
    assert any(t.endswith("tropicália, rock progressivo") for t in texts)  # a Latin-1 tag, decoded
    assert dataset.items.texts(["51"])[0].startswith("Duran Duran. 80s, new wave")
