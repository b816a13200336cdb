"""The `semcodec` command: parses arguments, calls the library, prints results. No logic of its own.
One module per subcommand; each has `register(subparsers)`, which sets `func` on its parser."""
from __future__ import annotations

import argparse
import logging
import sys

from cli import analyze, bench, capabilities, encode, semantic, tag
from semcodec import __version__
from semcodec.errors import SemcodecError

COMMANDS = [encode, analyze, tag, capabilities, bench, semantic]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="semcodec",
        description="Semantic-aware video encoding: spend bits where people look, on real FFmpeg encoders.",
    )
    parser.add_argument("--version", action="version", version=f"semcodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(format="semcodec: warning: %(message)s", level=logging.WARNING)
    try:
        return args.func(args)
    except SemcodecError as exc:
        print(f"semcodec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("semcodec: interrupted; no output written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
