"""Problems found in data or schemas, and the report that gathers them.

Row-level problems are aggregated: one :class:`Problem` per file, rule and field, carrying the number of
rows affected and the first few line numbers, so that a 25-million-row file with a systematic fault yields
a short, readable report rather than millions of entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

Severity = Literal["error", "warning"]

#: How many example line numbers a problem keeps.
MAX_EXAMPLE_LINES = 5


@dataclass
class Problem:
    """One problem: what is wrong, where, and what to do.

    ``line`` is the 1-based physical line of the first affected row (the header is line 1), or ``None`` for
    problems of the whole file; ``count`` is the number of affected rows and ``lines`` the first few of them.

    >>> str(Problem("error", "interaction.csv", 12, "USER_ID", "empty-id", "USER_ID is empty: fill it in."))
    'interaction.csv:12 USER_ID: USER_ID is empty: fill it in.'
    """

    severity: Severity
    file: str
    line: int | None
    field: str | None
    code: str
    message: str
    count: int = 1
    lines: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        what = f" {self.field}" if self.field else ""
        more = f" ({self.count:,} rows)" if self.count > 1 else ""
        return f"{where}{what}: {self.message}{more}"


@dataclass
class FileCounts:
    """Rows read from one file, and how many of them were written and rejected."""

    read: int = 0
    written: int = 0
    rejected: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.rejected


@dataclass
class Report:
    """Blocking errors and warnings for a set of files, with per-file row counts."""

    problems: list[Problem] = field(default_factory=list)
    #: Preparation: rows read, written and rejected per output file.
    counts: dict[str, FileCounts] = field(default_factory=dict)
    #: Validation: rows checked per file, and how many of them have a blocking error.
    rows_checked: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks an import."""
        return not self.errors

    def add(
        self,
        severity: Severity,
        file: str,
        code: str,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> Problem:
        """Add a file-level problem (or a single-row one) and return it."""
        problem = Problem(severity, file, line, field, code, message, 1, [line] if line is not None else [])
        self.problems.append(problem)
        return problem

    def add_rows(
        self,
        severity: Severity,
        file: str,
        code: str,
        field: str | None,
        message: str,
        lines: np.ndarray | Iterable[int],
    ) -> None:
        """Record a row-level problem for the given line numbers, merging with an earlier one of the same kind."""
        lines = np.asarray(list(lines) if not isinstance(lines, np.ndarray) else lines, dtype=np.int64)
        if lines.size == 0:
            return
        for problem in self.problems:
            if (problem.file, problem.code, problem.field, problem.severity) == (file, code, field, severity):
                problem.count += int(lines.size)
                room = MAX_EXAMPLE_LINES - len(problem.lines)
                if room > 0:
                    problem.lines.extend(int(x) for x in lines[:room])
                return
        first = [int(x) for x in lines[:MAX_EXAMPLE_LINES]]
        self.problems.append(Problem(severity, file, first[0], field, code, message, int(lines.size), first))

    def merge(self, other: Report) -> Report:
        self.problems.extend(other.problems)
        self.counts.update(other.counts)
        self.rows_checked.update(other.rows_checked)
        return self

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [asdict(p) for p in self.problems],
            "counts": {name: {**asdict(c), "balanced": c.balanced} for name, c in self.counts.items()},
            "rows_checked": {name: {"rows": r, "with_errors": b} for name, (r, b) in self.rows_checked.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_table(self) -> str:
        """A human-readable table: one line per problem, then a one-line verdict."""
        rows = [("severity", "file", "line", "field", "rows", "problem")]
        order = {"error": 0, "warning": 1}
        for p in sorted(self.problems, key=lambda p: (order[p.severity], p.file, p.line or 0)):
            lines = ",".join(str(x) for x in p.lines) + ("..." if p.lines and p.count > len(p.lines) else "")
            rows.append((p.severity, p.file, lines or "-", p.field or "-", f"{p.count:,}", p.message))
        if len(rows) == 1:
            body = "no problems found"
        else:
            widths = [max(len(r[i]) for r in rows) for i in range(5)]
            body = "\n".join("  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5] for r in rows)
        counts = "\n".join(
            f"{name}: read {c.read:,} = written {c.written:,} + rejected {c.rejected:,}"
            for name, c in self.counts.items()
        ) + "".join(
            f"\n{name}: {rows:,} rows checked, {bad:,} with blocking errors"
            for name, (rows, bad) in self.rows_checked.items()
        )
        verdict = f"{len(self.errors)} blocking error(s), {len(self.warnings)} warning(s)" + (
            "" if self.ok else ": fix the errors above before importing"
        )
        return "\n".join(part for part in (body, counts, verdict) if part)
