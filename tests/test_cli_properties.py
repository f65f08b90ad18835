"""Property: any value outside an option's range, or a config value's, is one clean error.

For every numeric command-line option, and every numeric config value given
with `--set`, values drawn from outside its range (below it, above it,
NaN, infinities, fractions for integers) make the command exit 2 with one
line, `tfllmrec: error: NAME must be ...` naming the option or key, its
range and the fix, without a traceback and before anything is written.
The commands run in-process (`test_cli_bad_inputs` checks that this is
what the installed command prints).
"""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_cli_bad_inputs import run_cli
from tfllmrec.cli_parser import DEMO_K
from tfllmrec.model_rules import RANGES as MODEL_RANGES
from tfllmrec.ranges import K, PORT, VERSION
from tfllmrec.recipes.data_config import RANGES as DATA_RANGES
from tfllmrec.recipes.export_config import RANGES as EXPORT_RANGES
from tfllmrec.recipes.ranking_config import RANGES as RANKING_RANGES
from tfllmrec.recipes.search_config import RANGES as SEARCH_RANGES
from tfllmrec.recipes.sequence_config import RANGES as SEQUENCE_RANGES
from tfllmrec.recipes.train_config import RANGES as TRAIN_RANGES

# (command line before the option, the option, its rule)
OPTIONS = [
    (["recommend", "RUN", "--user", "196"], "-k", K),
    (["recommend", "RUN", "--text", "space adventure"], "-k", K),
    (["demo"], "-k", DEMO_K),
    (["export", "RUN", "--output", "saved_models/video"], "--version", VERSION),
    (["serve", "saved_models"], "--port", PORT),
    (["serve", "saved_models"], "--grpc-port", PORT),
    (["export", "RUN", "--output", "saved_models/video", "--index", "ivf"], "--partitions", EXPORT_RANGES["partitions"]),
    (["export", "RUN", "--output", "saved_models/video", "--index", "ivf"], "--probe", EXPORT_RANGES["probe"]),
]
# Every numeric config value with a range, by its key.
KEYS = sorted(
    [(f"{section}.{name}", rule) for section in ("train", "baseline_train", "ranking.train", "sequence.train")
     for name, rule in TRAIN_RANGES.items()]
    + [(f"ranking.{name}", rule) for name, rule in RANKING_RANGES.items()]
    + [(f"{section}.{name}", rule) for section in ("model", "baseline_model") for name, rule in MODEL_RANGES.items()]
    + [(f"data.{name}", rule) for name, rule in DATA_RANGES.items()]
    + [(f"export.{name}", rule) for name, rule in EXPORT_RANGES.items()]
    + [(f"search.{name}", rule) for name, rule in SEARCH_RANGES.items()]
    + [(f"sequence.{name}", rule) for name, rule in SEQUENCE_RANGES.items()],
    key=lambda pair: pair[0])
FAST = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def outside(rule):
    """Values of `rule`'s kind, or near it, that are not in its range."""
    near = []
    if rule.kind is int:
        if rule.low is not None:
            near.append(st.integers(max_value=rule.low - (0 if rule.low_open else 1)))
        if rule.high is not None:
            near.append(st.integers(min_value=rule.high + (0 if rule.high_open else 1)))
        near.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer()))
    else:
        if rule.low is not None:
            near.append(st.floats(max_value=rule.low, allow_nan=False))
        if rule.high is not None:
            near.append(st.floats(min_value=rule.high, allow_nan=False))
        near.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    return st.one_of(near).filter(lambda v: not rule.contains(v))


def assert_names(result, name):
    code, out, err = result
    assert "Traceback" not in err
    assert (code, out) == (2, ""), err
    [line] = err.splitlines()
    assert line.startswith(f"tfllmrec: error: {name} must be "), line
    assert "Fix: " in line, line


@pytest.mark.parametrize("prefix,option,rule", OPTIONS, ids=[f"{p[0]} {o}" for p, o, _ in OPTIONS])
@FAST
@given(data=st.data())
def test_an_option_out_of_range_is_one_line_naming_it(tmp_path, monkeypatch, prefix, option, rule, data):
    monkeypatch.chdir(tmp_path)
    value = data.draw(outside(rule), label=option)
    # OPTION=VALUE: argparse would read "-1e-05" after an option as an option of its own.
    assert_names(run_cli([*prefix, f"{option}={value!r}"]), option)
    if rule.kind is int and isinstance(value, int):  # the exact message, value and all
        _, _, err = run_cli([*prefix, option, str(value)])
        assert err.startswith(f"tfllmrec: error: {option} must be {rule.describe()}, got {value}. Fix: e.g. `")
    assert not any(tmp_path.iterdir())


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_config_value_out_of_range_is_one_line_naming_its_key(tmp_path, data):
    key, rule = data.draw(st.sampled_from(KEYS), label="key")
    value = data.draw(outside(rule), label=key)
    output = tmp_path / "never"
    assert_names(run_cli(["train", "video", "--set", f"{key}={value!r}", "--output", output]), key)
    assert not output.exists()


def test_every_numeric_option_and_config_field_is_covered():
    """A numeric option or config field added without a range would escape the properties above."""
    import dataclasses
    import typing

    from tfllmrec.cli import build_parser
    from tfllmrec.recipes import RecipeConfig

    numeric = set()
    for section in dataclasses.fields(RecipeConfig):
        hints = typing.get_type_hints(section.type) if dataclasses.is_dataclass(section.type) else {}
        numeric |= {f"{section.name}.{n}" for n, h in hints.items() if h in (int, float)}
    covered = {key for key, _ in KEYS}
    assert numeric - covered == set()
    parser = build_parser()
    typed = {(name, action.option_strings[0]) for name, sub in parser._subparsers._group_actions[0].choices.items()
             for action in sub._actions if action.type is not None}
    assert typed == {(p[0], o) for p, o, _ in OPTIONS}
