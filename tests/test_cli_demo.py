"""`tfllmrec demo` (what `make quickstart` runs) finds sensible neighbours."""

from tfllmrec.cli import DEMO_TITLES, main


def _neighbours(output):
    result, current = {}, None
    for line in output.splitlines():
        if line and not line.startswith(" ") and line in DEMO_TITLES:
            current = line
            result[current] = []
        elif current and line.startswith("    "):
            result[current].append(line.strip().split("  ", 1)[1])
    return result


def test_demo_neighbours_make_sense(capsys):
    assert main(["demo", "-k", "1"]) == 0
    nearest = _neighbours(capsys.readouterr().out)
    assert len(nearest) == len(DEMO_TITLES)
    shoes = {DEMO_TITLES[0], DEMO_TITLES[1]}
    knives = {DEMO_TITLES[3], DEMO_TITLES[4]}
    pans = {DEMO_TITLES[5], DEMO_TITLES[6]}
    audio = {DEMO_TITLES[7], DEMO_TITLES[8]}
    for group in (shoes, knives, pans, audio):
        for title in group:
            assert nearest[title][0] in group - {title}, (title, nearest[title])


def test_demo_unknown_preset_is_a_clean_error(capsys):
    assert main(["demo", "--preset", "no-such-model"]) == 2
    assert "Unknown encoder preset" in capsys.readouterr().err
