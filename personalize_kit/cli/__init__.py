"""The command line: ``python -m personalize_kit COMMAND ...``.

Each command lives in its own module with ``register(subparsers)`` and a ``run(args) -> int``. Errors the
toolkit raises on purpose end as one line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from personalize_kit import __version__
from personalize_kit.exceptions import PersonalizeKitError

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


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except PersonalizeKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # botocore's errors, imported lazily: one line, never a traceback
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            print(f"error: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
            return 2
        if isinstance(exc, BotoCoreError):
            print(
                f"error: {exc} (for --backend aws, configure credentials: `aws configure` or AWS_PROFILE)",
                file=sys.stderr,
            )
            return 2
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
