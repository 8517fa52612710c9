"""The commands after ``pipeline`` (status, metrics, recommend, similar, rank, events, batch, cleanup), each
run as ``python -m personalize_kit`` in a subprocess against the local mirror in a temporary state directory.

One pipeline (Popularity-Count and SIMS) runs once for the module; Popularity-Count's answers are known
from the prepared data (it ranks items by their number of distinct users). ``cleanup`` runs last.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from personalize_kit.cli import COMMANDS, build_parser

GROUP = "clitest"
FILTER = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")'
PROJECT = f"""\
name: {GROUP}
data:
  source: synthetic
  interactions: 5000
  out: out
solutions:
  - recipe: popularity-count
  - recipe: sims
filters:
  - name: unwatched
    expression: '{FILTER}'
  - name: by-genre
    expression: 'INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)'
"""


def environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PERSONALIZE_KIT_OFFLINE="1",
        PERSONALIZE_KIT_CACHE=str(tmp / "cache"),
        PERSONALIZE_KIT_MOVIELENS_DIR=str(tmp / "none"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return env


class Deployed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.env = environment(root)

    def cli(self, *args: str, project: bool = True) -> subprocess.CompletedProcess:
        backend = ("--project", "project.yaml", "--state-dir", str(self.state)) if project else ()
        command, rest = (args[:2], args[2:]) if args[0] == "events" else (args[:1], args[1:])
        return subprocess.run(
            [sys.executable, "-m", "personalize_kit", *command, *backend, *rest],
            capture_output=True,
            text=True,
            cwd=self.root,
            env=self.env,
            timeout=300,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess:
        result = self.cli(*args)
        assert result.returncode == 0, result.stderr
        return result

    def personalize(self, service: str = "personalize"):  # noqa: ANN201 - a boto3 client
        from personalize_kit.local import mirror_session

        return mirror_session(self.state).client(service)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Deployed:
    root = tmp_path_factory.mktemp("commands")
    (root / "project.yaml").write_text(PROJECT)
    here = Deployed(root)
    here.ok("pipeline")
    return here


def popularity(deployed: Deployed) -> dict[str, int]:
    """Distinct users per item in the prepared interactions: what Popularity-Count ranks by."""
    users: dict[str, set[str]] = {}
    with open(deployed.root / "out" / "interaction.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            users.setdefault(row["ITEM_ID"], set()).add(row["USER_ID"])
    return {item: len(who) for item, who in users.items()}


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


def recommendations(deployed: Deployed, *extra: str) -> list[dict]:
    return json.loads(deployed.ok("recommend", "--user", "1", "--json", *extra).stdout)


# ----------------------------------------------------------------------------- help


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_an_examples_epilog(name):
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    text = choices[name].format_help()
    assert "examples:" in text
    after = text.split("examples:", 1)[1].strip().splitlines()
    assert after[0].strip().startswith(f"python -m personalize_kit {name}")


@pytest.mark.parametrize(
    "args",
    [("status",), ("metrics",), ("recommend",), ("similar",), ("rank",), ("events", "put"), ("batch",), ("cleanup",)],
)
def test_commands_take_the_backend_options(args):
    parser = build_parser()
    parsed = parser.parse_args([*args, "--project", "p.yaml", "--backend", "aws", "--state-dir", "s", "--name", "g"])
    assert (parsed.project, parsed.backend, parsed.state_dir, parsed.name) == ("p.yaml", "aws", "s", "g")


# ----------------------------------------------------------------------------- status and metrics


POPULAR, SIMS = f"{GROUP}-popularity-count", f"{GROUP}-sims"


def test_status_shows_the_tree_with_states(deployed):
    text = deployed.ok("status").stdout
    lines = text.splitlines()
    assert lines[0].startswith(f"dataset group {GROUP}: ACTIVE (KMS key ")
    tree = json.loads(deployed.ok("status", "--json").stdout)
    assert [d["type"] for d in tree["datasets"]] == ["INTERACTIONS", "ITEMS", "USERS"]
    assert all(len(d["importJobs"]) == 1 and d["importJobs"][0]["status"] == "ACTIVE" for d in tree["datasets"])
    solutions = {s["name"]: s for s in tree["solutions"]}
    assert {n: s["recipe"] for n, s in solutions.items()} == {POPULAR: "aws-popularity-count", SIMS: "aws-sims"}
    for name, solution in solutions.items():
        (version,) = solution["versions"]
        assert (version["status"], version["trainingMode"]) == ("ACTIVE", "FULL")
        assert [(c["name"], c["status"]) for c in version["campaigns"]] == [(name, "ACTIVE")]
    assert tree["eventTracker"]["name"] == f"{GROUP}-events"
    assert sorted((f["name"], f["status"]) for f in tree["filters"]) == [
        ("by-genre", "ACTIVE"),
        ("unwatched", "ACTIVE"),
    ]
    assert next(f["expression"] for f in tree["filters"] if f["name"] == "unwatched") == FILTER
    # the text is the same tree, indented: version under solution, campaign under version
    at = {line.strip().split(":")[0]: len(line) - len(line.lstrip()) for line in lines}
    version = solutions[POPULAR]["versions"][0]
    assert at[f"{POPULAR} (aws-popularity-count)"] == 4
    assert at[f"version {version['id']}"] == 6
    assert at[f"campaign {POPULAR}"] == 8
    assert at["INTERACTIONS clitest-interactions"] == 4
    assert f"    unwatched: ACTIVE  {FILTER}" in lines


def service_metrics(deployed: Deployed) -> dict[str, dict[str, float]]:
    """``solution/version`` -> GetSolutionMetrics, asked in this process."""
    personalize = deployed.personalize()
    found = {}
    for solution in personalize.list_solutions()["solutions"]:
        for version in personalize.list_solution_versions(solutionArn=solution["solutionArn"])["solutionVersions"]:
            arn = version["solutionVersionArn"]
            label = f"{solution['name']}/{arn.rsplit('/', 1)[1]}"
            found[label] = personalize.get_solution_metrics(solutionVersionArn=arn)["metrics"]
    return found


def test_metrics_table_and_csv_agree_with_the_service(deployed):
    expected = service_metrics(deployed)
    assert sorted(label.split("/")[0] for label in expected) == [POPULAR, SIMS]
    assert all({"precision_at_10", "coverage", "mean_reciprocal_rank_at_25"} <= set(m) for m in expected.values())

    table = deployed.ok("metrics").stdout.splitlines()
    header = table[0].split()
    assert header[0] == "metric" and sorted(header[1:]) == sorted(expected)
    cells = {line.split()[0]: line.split()[1:] for line in table[2:]}
    for column, label in enumerate(header[1:]):
        assert {m: values[column] for m, values in cells.items()} == {m: f"{v:.4f}" for m, v in expected[label].items()}

    csv_text = deployed.ok("metrics", "--solution", POPULAR, "--format", "csv").stdout
    (row,) = list(csv.DictReader(io.StringIO(csv_text)))
    (label,) = [label for label in expected if label.startswith(POPULAR)]
    assert (row["solution"], row["version"], row["training_mode"], row["status"]) == (
        POPULAR,
        label.split("/")[1],
        "FULL",
        "ACTIVE",
    )
    assert {m: float(row[m]) for m in expected[label]} == pytest.approx(expected[label])


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.bars: list[dict[str, str]] = []
        self.cells: list[str] = []
        self.texts: list[str] = []
        self._in_td = self._in_text = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "rect" and "data-metric" in attrs:
            self.bars.append(attrs)
        self._in_td, self._in_text = tag == "td", tag == "text"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)
        if self._in_text:
            self.texts.append(data)
        self._in_td = self._in_text = False


def test_metrics_json_and_a_self_contained_html_report_with_a_bar_per_metric(deployed):
    result = deployed.ok("metrics", "--report", "report.html", "--format", "json")
    rows = json.loads(result.stdout)
    expected = service_metrics(deployed)
    assert {f"{r['solution']}/{r['version']}": r["metrics"] for r in rows} == expected  # JSON floats round-trip
    assert {r["status"] for r in rows} == {"ACTIVE"}
    html = (deployed.root / "report.html").read_text()
    page = _Report()
    page.feed(html)
    assert page.tags.count("svg") == 1
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert sorted((b["data-version"], b["data-metric"]) for b in page.bars) == sorted(
        (label, m) for label, metrics in expected.items() for m in metrics
    )
    top = max(v for metrics in expected.values() for v in metrics.values())
    for bar in page.bars:
        value = float(bar["data-value"])
        assert value == pytest.approx(expected[bar["data-version"]][bar["data-metric"]])
        assert float(bar["height"]) == pytest.approx(240 * value / top, abs=0.01)
    assert sorted(page.cells) == sorted(f"{v:.4f}" for metrics in expected.values() for v in metrics.values())
    assert {"NDCG@10", "MRR@25", "precision@10", "coverage", *expected} <= set(page.texts)


def test_status_text_shows_failure_reasons_and_campaign_updates():
    from personalize_kit.cli.status import render

    reason = "Dataset has fewer than 25 users with at least 2 interactions each."
    version = {
        "id": "v1",
        "arn": "arn:x/v1",
        "status": "CREATE FAILED",
        "trainingMode": "FULL",
        "created": "2026-11-24T12:00:00+00:00",
        "failureReason": reason,
        "campaigns": [],
    }
    good = {
        **version,
        "id": "v2",
        "status": "ACTIVE",
        "failureReason": None,
        "campaigns": [{"name": "c", "status": "ACTIVE", "minProvisionedTPS": 2, "update": "UPDATE IN_PROGRESS"}],
    }
    tree = {
        "datasetGroup": {"name": "g", "status": "ACTIVE", "kmsKeyArn": None},
        "datasets": [],
        "solutions": [{"name": "s", "recipe": "aws-sims", "status": "ACTIVE", "versions": [version, good]}],
        "eventTracker": None,
        "filters": [],
        "batchInferenceJobs": [],
    }
    assert render(tree).splitlines() == [
        "dataset group g: ACTIVE",
        "  datasets: none",
        "  solutions",
        "    s (aws-sims): ACTIVE",
        f"      version v1: CREATE FAILED (FULL, 2026-11-24 12:00:00) - {reason}",
        "      version v2: ACTIVE (FULL, 2026-11-24 12:00:00)",
        "        campaign c: ACTIVE (min TPS 2, update UPDATE IN_PROGRESS)",
        "  event tracker: none",
        "  filters: none",
        "  batch inference jobs: none",
    ]


# ----------------------------------------------------------------------------- runtime and events


def served(deployed: Deployed, n: int, *, unwatched: bool = False) -> list[str]:
    """User 1's recommendations asked in this process, through the mirror's runtime API."""
    personalize = deployed.personalize()
    campaign = next(c["campaignArn"] for c in personalize.list_campaigns()["campaigns"] if c["name"] == POPULAR)
    request = {"campaignArn": campaign, "userId": "1", "numResults": n}
    if unwatched:
        request["filterArn"] = next(
            f["filterArn"] for f in personalize.list_filters()["Filters"] if f["name"] == "unwatched"
        )
    response = deployed.personalize("personalize-runtime").get_recommendations(**request)
    return [i["itemId"] for i in response["itemList"]]


def test_recommend_returns_the_most_popular_items(deployed):
    counts = popularity(deployed)
    items = recommendations(deployed, "--num", "5")
    assert len(items) == 5 and all(i["score"] is None for i in items)
    assert [counts[i["itemId"]] for i in items] == sorted(counts.values(), reverse=True)[:5]
    text = deployed.ok("recommend", "--user", "1", "--num", "3").stdout.splitlines()
    assert text[0].split() == ["item", "score"]
    assert [line.split() for line in text[2:]] == [[i["itemId"], "-"] for i in items[:3]]


def test_similar_asks_the_sims_campaign_and_recommend_the_popularity_one(deployed):
    result = deployed.ok("similar", "--item", "133", "--num", "5", "--json")
    similar = [i["itemId"] for i in json.loads(result.stdout)]
    assert f"campaign {SIMS} (aws-sims), item 133" in result.stderr
    personalize = deployed.personalize()
    campaign = next(c["campaignArn"] for c in personalize.list_campaigns()["campaigns"] if c["name"] == SIMS)
    runtime = deployed.personalize("personalize-runtime")
    expected = runtime.get_recommendations(campaignArn=campaign, itemId="133", numResults=5)["itemList"]
    assert similar == [i["itemId"] for i in expected] and len(similar) == 5 and "133" not in similar
    result = deployed.ok("recommend", "--user", "1", "--num", "2")
    assert f"campaign {POPULAR} (aws-popularity-count), user 1" in result.stderr


def test_recommend_with_a_filter_drops_what_the_user_watched(deployed):
    with open(deployed.root / "out" / "interaction.csv", newline="") as handle:
        watched = {r["ITEM_ID"] for r in csv.DictReader(handle) if r["USER_ID"] == "1" and r["EVENT_TYPE"] == "watch"}
    assert watched
    filtered = [i["itemId"] for i in recommendations(deployed, "--num", "10", "--filter", "unwatched")]
    assert filtered == [i for i in served(deployed, 60) if i not in watched][:10]


def test_recommend_with_filter_values_keeps_only_that_genre(deployed):
    with open(deployed.root / "out" / "item-meta.csv", newline="") as handle:
        genres = {row["ITEM_ID"]: set(row["GENRES"].split("|")) for row in csv.DictReader(handle)}
    comedy = [
        i["itemId"]
        for i in recommendations(
            deployed, "--num", "8", "--filter", "by-genre", "--filter-values", '{"GENRE": "\\"Comedy\\""}'
        )
    ]
    assert comedy == [i for i in served(deployed, 200) if "Comedy" in genres[i]][:8]
    assert len(comedy) == 8


def test_events_put_is_recorded_and_counts_at_once(deployed):
    before = served(deployed, 5, unwatched=True)
    result = deployed.ok("events", "put", "--user", "1", "--item", before[0], "--type", "watch", "--value", "4")
    assert f"recorded watch of item {before[0]} by user 1 value 4" in result.stdout
    after = served(deployed, 5, unwatched=True)
    assert before[0] not in after and after[:4] == before[1:]
    # an event of another type does not count for a filter on "watch"
    deployed.ok("events", "put", "--user", "1", "--item", after[0], "--type", "click")
    assert served(deployed, 5, unwatched=True) == after


def test_batch_uploads_runs_and_downloads_the_results(deployed):
    (deployed.root / "users.jsonl").write_text('{"userId": "1"}\n{"userId": "2"}\n\n{"userId": "3"}\n')
    result = deployed.ok("batch", "--solution", POPULAR, "--input", "users.jsonl", "--num", "4")
    out = deployed.root / "users.jsonl.out"
    # written where the stack's role may write: under batch-output/, not under the data prefix
    assert result.stdout.startswith("3 result(s), 0 error(s): s3://clitest-data/batch-output/clitest/")
    assert result.stdout.splitlines()[0].endswith(f"-> {out.name}")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["input"] for line in lines] == [{"userId": "1"}, {"userId": "2"}, {"userId": "3"}]
    assert all(line["output"]["recommendedItems"] == served(deployed, 4) and line["error"] is None for line in lines)
    jobs = json.loads(deployed.ok("status", "--json").stdout)["batchInferenceJobs"]
    assert len(jobs) == 1 and jobs[0]["status"] == "ACTIVE"
    job = deployed.personalize().describe_batch_inference_job(batchInferenceJobArn=jobs[0]["arn"])["batchInferenceJob"]
    assert job["jobInput"]["s3DataSource"]["path"].startswith("s3://clitest-data/data/")  # readable by the role
    assert job["jobInput"]["s3DataSource"]["path"].endswith("/users.jsonl")
    assert job["jobOutput"]["s3DataDestination"]["path"].startswith("s3://clitest-data/batch-output/")
    assert job["jobInput"]["s3DataSource"]["kmsKeyArn"].startswith("arn:aws:kms:")
    assert job["roleArn"].endswith(f":role/{GROUP}-personalize") and job["numResults"] == 4
    # the same request on the same version runs once: the job is named after both, as the pipeline's are
    again = deployed.ok("batch", "--solution", POPULAR, "--input", "users.jsonl", "--num", "4")
    assert again.stdout.splitlines()[0] == result.stdout.splitlines()[0]
    assert len(json.loads(deployed.ok("status", "--json").stdout)["batchInferenceJobs"]) == 1


# ----------------------------------------------------------------------------- bad input


def test_bad_input_is_one_line_in_a_subprocess(deployed):
    one_line_error(deployed.cli("recommend"), "--user ID is required", "recommend --user 1")


@pytest.fixture
def main_in(deployed, monkeypatch, capsys):
    """``main(args)`` in this process (the same code as the subprocess, without its start-up time)."""
    from personalize_kit.cli import main

    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")

    def call(*args: str, project: str | None = "project.yaml", cwd: Path = deployed.root):
        monkeypatch.chdir(cwd)
        head, rest = (args[:2], args[2:]) if args[0] == "events" else (args[:1], args[1:])
        options = ("--project", project) if project else ()
        code = main([*head, *options, "--state-dir", str(deployed.state), *rest])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return call


@pytest.mark.parametrize(
    ("files", "args", "words"),
    [
        ({}, ("status",), ("missing.yaml does not exist",)),
        ({"missing.yaml": "name: [unclosed\n"}, ("status",), ("missing.yaml is not valid YAML at line 2",)),
        (
            {"missing.yaml": "solutions:\n  - recipe: deep-magic\n"},
            ("metrics",),
            ("solutions[0].recipe", "unknown recipe 'deep-magic'", "popularity-count"),
        ),
        (
            {"missing.yaml": "name: nowhere\n"},
            ("recommend", "--user", "1"),
            ("dataset group 'nowhere' does not exist",),
        ),
    ],
)
def test_bad_project_input_is_one_line(main_in, tmp_path, files, args, words):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    one_line_error(main_in(*args, project="missing.yaml", cwd=tmp_path), *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ("recommend", "--user", "1", "--campaign", "nope"),
            (
                "campaign 'nope' does not exist",
                f"{POPULAR} (aws-popularity-count, ACTIVE)",
                f"{SIMS} (aws-sims, ACTIVE)",
            ),
        ),
        (("similar", "--item", "5", "--campaign", POPULAR), ("InvalidInputException",)),
        (("rank", "--user", "1"), ("--items A,B,C is required",)),
        (("rank", "--user", "1", "--items", "1,2"), ("can serve `rank`", "aws-personalized-ranking")),
        (("recommend", "--user", "1", "--filter", "nope"), ("filter 'nope' is not in", "unwatched")),
        (
            ("recommend", "--user", "1", "--filter", "unwatched", "--filter-values", "{oops"),
            ("--filter-values is not valid JSON",),
        ),
        (("recommend", "--user", "1", "--filter-values", "{}"), ("--filter-values needs --filter NAME",)),
        (("recommend", "--user", "1", "--num", "0"), ("--num must be between 1 and 500",)),
        (("metrics", "--solution", "nope"), ("solution 'nope' is not in", f"{GROUP}-popularity-count")),
        (("metrics", "--report", "report.pdf"), ("the report is HTML",)),
        (
            ("batch", "--solution", f"{GROUP}-popularity-count", "--input", "missing.jsonl"),
            ("--input missing.jsonl does not exist",),
        ),
        (("batch", "--input", "users.jsonl"), ("--solution NAME is required",)),
        (("batch", "--solution", "nope", "--input", "project.yaml"), ("project.yaml, line 1: not JSON",)),
        (("events", "put", "--user", "1"), ("--item ID is required",)),
        (("events", "put", "--item", "1"), ("--user ID is required",)),
    ],
)
def test_bad_command_input_is_one_line(main_in, args, words):
    one_line_error(main_in(*args), *words)


# ----------------------------------------------------------------------------- cleanup (last: it deletes)


def test_cleanup_lists_first_then_deletes_everything(deployed, main_in):
    kinds = [
        "campaign",
        "campaign",
        "batch inference job",
        "filter",
        "filter",
        "event tracker",
        "solution",
        "solution",
        "dataset",
        "dataset",
        "dataset",
        "dataset group",
        "schema",
        "schema",
        "schema",
    ]
    if not deployed.personalize().list_batch_inference_jobs()["batchInferenceJobs"]:  # run alone or on another worker
        (deployed.root / "users.jsonl").write_text('{"userId": "1"}\n')
        deployed.ok("batch", "--solution", POPULAR, "--input", "users.jsonl", "--num", "4")
    dry = deployed.ok("cleanup").stdout.splitlines()
    rows = [line.rsplit("  ", 1) for line in dry[2:-1]]
    assert [kind.split("  ")[0] for kind, _ in rows] == kinds
    assert [action.strip() for _, action in rows] == ["delete"] * 2 + ["keep: jobs stay as history"] + ["delete"] * 12
    assert dry[-1] == "dry run: 14 resource(s) would be deleted; run again with --yes to delete them"
    personalize = deployed.personalize()
    assert [g["name"] for g in personalize.list_dataset_groups()["datasetGroups"]] == [GROUP]

    done = json.loads(deployed.ok("cleanup", "--yes", "--json").stdout)
    assert [row["kind"].replace("_", " ") for row in done] == kinds
    assert {row["action"] for row in done if row["kind"] != "batch_inference_job"} == {"deleted"}
    assert personalize.list_dataset_groups()["datasetGroups"] == []
    assert [s for s in personalize.list_schemas()["schemas"] if s["name"].startswith(GROUP)] == []
    assert personalize.list_solutions()["solutions"] == []
    assert personalize.list_campaigns()["campaigns"] == []
    assert personalize.list_filters()["Filters"] == []
    assert personalize.list_event_trackers()["eventTrackers"] == []
    one_line_error(main_in("status"), f"dataset group '{GROUP}' does not exist")
    assert main_in("cleanup").stdout.startswith("nothing to clean up")
