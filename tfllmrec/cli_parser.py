"""The `tfllmrec` command line's parser: every command's options, their types, defaults and help.

`build_parser` takes the function each command runs, so this module needs nothing of
`tfllmrec.cli`, which imports it.
"""

import argparse
import re

from tfllmrec.ranges import K, PORT, VERSION, Range
from tfllmrec.recipes.eval_config import SEQUENTIAL_BASELINES
from tfllmrec.recipes.export_config import INDEXES
from tfllmrec.recipes.export_config import RANGES as EXPORT_RANGES

DESCRIPTION = "The `tfllmrec` command line: list, init, train, evaluate, recommend, export, serve, demo."
# Here rather than beside `demo`'s code: their count bounds the `-k` option.
DEMO_TITLES = [
    "Nike Air Zoom Pegasus men's running shoe",
    "Adidas Ultraboost women's road running sneakers",
    "Leather hiking boots, waterproof",
    "Stainless steel chef knife, 8 inch",
    "Japanese santoku kitchen knife with wooden handle",
    "Non-stick frying pan, 28 cm",
    "Cast iron skillet, pre-seasoned",
    "Wireless noise-cancelling over-ear headphones",
    "Bluetooth earbuds with charging case",
    "Paperback mystery novel: a detective in Venice",
    "Hardcover fantasy epic with dragons and a lost kingdom",
    "Yoga mat, non-slip, 6 mm",
]
# Neighbours of a title among the others.
DEMO_K = Range(int, 1, len(DEMO_TITLES) - 1, example=2)


def _ranged(rule, option, fix):
    """An argparse `type` for a number in `rule` (shared with the Python API and the configs)."""
    def parse(text):
        from tfllmrec.errors import RangeError

        try:
            return rule.parse(text, option, fix)
        except RangeError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = rule.describe()
    return parse


def build_parser(runs):
    """The parser; `runs` maps each command's name to the function that runs it (`args.run`)."""
    parser = _Parser(prog="tfllmrec", description=DESCRIPTION)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up and C++ log lines (hidden by default)")
    commands = _Commands(parser.add_subparsers(dest="command", required=True), common)
    # In this order in `tfllmrec --help`.
    for name, add in (("demo", _add_demo), ("list", _add_list), ("train", _add_train),
                      ("evaluate", _add_evaluate), ("recommend", _add_recommend), ("export", _add_export),
                      ("init", _add_init), ("serve", _add_serve)):
        add(commands).set_defaults(run=runs[name])
    return parser


def _add_demo(commands):
    demo = commands.add_parser("demo", help="encode example titles and print nearest neighbours")
    demo.add_argument("--preset", default="all-minilm-l6-v2", help="encoder preset or folder")
    demo.add_argument("-k", type=_ranged(DEMO_K, "-k", "e.g. `-k 2`"), default=2,
                      help=f"neighbours per title, {DEMO_K.describe()}")
    return demo


def _add_list(commands):
    return commands.add_parser("list", help="list the registered recipes")


def _add_train(commands):
    from tfllmrec.recipes.train_config import STRATEGIES

    train = commands.add_parser("train", help="train a recipe and evaluate it against baselines")
    train.add_argument("recipe", help="recipe name (see `tfllmrec list`), folder or YAML file")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value, e.g. --set data.split_seed=7 (repeatable)")
    train.add_argument("--output", help="run folder (default runs/RECIPE)")
    train.add_argument("--overwrite", action="store_true",
                       help="replace an existing run folder (once the new run's data has loaded)")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    train.add_argument("--strategy", choices=STRATEGIES,
                       help="tf.distribute strategy: mirrored = every GPU of this machine; "
                            "multi_worker = every machine TF_CONFIG lists (see docs/scaling.md)")
    return train


def _add_evaluate(commands):
    evaluate = commands.add_parser("evaluate", help="recompute a run's test metrics")
    evaluate.add_argument("run_dir")
    return evaluate


