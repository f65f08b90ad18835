"""MovieLens loaders: both ML-100K layouts and ml-latest-small on fixtures
written here, malformed files, and the real shared copies."""

import pytest

from tfllmrec.data import load_movielens_100k, load_movielens_latest_small
from tfllmrec.data._movielens_files import GENRES_100K
from test_data_tables import raises_data_error

TOY_STORY = "Toy Story (1995). Animation Children's Comedy"
INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
ITEM_HEADER = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
INTER_ROWS = ["196\t1\t3\t881250949", "186\t2\t3\t891717742", "22\t267\t1\t878887116",
              "196\t2\t5\t881250950"]
USERS_HEADER = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
ITEM_ROWS = ["1\tToy Story\t1995\tAnimation Children's Comedy",
             "2\tGoldenEye\t1995\tAction Adventure Thriller",
             "267\tunkonwn\tunkonwn\tunknown",
             "1412\tLand Before Time III (1995)\tV\tAnimation Children's"]


def dataset_dir(shared, name):
    path = shared / "datasets" / name
    if not path.is_dir():
        pytest.fail(f"{path} is missing: the shared datasets folder must hold {name}.")
    return path


@pytest.fixture(scope="module")
def ml100k_dir(shared):
    return dataset_dir(shared, "ml-100k")


def write_recbole(folder, inter_rows=INTER_ROWS, item_rows=ITEM_ROWS):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ml-100k.inter").write_text(INTER_HEADER + "\n".join(inter_rows) + "\n")
    (folder / "ml-100k.item").write_text(ITEM_HEADER + "\n".join(item_rows) + "\n")
    return folder


def flags(*genres):
    return "|".join("1" if g in genres else "0" for g in GENRES_100K)


def item_line(item, title, *genres):
    return f"{item}|{title}|01-Jan-1995||http://us.imdb.com/M/x|{flags(*genres)}"


