"""Command line: ``python -m course_utils {requirements,standins,prefetch,emotion,progress} ...``.

Notebooks are built from their sources by instructor tooling, ``python tools/authoring.py``, not by the package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["progress"]:  # its own options and help (course_utils/progress.py)
        from .progress import main as progress_main

        return progress_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m course_utils")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("requirements", help="print the stand-in packages (pip install --no-deps ...)")
    sub.add_parser("standins", help="build every offline stand-in once")
    sub.add_parser("prefetch", help="download every Hub asset the course uses (needs internet)")
    em = sub.add_parser("emotion", help="make sure DIR/emotion/*.jsonl exist (download if missing)")
    em.add_argument("dir", type=Path)
    sub.add_parser(
        "progress",
        help="your exercise record (--export FILE to hand it in), or --merge a room's records",
        add_help=False,
    )
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
