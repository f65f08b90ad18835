"""The `tfllmrec` command line: list, init, train, evaluate, recommend, export, serve, demo."""

import argparse
import json
import os
import re
import sys

from tfllmrec.ranges import K, PORT, VERSION, Range
from tfllmrec.recipes.eval_config import SEQUENTIAL_BASELINES
from tfllmrec.recipes.export_config import INDEXES
from tfllmrec.recipes.export_config import RANGES as EXPORT_RANGES

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


def _demo(args):
    import numpy as np

    from tfllmrec.encoders import TextEncoder

    encoder = TextEncoder.from_preset(args.preset, sequence_length=64)
    vectors = encoder.encode(DEMO_TITLES)
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    print(f"Nearest neighbours by {args.preset} (cosine similarity):\n")
    for i, title in enumerate(DEMO_TITLES):
        best = np.argsort(-scores[i])[: args.k]
        print(title)
        for j in best:
            print(f"    {scores[i, j]:.3f}  {DEMO_TITLES[j]}")
    return 0


def _list(args):
    from tfllmrec.recipes import get_recipe, recipe_names

    for name in recipe_names():
        print(f"{name:12s} {get_recipe(name).description}")
    return 0


def _train(args):
    from tfllmrec.recipes import get_recipe, to_yaml, with_overrides
    from tfllmrec.recipes.pipeline import train_recipe

    overrides = list(args.set or [])
    if args.strategy:
        overrides += [f"{section}.strategy={args.strategy}" for section in ("train", "baseline_train", "ranking.train")]
    config = with_overrides(get_recipe(args.recipe), overrides)
    if args.print_config:
        print(to_yaml(config), end="")
        return 0
    output = args.output or os.path.join("runs", config.name)
    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    metrics = train_recipe(config, output, overwrite=args.overwrite, verbose=verbose)
    _print_summary(config, metrics)
    print(f"\nRun written to {output} (config.yaml, metrics.json, checkpoints/, logs for TensorBoard)")
    return 0


def _print_summary(config, metrics):
    from tfllmrec.tasks import task_for

    print("\n" + "\n".join(task_for(config).summary_lines(metrics, tuple(config.eval.ks))))


def _evaluate(args):
    from tfllmrec.recipes.trained_run import TrainedRun

    print(json.dumps(TrainedRun(args.run_dir).evaluate(), indent=2))
    return 0


def _recommend(args):
    from tfllmrec.errors import ConfigError
    from tfllmrec.recipes.trained_run import TrainedRun

    if sum(given is not None for given in (args.user, args.text, args.profile)) != 1:  # before the run loads
        raise ConfigError("give exactly one of --user ID, --text QUERY or --profile TEXT. Fix: e.g. "
                          f"`tfllmrec recommend {args.run_dir} --user 196`.")
    run = TrainedRun(args.run_dir)
    if args.new_items:
        print(f"Added {run.add_items_from_file(args.new_items)} new items from {args.new_items}")
    if args.user is not None:
        ranked = run.ranker is not None and not args.new_items
        results = run.recommend_for_user(args.user, k=args.k, ranked=ranked)
        score = "predicted rating" if run.config.ranking.objective == "rating" else "score"
        stages = (f" (the best {run.config.export.rank_candidates} retrieved, ordered by the ranking stage's "
                  f"{score})" if ranked else "")
        print(f"Top {len(results)} for user {args.user}{stages}:")
    elif args.profile is not None:
        results = run.recommend_for_profile(args.profile, k=args.k)
        print(f"Top {len(results)} for a new user, {args.profile!r} (the rating stage's predicted rating):")
    else:
        results = run.recommend_for_text(args.text, k=args.k)
        print(f"Top {len(results)} for {args.text!r}:")
    for rank, (item_id, text, score) in enumerate(results, 1):
        print(f"{rank:3d}. {score:7.4f}  [{item_id}] {text}")
    return 0


def _export(args):
    from tfllmrec.recipes.export_run import export_run

    index = {name: getattr(args, name) for name in ("index", "partitions", "probe", "history_model")
             if getattr(args, name) is not None}
    path = export_run(args.run_dir, args.output, version=args.version,
                      retrieval_only=args.retrieval_only, new_items=args.new_items, **index)
    print(f"Exported {path} (models.config updated in {os.path.dirname(os.path.dirname(path))})")
    return 0


def _init(args):
    from tfllmrec.recipes.init_recipe import init_recipe

    config, guessed = init_recipe(args.folder, args.base, args.interactions, args.items)
    print(f"Wrote {os.path.join(args.folder, 'config.yaml')} (from the {args.base!r} recipe).")
    print("Guessed from the headers and checked against the values (edit config.yaml to change):")
    columns, (matched, total) = guessed["columns"], guessed["matched"]
    id_key = "items_item_id" if "items_item_id" in columns else "item_id"  # the items file's id column
    found = f" ({matched} of {total} item ids found in {args.items} column {columns[id_key]!r})"
    for ours, theirs in columns.items():
        print(f"  {ours:14s} <- {theirs}{found if ours == id_key else ''}")
    print(f"  {'item text':14s} <- {', '.join(guessed['text_fields'])}")
    for note in guessed["notes"]:
        print(f"  note: {note}")
    print(f"Train it with: tfllmrec train {args.folder} --output runs/{config.name}")
    return 0


