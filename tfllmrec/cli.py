"""The `tfllmrec` command line."""

import argparse
import os
import sys

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


def build_parser():
    parser = argparse.ArgumentParser(prog="tfllmrec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="encode example titles and print nearest neighbours")
    demo.add_argument("--preset", default="all-minilm-l6-v2", help="encoder preset or folder")
    demo.add_argument("-k", type=int, default=2, help="neighbours per title")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # TensorFlow's C++ start-up chatter buries the command's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tfllmrec  # noqa: F401  (selects tf-keras before TensorFlow loads)
    from tfllmrec.errors import TfllmrecError

    try:
        return args.run(args)
    except TfllmrecError as e:
        print(f"tfllmrec: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
