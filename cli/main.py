"""The `semcodec` command: parses arguments, calls the library, prints results. No logic of its own.
One module per subcommand; each has `register(subparsers)`, which sets `func` on its parser.

Every subcommand also takes the common options (-y/-n, -v, --log-file). main() owns the process-wide
conventions: exit codes, one-line errors, signals, a closed stdout pipe."""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback

from semcodec import __version__
from semcodec.errors import Interrupted, SemcodecError
from semcodec.io.outputs import SkipExisting

from . import analyze, bench, capabilities, crf_search, encode, metrics, semantic, tag

COMMANDS = [encode, crf_search, analyze, tag, capabilities, bench, metrics, semantic]

EXIT_CODES = """exit codes:
  0    success (also: -n and an output exists, nothing done)
  1    runtime failure: unreadable input, unwritable output, encoder error, full disk
  2    usage error: a bad option value or combination (nothing was done)
  130  interrupted (SIGINT, Ctrl-C); 143 terminated (SIGTERM); 129 hung up (SIGHUP)
       on any non-zero exit no output path holds a partial file and every input is untouched"""

log = logging.getLogger("semcodec")


class Parser(argparse.ArgumentParser):
    """argparse with errors in semcodec's one-line form: 'semcodec: error: ... (see: semcodec encode --help)'."""

    def error(self, message: str):
        self.exit(2, f"semcodec: error: {message} (see: {self.prog} --help)\n")


def _add_common(parser: argparse.ArgumentParser) -> None:
    """The options every leaf command takes (nested commands such as `semantic encode` included)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_common(child)
            return
    g = parser.add_argument_group("common options")
    over = g.add_mutually_exclusive_group()
    over.add_argument("-y", "--overwrite", dest="overwrite", action="store_const", const="overwrite",
                      default="refuse", help="overwrite existing outputs (default: refuse and exit 1)")
    over.add_argument("-n", "--no-overwrite", dest="overwrite", action="store_const", const="skip",
                      help="if an output exists, do nothing and exit 0 (batch mode: skip that video)")
    g.add_argument("-v", "--verbose", action="count", default=0,
                   help="more detail on stderr (-vv: debug, and a traceback on unexpected errors)")
    g.add_argument("--log-file", metavar="FILE", help="also append every message to FILE")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="semcodec",
        description="Semantic-aware video encoding: spend bits where people look, on real FFmpeg encoders.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"semcodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    for child in sub.choices.values():
        _add_common(child)
    return parser


def _setup_logging(args) -> None:
    root = logging.getLogger()
    level = logging.WARNING - 10 * min(getattr(args, "verbose", 0), 2)
    logging.basicConfig(format="semcodec: %(levelname)s: %(message)s", level=level)
    for h in root.handlers:
        h.setFormatter(_Formatter())
    if getattr(args, "log_file", None):
        try:
            fh = logging.FileHandler(args.log_file, encoding="utf-8")
        except OSError as exc:
            raise SemcodecError(f"--log-file {args.log_file}: {exc.strerror}") from None
        fh.setFormatter(logging.Formatter("%(asctime)s semcodec %(levelname)s: %(message)s"))
        root.addHandler(fh)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"semcodec: {record.levelname.lower()}: {record.getMessage()}"


@contextlib.contextmanager
def _signals_as_interrupts():
    """SIGTERM and SIGHUP raise Interrupted in the main thread, as SIGINT raises KeyboardInterrupt, so one
    cleanup path serves Ctrl-C, `kill`, `timeout`, systemd and a closed terminal. A second signal during
    cleanup is ignored (cleanup must finish); a third exits at once."""
    count = 0

    def handler(signum, _frame):
        nonlocal count
        count += 1
        if count == 1:
            raise Interrupted(signum)
        if count >= 3:
            os._exit(128 + signum)

    wanted = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    saved = {}
    for s in wanted:
        with contextlib.suppress(ValueError, OSError):  # not the main thread (embedded use): leave as is
            saved[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in saved.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(s, h)


def _say(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr)
        for h in logging.getLogger().handlers:
            if isinstance(h, logging.FileHandler):
                h.stream.write(message + "\n")
                h.flush()


def _stdout_closed() -> None:
    """The reader of our stdout went away (`| head`): no traceback, no second error while flushing."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: returned, so main() composes like a function
        return exc.code if isinstance(exc.code, int) else 2
    try:
        with _signals_as_interrupts():
            _setup_logging(args)
            return args.func(args)
    except SkipExisting as exc:
        _say(f"semcodec: {exc}")
        return 0
    except SemcodecError as exc:
        _say(f"semcodec: error: {exc}")
        return exc.exit_code
    except Interrupted as exc:
        how = "interrupted" if exc.signum == signal.SIGINT else f"stopped by {signal.Signals(exc.signum).name}"
        _say(f"semcodec: {how}; no partial output left")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("semcodec: interrupted; no partial output left")
        return 130
    except BrokenPipeError:
        _stdout_closed()
        return 141  # as if killed by SIGPIPE, what shell tools report
    except MemoryError:
        _say("semcodec: error: out of memory")
        return 1
    except OSError as exc:  # a file-system failure the library did not name: still one line
        where = f" {exc.filename}" if exc.filename else ""
        _say(f"semcodec: error:{where} {exc.strerror or exc}".replace(":  ", ": "))
        return 1
    except Exception as exc:  # a bug: one line by default, the traceback with -vv
        if getattr(args, "verbose", 0) >= 2:
            traceback.print_exc()
        _say(f"semcodec: error: internal error ({type(exc).__name__}: {exc}); rerun with -vv for the traceback")
        return 1


if __name__ == "__main__":
    sys.exit(main())