def _serve(args):
    from tfllmrec.serving import serve

    # Before serving: werkzeug and grpc report a port they cannot bind with
    # lines of their own and exit 1; here it is one error naming the option.
    if args.port == args.grpc_port:
        from tfllmrec.errors import ConfigError

        raise ConfigError(f"--port and --grpc-port are both {args.port}: REST and gRPC each need a port "
                          "of their own. Fix: e.g. --port 8501 --grpc-port 8500.")
    for option, port in (("--port", args.port), ("--grpc-port", args.grpc_port)):
        _check_can_listen(args.host, port, option)
    serve(args.models_root, host=args.host, port=args.port, grpc_port=args.grpc_port)
    return 0


def _check_can_listen(host, port, option):
    import socket

    from tfllmrec.errors import ConfigError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as error:
        raise ConfigError(f"--host {host!r} is not a host name or address of this machine ({error}). "
                          "Fix: e.g. --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every "
                          "interface).") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            probe.bind(address)
        except OSError as error:
            raise ConfigError(
                f"{option} {port}: cannot listen on {host}:{port} ({error.strerror or error}). Fix: "
                f"choose another {option} (another program may be using {port}; ports below 1024 "
                "need root), or another --host.") from None


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


def build_parser():
    from tfllmrec.recipes.train_config import STRATEGIES

    parser = _Parser(prog="tfllmrec", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up and C++ log lines (hidden by default)")
    commands = _Commands(parser.add_subparsers(dest="command", required=True), common)
    demo = commands.add_parser("demo", help="encode example titles and print nearest neighbours")
    demo.add_argument("--preset", default="all-minilm-l6-v2", help="encoder preset or folder")
    demo.add_argument("-k", type=_ranged(DEMO_K, "-k", "e.g. `-k 2`"), default=2,
                      help=f"neighbours per title, {DEMO_K.describe()}")
    demo.set_defaults(run=_demo)
    commands.add_parser("list", help="list the registered recipes").set_defaults(run=_list)
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
    train.set_defaults(run=_train)
    evaluate = commands.add_parser("evaluate", help="recompute a run's test metrics")
    evaluate.add_argument("run_dir")
    evaluate.set_defaults(run=_evaluate)
    recommend = commands.add_parser("recommend", help="top-k items for a user or a text query")
    recommend.add_argument("run_dir")
    recommend.add_argument("--user", help="a user id of the run's data")
    recommend.add_argument("--text", help="a free-text query")
    recommend.add_argument("--profile", help="a new user's profile text (runs whose rating stage reads profiles)")
    recommend.add_argument("-k", type=_ranged(K, "-k", "e.g. `-k 10`"), default=10,
                           help=f"items to list, {K.describe()} (default 10)")
    recommend.add_argument("--new-items", metavar="FILE",
                           help="also rank these items, unseen in training (item_id,text CSV/Parquet)")
    recommend.set_defaults(run=_recommend)
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
    export.set_defaults(run=_export)
    init = commands.add_parser("init", help="write a recipe folder for your own data files")
    init.add_argument("folder", help="the recipe folder to create, e.g. my_recipe")
    init.add_argument("--from", dest="base", default="video", help="recipe to start from")
    init.add_argument("--interactions", required=True, help="CSV/TSV/Parquet of user-item interactions")
    init.add_argument("--items", required=True, help="CSV/TSV/Parquet of items with text columns")
    init.set_defaults(run=_init)
    serve = commands.add_parser("serve", help="a local server that answers as TF Serving does, "
                                              "REST and gRPC (development)")
    serve.add_argument("models_root", help="folder of model folders, e.g. saved_models/")
    # 1-65535: the Python API's port=0 (any free port) is for tests, which read the port back.
    serve.add_argument("--port", type=_ranged(PORT, "--port", "e.g. `--port 8501`"), default=8501,
                       help=f"REST port, {PORT.describe()} (TF Serving's default 8501)")
    serve.add_argument("--grpc-port", type=_ranged(PORT, "--grpc-port", "e.g. `--grpc-port 8500`"),
                       default=8500, help=f"gRPC port, {PORT.describe()} (TF Serving's default 8500)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.set_defaults(run=_serve)
    return parser


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


def main(argv=None):
    args = build_parser().parse_args(argv)
    from tfllmrec.backend import start_tensorflow  # selects tf-keras before TensorFlow loads
    from tfllmrec.errors import TfllmrecError

    if args.command != "list":  # `list` reads configs only: no TensorFlow
        start_tensorflow(verbose=args.verbose)

    try:
        return args.run(args)
    except TfllmrecError as e:
        print(f"tfllmrec: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
