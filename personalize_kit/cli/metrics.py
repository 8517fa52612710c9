"""``metrics``: the offline metrics of the dataset group's solution versions, as a table, JSON, CSV or an
HTML report with a bar chart (inline SVG: the file needs nothing else to open)."""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from personalize_kit.cli._common import add_backend_args, load, say, table

EXAMPLE = """\
examples:
  python -m personalize_kit metrics
  python -m personalize_kit metrics --solution movielens-sims --format csv > sims.csv
  python -m personalize_kit metrics --report metrics.html
"""
#: Bar colours of the chart, one per solution version (repeating).
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "metrics",
        help="offline metrics of every solution version, side by side",
        description="GetSolutionMetrics for every ACTIVE solution version of the dataset group (or of one "
        "solution): precision, NDCG, MRR and coverage on the service's split (10% of users held out).",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_backend_args(p)
    p.add_argument("--solution", default=None, help="only this solution's versions")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table", help="what to print")
    p.add_argument(
        "--report",
        default=None,
        metavar="FILE.html",
        help="also write a self-contained HTML report with a bar chart of the metrics",
    )
    return p


def short_name(metric: str) -> str:
    """``normalized_discounted_cumulative_gain_at_10`` -> ``NDCG@10``, for the chart's axis."""
    for long, short in (
        ("normalized_discounted_cumulative_gain_at_", "NDCG@"),
        ("mean_reciprocal_rank_at_", "MRR@"),
        ("precision_at_", "precision@"),
    ):
        if metric.startswith(long):
            return short + metric[len(long) :]
    return metric


def _label(row: dict[str, Any]) -> str:
    return f"{row['solution']}/{row['version']}"


def _metric_names(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({m for row in rows for m in row["metrics"]})


def as_table(rows: list[dict[str, Any]]) -> str:
    """Metrics down, solution versions across."""
    names = _metric_names(rows)
    body = [[m, *[f"{row['metrics'][m]:.4f}" if m in row["metrics"] else "-" for row in rows]] for m in names]
    return table(body, ["metric", *[_label(row) for row in rows]])


def as_csv(rows: list[dict[str, Any]]) -> str:
    """One line per solution version; the metrics are columns."""
    names = _metric_names(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["solution", "version", "recipe", "status", "training_mode", "created", *names])
    for row in rows:
        writer.writerow(
            [
                row["solution"],
                row["version"],
                row["recipe"],
                row["status"],
                row["trainingMode"],
                row["created"],
                *[row["metrics"].get(m, "") for m in names],
            ]
        )
    return out.getvalue()


def bar_chart(rows: list[dict[str, Any]], *, bar: int = 18, height: int = 240) -> str:
    """An SVG grouped bar chart: one group per metric, one bar per solution version (height ~ value)."""
    names = _metric_names(rows)
    top = max([row["metrics"].get(m, 0.0) for row in rows for m in names] + [0.0]) or 1.0
    left, bottom, gap = 50, 70, 24
    group_width = bar * max(len(rows), 1) + gap
    width = left + group_width * max(len(names), 1) + 20
    total = height + bottom + 20 + 18 * len(rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
        f'viewBox="0 0 {width} {total}" role="img" aria-label="offline metrics of the solution versions">',
        f'<line x1="{left}" y1="{height + 10}" x2="{width - 10}" y2="{height + 10}" stroke="#333"/>',
        f'<line x1="{left}" y1="10" x2="{left}" y2="{height + 10}" stroke="#333"/>',
    ]
    for tick in range(5):
        value = top * tick / 4
        y = height + 10 - height * tick / 4
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{value:.3g}</text>')
    for g, metric in enumerate(names):
        x0 = left + gap / 2 + g * group_width
        for i, row in enumerate(rows):
            value = row["metrics"].get(metric)
            if value is None:
                continue
            h = height * value / top
            label = html.escape(f"{_label(row)} {metric}: {value:.4f}")
            parts.append(
                f'<rect x="{x0 + i * bar:.1f}" y="{height + 10 - h:.2f}" width="{bar - 2}" height="{h:.2f}" '
                f'fill="{PALETTE[i % len(PALETTE)]}" data-metric="{metric}" data-version="{html.escape(_label(row))}" '
                f'data-value="{value}"><title>{label}</title></rect>'
            )
        cx = x0 + bar * len(rows) / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{height + 24}" font-size="10" text-anchor="end" '
            f'transform="rotate(-30 {cx:.1f} {height + 24})">{html.escape(short_name(metric))}</text>'
        )
    for i, row in enumerate(rows):
        y = height + bottom + 10 + 18 * i
        parts.append(f'<rect x="{left}" y="{y}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{left + 18}" y="{y + 10}" font-size="12">{html.escape(_label(row))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def report(rows: list[dict[str, Any]], group: str) -> str:
    """A self-contained HTML page: the bar chart and the table of values."""
    names = _metric_names(rows)
    head = "".join(f"<th>{html.escape(_label(row))}</th>" for row in rows)
    body = "\n".join(
        f"<tr><th>{html.escape(m)}</th>"
        + "".join(f"<td>{row['metrics'][m]:.4f}</td>" if m in row["metrics"] else "<td>-</td>" for row in rows)
        + "</tr>"
        for m in names
    )
    versions = "\n".join(
        f"<li>{html.escape(_label(row))}: {html.escape(row['recipe'] or '')}, {html.escape(row['status'] or '')}, "
        f"trainingMode {html.escape(row['trainingMode'] or '')}, created {html.escape(row['created'] or '')}</li>"
        for row in rows
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>Offline metrics: {html.escape(group)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child {{ text-align: left; }}
</style>
</head>
<body>
<h1>Offline metrics of dataset group {html.escape(group)}</h1>
<p>GetSolutionMetrics of each ACTIVE solution version: the service holds out 10% of users; for each, the
oldest 90% of interactions is the input and the newest 10% the truth.</p>
{bar_chart(rows)}
<table>
<thead><tr><th>metric</th>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
<ul>
{versions}
</ul>
</body>
</html>
"""


def run(args: argparse.Namespace) -> int:
    from personalize_kit.sdk.status import version_metrics

    project, backend = load(args)
    if args.report and not args.report.lower().endswith((".html", ".htm")):
        raise ValueError(f"--report {args.report}: the report is HTML; name it e.g. metrics.html")
    rows = version_metrics(project.name, solution=args.solution, session=backend.session)
    for row in rows:
        if row["status"] != "ACTIVE":
            say(f"skipped {_label(row)}: {row['status']} (metrics exist once a version is ACTIVE)")
    rows = [row for row in rows if row["status"] == "ACTIVE"]
    if not rows:
        say(
            f"no ACTIVE solution version in dataset group {project.name}: train one with "
            "`python -m personalize_kit pipeline`"
        )
    if args.report:
        path = Path(args.report)
        path.write_text(report(rows, project.name), encoding="utf-8")
        say(f"wrote {path}")
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        print(as_csv(rows), end="")
    elif rows:
        print(as_table(rows))
    return 0 if rows else 1
