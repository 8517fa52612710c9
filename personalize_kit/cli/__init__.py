"""The command line: ``python -m personalize_kit COMMAND ...``.

Each command lives in its own module with ``register(subparsers)`` and a ``run(args) -> int``. Errors the
toolkit raises on purpose end as one line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from personalize_kit import __version__
from personalize_kit.exceptions import PersonalizeKitError, shorten

#: Modules of the commands, in the order ``--help`` lists them.
COMMANDS = (
    "prepare",
    "validate",
    "pipeline",
    "plan",
    "status",
    "metrics",
    "recommend",
    "similar",
    "rank",
    "events",
    "batch",
    "cleanup",
    "serve",
)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end as one line naming the option, with exit code 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(
        prog="python -m personalize_kit",
        description="Amazon Personalize in production: prepare and validate data, run the lifecycle offline or on AWS.",
        epilog="Run `python -m personalize_kit COMMAND --help` for a command's options and an example.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"personalize_kit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"personalize_kit.cli.{name}")
        command = module.register(sub, _Formatter)
        command.set_defaults(run=module.run)
    return parser


#: The longest error line the command line prints; longer ones are cut in the middle of the value.
MAX_MESSAGE = 600


def fail(message: str) -> int:
    """Print ``message`` as one ``error:`` line on stderr (shortened, newlines folded) and return exit code 2."""
    line = " ".join(str(message).split())
    if len(line) > MAX_MESSAGE:
        line = f"{line[: MAX_MESSAGE - 60]} ... ({len(line):,} characters in all)"
    print(f"error: {line}", file=sys.stderr)
    return 2


def describe_os_error(exc: OSError) -> str:
    """One line for a file the command could not use: which file, why, and what to do."""
    where = exc.filename if exc.filename is not None else "a file"
    why = exc.strerror or str(exc)
    advice = {
        PermissionError: "give your user access to it (chmod/chown) or use another path",
        IsADirectoryError: "it is a directory: give the path of a file",
        NotADirectoryError: "part of that path is a file: give a path made of directories",
        FileExistsError: "a file is in the way: remove it or give another path",
        FileNotFoundError: "check the path",
    }.get(type(exc), "check the file and the disk, then run again")
    return f"cannot use {shorten(str(where), 200)}: {why}; {advice}"


def _damaged_model(exc: Exception, args: argparse.Namespace) -> str:
    from personalize_kit.local.state import resolve_state_dir

    state = resolve_state_dir(getattr(args, "state_dir", None))
    return (
        f"a trained model in {shorten(str(state), 200)} is damaged or truncated ({type(exc).__name__}: "
        f"{shorten(str(exc), 120)}); delete what was trained (`python -m personalize_kit cleanup --yes`, or remove "
        "the state directory) and run `python -m personalize_kit pipeline` again"
    )


def main(argv: Sequence[str] | None = None) -> int:
    import zipfile

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.run(args) or 0)
    except PersonalizeKitError as exc:
        return fail(str(exc))
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except zipfile.BadZipFile as exc:  # a model file cut short (a full disk, a killed copy)
        return fail(_damaged_model(exc, args))
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        if isinstance(exc, FileNotFoundError | NotADirectoryError) and exc.filename is not None:
            return fail(describe_os_error(exc))
        return fail(str(exc))
    except OSError as exc:  # PermissionError, IsADirectoryError, FileExistsError: the file and what to do
        return fail(describe_os_error(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # botocore's errors, imported lazily: one line, never a traceback
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return fail(f"{error.get('Code')}: {error.get('Message')}")
        if isinstance(exc, BotoCoreError):
            return fail(f"{exc} (for --backend aws, configure credentials: `aws configure` or AWS_PROFILE)")
        raise