def write_grouplens(folder, item_lines=None, genre_file=True, data=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(data or "196\t1\t3\t881250949\n186\t543\t4\t891717742\n")
    item_lines = item_lines or [
        item_line(1, "Toy Story (1995)", "Animation", "Children's", "Comedy"),
        item_line(543, "Misérables, Les (1995)", "Drama", "Musical"),
    ]
    (folder / "u.item").write_bytes(("\n".join(item_lines) + "\n").encode("latin-1"))
    if genre_file:
        lines = [f"{g}|{i}" for i, g in enumerate(GENRES_100K)]
        (folder / "u.genre").write_text("\n".join(lines) + "\n\n")
    return folder


# RecBole atomic files ---------------------------------------------------------

def test_users_files_give_profiles_in_both_layouts(tmp_path):
    recbole = write_recbole(tmp_path / "recbole")
    assert load_movielens_100k(recbole).users is None  # the users file is optional
    (recbole / "ml-100k.user").write_text(USERS_HEADER + "196\t49\tM\twriter\t55105\n22\t25\tF\tother\t40206\n")
    grouplens = write_grouplens(tmp_path / "grouplens")
    (grouplens / "u.user").write_bytes("196|49|M|writer|55105\n186|39|F|executive|00000\n".encode("latin-1"))
    assert load_movielens_100k(recbole).users.texts(["22", "196", "186"]).tolist() == [
        "A 25-year-old woman; occupation: other.", "A 49-year-old man; occupation: writer.", ""]
    assert load_movielens_100k(grouplens).users.texts(["186"]).tolist() == [
        "A 39-year-old woman; occupation: executive."]


def test_a_bad_age_or_a_repeated_user_names_the_users_file_and_line(tmp_path):
    folder = write_recbole(tmp_path)
    (folder / "ml-100k.user").write_text(USERS_HEADER + "196\t49\tM\twriter\t1\n22\tforty\tF\tother\t2\n")
    with raises_data_error(str(folder / "ml-100k.user"), "line 3", "'forty'", "Fix"):
        load_movielens_100k(folder)
    (folder / "ml-100k.user").write_text(USERS_HEADER + "196\t49\tM\twriter\t1\n196\t40\tF\tother\t2\n")
    with raises_data_error(str(folder / "ml-100k.user"), "'196'", "line 2", "line 3"):
        load_movielens_100k(folder)


def test_recbole_layout(tmp_path):
    dataset = load_movielens_100k(write_recbole(tmp_path))
    assert dataset.name == "ml-100k" and len(dataset.interactions) == 4
    frame = dataset.interactions.frame
    assert frame["weight"].tolist() == [3.0, 3.0, 1.0, 5.0]
    assert frame["timestamp"].tolist()[0] == 881250949
    assert frame.index.tolist() == [2, 3, 4, 5]
    assert dataset.items.texts().tolist() == [
        TOY_STORY, "GoldenEye (1995). Action Adventure Thriller", "unkonwn. unknown",
        "Land Before Time III (1995). Animation Children's"]
    assert dataset.items.text_fields == ["title", "genres"]


def test_recbole_layout_in_a_subfolder(tmp_path):
    write_recbole(tmp_path / "ml-100k")
    assert len(load_movielens_100k(tmp_path).items) == 4


@pytest.mark.parametrize("rows, words", [
    (INTER_ROWS[:1] + ["186\t2\t3\t891717742\textra"], ["line 3", "5 fields", "header (line 1) has 4"]),
    (INTER_ROWS[:2] + ["22\t267\tbad\t878887116"], ["line 4", "column 'rating:float'", "'bad'"]),
    (INTER_ROWS[:1] + ["\t2\t3\t891717742"], ["line 3", "column 'user_id:token'", "empty"]),
    (INTER_ROWS + ["5\t999\t3\t891717742"], ["1 interaction(s)", "'999' (line 6)",
                                             "add them to the items file or drop those rows"]),
])
def test_recbole_malformed_inter(tmp_path, rows, words):
    folder = write_recbole(tmp_path, inter_rows=rows)
    with raises_data_error(str(folder / "ml-100k.inter"), *words):
        load_movielens_100k(folder)


def test_recbole_duplicate_item_names_both_lines(tmp_path):
    folder = write_recbole(tmp_path, item_rows=ITEM_ROWS + ["2\tGoldenEye\t1995\tAction"])
    with raises_data_error(str(folder / "ml-100k.item"), "'2'", "line 3", "line 6",
                           "column 'item_id:token'"):
        load_movielens_100k(folder)


def test_recbole_header_without_user_column(tmp_path):
    folder = write_recbole(tmp_path)
    text = (folder / "ml-100k.inter").read_text().replace("user_id:token", "uid:token")
    (folder / "ml-100k.inter").write_text(text)
    with raises_data_error(str(folder / "ml-100k.inter"), "line 1", "user_id:<type>"):
        load_movielens_100k(folder)


# GroupLens layout -------------------------------------------------------------

@pytest.mark.parametrize("genre_file", [True, False])
def test_grouplens_layout_latin1(tmp_path, genre_file):
    dataset = load_movielens_100k(write_grouplens(tmp_path, genre_file=genre_file))
    assert dataset.items.texts().tolist() == [TOY_STORY, "Misérables, Les (1995). Drama Musical"]
    frame = dataset.interactions.frame
    assert frame.index.tolist() == [1, 2]  # u.data has no header: line 1 is data
    assert frame["item_id"].tolist() == ["1", "543"] and frame["weight"].tolist() == [3.0, 4.0]


def test_grouplens_bad_flag_names_line_and_genre(tmp_path):
    lines = [item_line(1, "Toy Story (1995)", "Comedy"),
             item_line(543, "Misérables, Les (1995)", "Drama").replace("|0|0|0|0|0", "|0|0|2|0|0", 1)]
    folder = write_grouplens(tmp_path, item_lines=lines)
    with raises_data_error(str(folder / "u.item"), "line 2", "column 'Adventure' (field 8)",
                           "'2' must be 0 or 1"):
        load_movielens_100k(folder)


def test_grouplens_short_item_line(tmp_path):
    lines = [item_line(1, "Toy Story (1995)", "Comedy"), "543|Misérables, Les (1995)|x"]
    folder = write_grouplens(tmp_path, item_lines=lines)
    with raises_data_error(str(folder / "u.item"), "line 2", "3 fields", "24",
                           "add the missing fields"):
        load_movielens_100k(folder)


def test_grouplens_bad_u_data_and_genre_files(tmp_path):
    folder = write_grouplens(tmp_path / "a", data="196\t1\t3\t881250949\n186\t543\t-4\t891717742\n")
    with raises_data_error(str(folder / "u.data"), "line 2", "column 'rating (field 3)'",
                           "negative"):
        load_movielens_100k(folder)
    folder = write_grouplens(tmp_path / "b")
    (folder / "u.genre").write_text("unknown|0\nAction|7\n")
    with raises_data_error(str(folder / "u.genre"), "line 2", "expected 1"):
        load_movielens_100k(folder)


def test_grouplens_matches_recbole_on_the_real_data(tmp_path, ml100k_dir):
    """Writes the real data in GroupLens layout; both readers must agree."""
    recbole = load_movielens_100k(ml100k_dir)
    frame, items = recbole.interactions.frame, recbole.items.frame
    folder = tmp_path / "grouplens"
    folder.mkdir()
    (folder / "u.data").write_text("".join(
        f"{u}\t{i}\t{int(w)}\t{t}\n" for u, i, w, t in frame.itertuples(index=False)))
    lines = [item_line(i, title, *genres.split()) for i, title, genres
             in items[["item_id", "title", "genres"]].itertuples(index=False)]
    (folder / "u.item").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    grouplens = load_movielens_100k(folder)
    assert (grouplens.interactions.frame.to_numpy() == frame.to_numpy()).all()
    assert (grouplens.items.texts() == recbole.items.texts()).all()


def test_folder_errors_name_both_formats(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with raises_data_error(str(tmp_path), "notes.txt", "u.data", "ml-100k.inter"):
        load_movielens_100k(tmp_path)
    with raises_data_error("does not exist"):
        load_movielens_100k(tmp_path / "nowhere")


# ml-latest-small --------------------------------------------------------------

MOVIES = ("movieId,title,genres\r\n"
          "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\r\n"
          '11,"American President, The (1995)",Comedy|Drama|Romance\r\n'
          "5,Some Film (2018),(no genres listed)\r\n")
RATINGS = ("userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n"
           "1,11,3.5,964981247\r\n2,5,0.5,1445714994\r\n")


def write_latest(folder, movies=MOVIES, ratings=RATINGS):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movies.csv").write_bytes(movies.encode())
    (folder / "ratings.csv").write_bytes(ratings.encode())
    return folder


def test_latest_small_crlf(tmp_path):
    dataset = load_movielens_latest_small(write_latest(tmp_path))
    assert dataset.name == "ml-latest-small"
    assert dataset.items.texts().tolist() == [
        "Toy Story (1995). Adventure Animation Children Comedy Fantasy",
        "American President, The (1995). Comedy Drama Romance", "Some Film (2018)"]
    assert dataset.interactions.frame["weight"].tolist() == [4.0, 3.5, 0.5]


def test_latest_small_malformed(tmp_path):
    folder = write_latest(tmp_path / "a", ratings=RATINGS.replace("3.5", "three"))
    with raises_data_error(str(folder / "ratings.csv"), "line 3", "column 'rating'", "'three'"):
        load_movielens_latest_small(folder)
    folder = write_latest(tmp_path / "b", movies=MOVIES.replace("genres", "genre", 1))
    with raises_data_error(str(folder / "movies.csv"), "line 1", "'genres'",
                           "Did you mean 'genre'?"):
        load_movielens_latest_small(folder)
    with raises_data_error("no movies.csv and ratings.csv"):
        load_movielens_latest_small(tmp_path)


# The real shared copies -------------------------------------------------------

def test_real_ml_100k(ml100k_dir):
    dataset = load_movielens_100k(ml100k_dir)
    assert len(dataset.interactions) == 100_000
    assert len(dataset.interactions.users) == 943
    assert len(dataset.items) == 1682 and len(dataset.interactions.items) == 1682
    assert dataset.items.texts(["1"])[0] == TOY_STORY
    assert dataset.interactions.has_timestamps


def test_real_ml_latest_small(shared):
    dataset = load_movielens_latest_small(dataset_dir(shared, "ml-latest-small"))
    assert len(dataset.interactions) == 100_836
    assert len(dataset.interactions.users) == 610 and len(dataset.items) == 9742
    assert set(dataset.interactions.frame["weight"]) <= {x / 2 for x in range(1, 11)}
