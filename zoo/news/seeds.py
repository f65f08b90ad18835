"""Runs the `news` recipe on several split seeds and prints the README's table.

Usage:
    python zoo/news/seeds.py --output runs/news-seeds [--seeds 1 2 3 4 5] [--set key=value ...]

Each seed is one ordinary run folder (`OUTPUT/seed-S`, resumable); the table
is the mean and standard deviation over seeds of each model's test metrics.
"""

import argparse
import json
from pathlib import Path

import numpy as np

import tfllmrec  # noqa: F401  (selects tf-keras before TensorFlow loads)
from tfllmrec.recipes import get_recipe, with_overrides
from tfllmrec.recipes.pipeline import train_recipe

NAMES = {"popularity": "popularity", "ctr": "click-through-rate prior alone", "id_two_tower": "ID-only two-tower",
         "nrms": "NRMS-style (frozen MiniLM)", "ours": "**ours** (history text two-tower)"}


def table(runs, keys=("auc", "mrr", "ndcg@3", "ndcg@5", "ndcg@6", "ndcg@10")):
    """Markdown rows: mean ± std over the runs' metrics.json."""
    models = ["popularity", "ctr", "id_two_tower", "nrms", "ours"]
    lines = ["| model | " + " | ".join(k.upper().replace("NDCG", "nDCG") for k in keys) + " |",
             "|---" * (len(keys) + 1) + "|"]
    for model in models:
        tests = [m["test"] if model == "ours" else m["baselines"].get(model, {}).get("test") for m in runs]
        if any(t is None for t in tests):
            continue
        cells = [f"{np.mean([t[k] for t in tests]):.4f} ± {np.std([t[k] for t in tests]):.4f}" for k in keys]
        lines.append(f"| {NAMES[model]} | " + " | ".join(cells) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        config = with_overrides(get_recipe("news"), [*args.set, f"data.split_seed={seed}"])
        folder = Path(args.output) / f"seed-{seed}"
        done = folder / "metrics.json"
        runs.append(json.loads(done.read_text()) if done.is_file() else train_recipe(config, folder, verbose=0))
        print(f"seed {seed}: ours AUC {runs[-1]['test']['auc']:.4f}, "
              f"{runs[-1]['timing']['total_seconds']:.0f} s", flush=True)
    print("\n".join(table(runs)))


if __name__ == "__main__":
    main()
