"""The `tfllmrec` command line: what each command does, and `main` (the options are in cli_parser)."""

import json
import os
import sys

from tfllmrec import cli_parser
from tfllmrec.cli_parser import DEMO_TITLES


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


def build_parser():
    """The `tfllmrec` parser, each command's `args.run` one of the functions above."""
    return cli_parser.build_parser({"demo": _demo, "list": _list, "train": _train, "evaluate": _evaluate,
                                    "recommend": _recommend, "export": _export, "init": _init,
                                    "serve": _serve})


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
