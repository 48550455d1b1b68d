"""Command line: `python -m fastmlp demo` (also the console script `fastmlp`)."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .demo import run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastmlp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="reproduce the seed experiment")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--epochs", type=int, default=200)
    demo.add_argument("--out-dir", default=".", help="where the PNG plots go")
    demo.add_argument("--no-plot", action="store_true", help="skip the plots")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.epochs <= 0:
            parser.error("--epochs must be positive")
        run(seed=args.seed, epochs=args.epochs, out_dir=args.out_dir, plot=not args.no_plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