def _add_recommend(commands):
    recommend = commands.add_parser("recommend", help="top-k items for a user or a text query")
    recommend.add_argument("run_dir")
    recommend.add_argument("--user", help="a user id of the run's data")
    recommend.add_argument("--text", help="a free-text query")
    recommend.add_argument("--profile", help="a new user's profile text (runs whose rating stage reads profiles)")
    recommend.add_argument("-k", type=_ranged(K, "-k", "e.g. `-k 10`"), default=10,
                           help=f"items to list, {K.describe()} (default 10)")
    recommend.add_argument("--new-items", metavar="FILE",
                           help="also rank these items, unseen in training (item_id,text CSV/Parquet)")
    return recommend


def _add_export(commands):
    export = commands.add_parser("export", help="write a versioned SavedModel for TF Serving")
    export.add_argument("run_dir")
    export.add_argument("--output", required=True, help="model folder, e.g. saved_models/video")
    export.add_argument("--version", type=_ranged(VERSION, "--version", "e.g. `--version 1`, or omit it"),
                        help=f"version number, {VERSION.describe()} (default: next integer)")
    export.add_argument("--retrieval-only", action="store_true",
                        help="only serving_default; no text encoder inside (small)")
    export.add_argument("--new-items", metavar="FILE",
                        help="add items unseen in training to the index (item_id,text CSV/Parquet)")
    export.add_argument("--index", choices=INDEXES,
                        help="brute: score every item (the default); ivf: an inverted-file index for "
                             "catalogues of millions (docs/scaling.md)")
    export.add_argument("--partitions", type=_ranged(EXPORT_RANGES["partitions"], "--partitions", "e.g. "
                                                     "`--partitions 1000`, or 0"),
                        help="k-means partitions of --index ivf (default: the recipe's export.partitions; "
                             "0: the square root of the catalogue size)")
    export.add_argument("--history-model", choices=SEQUENTIAL_BASELINES,
                        help="add recommend_by_history, served by this sequential model of the run")
    export.add_argument("--probe", type=_ranged(EXPORT_RANGES["probe"], "--probe", "e.g. `--probe 24`"),
                        help="partitions an ivf search scores (default: the recipe's export.probe, 24)")
    return export


def _add_init(commands):
    init = commands.add_parser("init", help="write a recipe folder for your own data files")
    init.add_argument("folder", help="the recipe folder to create, e.g. my_recipe")
    init.add_argument("--from", dest="base", default="video", help="recipe to start from")
    init.add_argument("--interactions", required=True, help="CSV/TSV/Parquet of user-item interactions")
    init.add_argument("--items", required=True, help="CSV/TSV/Parquet of items with text columns")
    return init


def _add_serve(commands):
    serve = commands.add_parser("serve", help="a local server that answers as TF Serving does, "
                                              "REST and gRPC (development)")
    serve.add_argument("models_root", help="folder of model folders, e.g. saved_models/")
    # 1-65535: the Python API's port=0 (any free port) is for tests, which read the port back.
    serve.add_argument("--port", type=_ranged(PORT, "--port", "e.g. `--port 8501`"), default=8501,
                       help=f"REST port, {PORT.describe()} (TF Serving's default 8501)")
    serve.add_argument("--grpc-port", type=_ranged(PORT, "--grpc-port", "e.g. `--grpc-port 8500`"),
                       default=8500, help=f"gRPC port, {PORT.describe()} (TF Serving's default 8500)")
    serve.add_argument("--host", default="127.0.0.1")
    return serve


class _Parser(argparse.ArgumentParser):
    """argparse, whose errors are one line, as every other error of the CLI is."""

    def error(self, message):
        # "argument -k: -k must be ..." says the option once.
        message = re.sub(r"^argument (\S+): (?=\1 )", "", message)
        hint = "" if "Fix:" in message else f" (see `{self.prog} --help`)"
        self.exit(2, f"tfllmrec: error: {message}{hint}\n")


class _Commands:
    """`add_parser` with the options every command shares."""

    def __init__(self, subparsers, common):
        self.subparsers, self.common = subparsers, common

    def add_parser(self, name, **kwargs):
        return self.subparsers.add_parser(name, parents=[self.common], **kwargs)
