"""Options and output shared by the commands that talk to Personalize (local mirror or AWS)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

RECIPE_CHOICES = ("user-personalization", "sims", "personalized-ranking", "popularity-count")
#: The longest user or item ID the service takes.
MAX_ID_LENGTH = 256


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    from personalize_kit.exceptions import shorten

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{shorten(text, 40)!r} is not a whole number; give one of at least 1"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; give a whole number of at least 1")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0 (``nan``, ``inf`` and negatives are refused)."""
    from personalize_kit.exceptions import shorten

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shorten(text, 40)!r} is not a number of seconds, e.g. 3600") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{shorten(text, 40)} is not allowed; give a number of seconds above 0")
    return value


def finite_number(text: str) -> float:
    """An argparse type: a finite number (``nan`` and ``inf`` are refused)."""
    from personalize_kit.exceptions import shorten

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shorten(text, 40)!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not allowed; give a finite number")
    return value


def identifier(text: str) -> str:
    """An argparse type: a user or item ID of 1-256 characters, as the service takes them."""
    from personalize_kit.exceptions import shorten

    if not text.strip():
        raise argparse.ArgumentTypeError("an ID cannot be empty")
    if len(text) > MAX_ID_LENGTH:
        raise argparse.ArgumentTypeError(
            f"{shorten(text, 40)!r} is too long; IDs are at most {MAX_ID_LENGTH} characters"
        )
    return text


def check_state_dir(flag: str | None) -> None:
    """The local backend's state directory must be a directory (or not exist yet): check it before the mirror
    opens it, naming where it came from (``--state-dir`` or ``$PERSONALIZE_KIT_HOME``)."""
    from personalize_kit.exceptions import shorten
    from personalize_kit.local.state import STATE_DIR_ENV, resolve_state_dir

    path = resolve_state_dir(flag)
    source = (
        "--state-dir"
        if flag is not None
        else (f"${STATE_DIR_ENV}" if os.environ.get(STATE_DIR_ENV) else "the default state directory")
    )
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                what = "is" if candidate == path else f"is inside {shorten(str(candidate), 100)}, which is"
                raise ValueError(
                    f"{source} {shorten(str(path), 200)} {what} a file, not a directory; give a directory "
                    "(it is created when missing)"
                )
            if not os.access(candidate, os.W_OK | os.X_OK):
                raise ValueError(
                    f"{source} {shorten(str(path), 200)}: {shorten(str(candidate), 100)} is not writable; "
                    "give a directory you can write to"
                )
            break


def add_backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", default=None, help="project file (YAML or JSON); defaults work without one")
    p.add_argument(
        "--backend",
        choices=("local", "aws"),
        default="local",
        help="local: the offline mirror (state kept between runs); aws: the standard credential chain",
    )
    p.add_argument(
        "--state-dir",
        default=None,
        help="local backend's state directory (default: $PERSONALIZE_KIT_HOME, else ./.personalize_kit)",
    )
    p.add_argument(
        "--pace",
        default=None,
        help="local backend: how fast resources move through the service's states: instant, fast (default), "
        "realistic (overrides the project file's local.pace and $PERSONALIZE_KIT_PACE)",
    )
    p.add_argument("--name", default=None, help="dataset group name (overrides the project file)")


def load(args: argparse.Namespace) -> tuple[Any, Any]:
    """The project (the file, then the flags that override it: --source, --recipe, --name) and the backend."""
    from personalize_kit.sdk.backend import make_backend
    from personalize_kit.sdk.project import check_pace, load_project, parse_project, recipe_name

    project = load_project(args.project)
    source, recipe, name = (getattr(args, key, None) for key in ("source", "recipe", "name"))
    domain = getattr(args, "domain", None)
    if source is not None or recipe is not None or name or domain:
        raw = _as_raw(project)
        if domain:
            _to_domain(raw, project, domain)
        if source is not None:
            raw["data"]["source"] = source
        if recipe is not None:
            wanted = RECIPE_CHOICES if recipe == "all" else (recipe,)
            known = {s["recipe"]: s for s in raw["solutions"]}
            raw["solutions"] = [known.get(recipe_name(r), {"recipe": r}) for r in wanted]
        if name:
            raw["name"] = name
        project = parse_project(raw)
    state_dir = getattr(args, "state_dir", None)
    if args.backend == "local":
        check_state_dir(state_dir)
    pace = check_pace(getattr(args, "pace", None), "--pace") or project.local.pace
    return project, make_backend(args.backend, project, state_dir=state_dir, pace=pace)


def _to_domain(raw: dict, project: Any, domain: str) -> None:
    """``--domain``: a domain project; the file's recommenders when it names the same domain (else every use
    case), the domain's event mapping unless the file sets one, and no solutions."""
    from personalize_kit.domains import domain_name
    from personalize_kit.sdk.project import DataConfig

    if project.domain != domain_name(domain):
        raw["recommenders"] = None
    if project.domain is None and project.data.event_mapping == DataConfig.event_mapping:
        raw["data"]["event_mapping"] = None
    raw["domain"], raw["solutions"], raw["batch_inference"] = domain, [], []


def _as_raw(project: Any) -> dict:
    """Re-serialise a project so that a flag can override one key and be validated like the file."""
    import dataclasses

    raw = dataclasses.asdict(project)
    for solution in raw["solutions"]:
        if solution["campaign"] is None:
            solution["campaign"] = False
    return raw


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Progress:
    """Shows what is being waited for: a live bar per resource on a terminal (elapsed time and status),
    else one line per status change with the time spent so far."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.last: dict[str, str] = {}
        self.bars: dict[str, Any] = {}
        self.live = sys.stderr.isatty()

    def __call__(self, kind: str, arn: str, status: str) -> None:
        start = self.started.setdefault(arn, time.monotonic())
        name = f"{kind.replace('_', ' ')} {arn.rsplit('/', 1)[-1]}"
        final = status == "ACTIVE" or "FAILED" in status or "STOPPED" in status
        if self.live:
            from tqdm import tqdm

            bar = self.bars.get(arn)
            if bar is None:
                bar = self.bars[arn] = tqdm(bar_format="{desc} [{elapsed}]", leave=False, file=sys.stderr)
            bar.set_description_str(f"          {name}: {status}", refresh=True)
            if final:
                bar.close()
                del self.bars[arn]
        elif self.last.get(arn) != status:
            say(f"          {name}: {status} ({time.monotonic() - start:.0f}s)")
        self.last[arn] = status


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
