"""The web console in a real headless browser (Debian's Chromium driven by Playwright) against the real server.

The state is planted so that the right answers are known: 48 films in four genres, 60 users who each watch
the films of one genre; a User-Personalization campaign (trained quickly) returns titles and genres through
``metadataColumns``, and a Popularity-Count campaign answers with ids only. Clicking "watched" on a film
sends PutEvents through the dataset group's event tracker, and the recommended list must change at once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = ROOT / "tests" / "artifacts" / "console.png"
BUCKET = "console-data"
ROLE_ARN = "arn:aws:iam::123456789012:role/PersonalizeS3"
UP_ARN = "arn:aws:personalize:::recipe/aws-user-personalization"
POPULARITY_ARN = "arn:aws:personalize:::recipe/aws-popularity-count"
SIMS_ARN = "arn:aws:personalize:::recipe/aws-sims"
QUICK = {"aws-user-personalization": {"max_epochs": 2, "time_budget": 60}}
START = 1_700_000_000
GENRES = ("Comedy", "Drama", "Thriller", "Animation")
ADJECTIVES = (
    "Quiet",
    "Last",
    "Silver",
    "Hidden",
    "Little",
    "Northern",
    "Broken",
    "Golden",
    "Paper",
    "Electric",
    "Long",
    "Crimson",
)
NOUNS = (
    "Harbor",
    "Summer",
    "Garden",
    "Signal",
    "Orchard",
    "Lantern",
    "River",
    "Engine",
    "Letters",
    "Island",
    "Winter",
    "Parade",
)
FILMS = {f"m{k:02d}": (f"The {ADJECTIVES[k % 12]} {NOUNS[(k * 5 + k // 12) % 12]}", GENRES[k % 4]) for k in range(48)}
N_USERS = 60

pytestmark = pytest.mark.slow


def user_films(user: int) -> list[str]:
    """User ``uNN`` watches 8 to 12 films of genre ``NN % 4`` and 8 of the next genre, oldest first."""
    own, other = user % 4, (user % 4 + 1 + user // 4 % 3) % 4
    return [f"m{k:02d}" for k in range(own, 48, 4)][: 8 + user % 5] + [f"m{k:02d}" for k in range(other, 48, 4)][:8]


def interactions_csv() -> str:
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    for user in range(N_USERS):
        for k, film in enumerate(user_films(user)):
            lines.append(f"u{user:02d},{film},{START + user * 1000 + k},watch,{3 + k % 3}")
    return "\n".join(lines) + "\n"


def items_csv() -> str:
    lines = ["ITEM_ID,TITLE,GENRES"] + [f"{film},{title},{genre}" for film, (title, genre) in FILMS.items()]
    return "\n".join(lines) + "\n"


ITEMS_SCHEMA = make_schema(
    "ITEMS",
    [
        FieldSpec("ITEM_ID", "string"),
        FieldSpec("TITLE", "string", textual=True),
        FieldSpec("GENRES", "string", categorical=True),
    ],
)


def _wait(describe: Any, key: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = describe()[key]
        if described["status"] in ("ACTIVE", "CREATE FAILED"):
            assert described["status"] == "ACTIVE", described.get("failureReason")
            return described
        assert time.monotonic() < deadline, f"still {described['status']} after {timeout}s"
        time.sleep(0.1)


def build_state(state_dir: Path) -> dict[str, str]:
    """A dataset group "films" with data, three trained solutions, their campaigns, an event tracker and a filter."""
    import boto3

    from personalize_kit.local import mock_personalize
    from personalize_kit.sdk.backend import grant_personalize

    arns: dict[str, str] = {}
    with mock_personalize(state_dir, recipe_options=QUICK, pace="instant"):  # the state, not its states
        personalize = boto3.client("personalize", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        grant_personalize(boto3.Session(region_name="us-east-1"), BUCKET, output_prefixes=("",))
        s3.put_object(Bucket=BUCKET, Key="interactions.csv", Body=interactions_csv().encode())
        s3.put_object(Bucket=BUCKET, Key="items.csv", Body=items_csv().encode())
        group = personalize.create_dataset_group(name="films")["datasetGroupArn"]
        _wait(lambda: personalize.describe_dataset_group(datasetGroupArn=group), "datasetGroup")
        for kind, schema in (("INTERACTIONS", interactions_schema()), ("ITEMS", ITEMS_SCHEMA)):
            schema_arn = personalize.create_schema(name=f"films-{kind.lower()}", schema=json.dumps(schema))["schemaArn"]
            dataset = personalize.create_dataset(
                name=f"films-{kind.lower()}", datasetGroupArn=group, datasetType=kind, schemaArn=schema_arn
            )["datasetArn"]
            job = personalize.create_dataset_import_job(
                jobName=f"films-{kind.lower()}-import",
                datasetArn=dataset,
                dataSource={"dataLocation": f"s3://{BUCKET}/{kind.lower()}.csv"},
                roleArn=ROLE_ARN,
            )["datasetImportJobArn"]
            _wait(lambda job=job: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
        for name, recipe, config in (
            ("films-up", UP_ARN, {"algorithmHyperParameters": {"hidden_dimension": "32", "bptt": "8"}}),
            ("films-popular", POPULARITY_ARN, {}),
            ("films-similar", SIMS_ARN, {}),
        ):
            solution = personalize.create_solution(
                name=name, datasetGroupArn=group, recipeArn=recipe, **({"solutionConfig": config} if config else {})
            )["solutionArn"]
            version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
            _wait(
                lambda version=version: personalize.describe_solution_version(solutionVersionArn=version),
                "solutionVersion",
            )
            campaign_config: dict[str, Any] = {}
            if recipe == UP_ARN:
                campaign_config = {
                    "enableMetadataWithRecommendations": True,
                    "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"},
                }
            arns[name] = personalize.create_campaign(
                name=name,
                solutionVersionArn=version,
                **({"campaignConfig": campaign_config} if campaign_config else {}),
            )["campaignArn"]
            _wait(lambda name=name: personalize.describe_campaign(campaignArn=arns[name]), "campaign")
        personalize.create_event_tracker(name="films-tracker", datasetGroupArn=group)
        personalize.create_filter(
            name="films-unwatched",
            datasetGroupArn=group,
            filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")',
        )
        arns["group"] = group
    return arns


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(state_dir)`` starts ``python -m personalize_kit serve`` on a free port; returns its URL."""
    started: list[subprocess.Popen] = []

    def start(state_dir: Path) -> str:
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "personalize_kit",
                "serve",
                "--port",
                str(port),
                "--state-dir",
                str(state_dir),
                "--quiet",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"serve exited: {process.stdout.read() if process.stdout else ''}"
            try:
                with urllib.request.urlopen(f"{url}/_health", timeout=2) as answer:
                    if answer.status == 200:
                        return url
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not answer /_health within 60 s"
            time.sleep(0.2)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def page() -> Iterator[Any]:
    """A page of Debian's Chromium driven by Playwright; ``page.errors`` collects console errors and exceptions."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Chromium is not installed (/usr/bin/chromium): run scripts/install-test-tools.sh")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[dev]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.errors = []
            tab.on("console", lambda message: message.type == "error" and tab.errors.append(message.text))
            tab.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
            yield tab
        finally:
            browser.close()


def listed(page: Any) -> list[tuple[str, str]]:
    """The recommended items on the page, in order: ``(item id, score)``."""
    return page.eval_on_selector_all(
        "#play-results li.rec", "items => items.map(li => [li.dataset.item, li.dataset.score || ''])"
    )


def test_console_with_an_empty_state(serve: Any, page: Any, state_dir: Path) -> None:
    page.goto(serve(state_dir))
    page.wait_for_selector("#tree .empty")
    assert "No dataset groups yet" in page.inner_text("#tree")
    page.wait_for_selector("#play-empty", state="visible")
    assert page.is_hidden("#play-area")
    page.wait_for_selector("#metrics .empty")
    assert "No trained solution version yet" in page.inner_text("#metrics")
    page.wait_for_function("document.querySelector('#live-text').textContent.startsWith('0 dataset groups')")
    assert page.errors == []


def check_tree(page: Any) -> None:
    """Every resource of the planted state is in the tree, each ACTIVE, each version deployed."""
    page.wait_for_selector("#tree .tree")
    tree = page.inner_text("#tree")
    names = ["films", "films-interactions", "films-items", "films-interactions-import", "films-items-import"]
    names += ["films-up", "films-popular", "films-similar", "films-tracker", "films-unwatched", "aws-sims"]
    assert [name for name in names if name not in tree] == []
    # the group, 2 datasets, 2 import jobs, 3 solutions, 3 versions, 3 campaigns, the tracker, the filter
    assert page.locator("#tree .badge.ok").count() == 16
    assert page.locator("#tree .tag.live").count() == 3


def check_metrics(page: Any) -> None:
    """The three ACTIVE versions' metrics as one bar per version and metric, with a legend and a table."""
    page.wait_for_selector("#metrics svg.chart rect")
    assert page.locator("#metrics .legend li").count() == 3
    metrics = page.locator("#metrics thead th").count() - 1  # the first column names the version
    assert metrics >= 8  # coverage, MRR@25, NDCG@5/10/25, precision@5/10/25
    assert page.locator("#metrics svg.chart rect").count() == 3 * metrics


def recorded_events(state_dir: Path) -> list[dict[str, Any]]:
    from personalize_kit.local import store
    from personalize_kit.local.state import StateDir

    return store.read_events(StateDir(state_dir), "films").to_dict("records")


def check_watched(page: Any, arns: dict[str, str], state_dir: Path) -> None:
    """Titles and genres through metadataColumns; "Watched" sends the event and the list changes at once."""
    page.wait_for_function("document.querySelector('#play-campaign').options.length === 3")
    page.get_by_label("Campaign or recommender").select_option(arns["films-up"])
    page.get_by_label("User id").fill("u03")
    page.get_by_role("button", name="Recommend", exact=True).click()
    page.wait_for_selector("#play-results li.rec")
    before = listed(page)
    assert len(before) == 10
    first = page.locator("#play-results li.rec").first
    assert (first.locator(".rec-title").inner_text(), first.locator(".chip").inner_text()) == FILMS[before[0][0]]

    target = before[4][0]
    page.get_by_role("button", name=f"Watched {FILMS[target][0]}").click()
    page.wait_for_function(
        "before => JSON.stringify([...document.querySelectorAll('#play-results li.rec')]"
        ".map(li => [li.dataset.item, li.dataset.score || ''])) !== JSON.stringify(before)",
        arg=before,
    )
    assert listed(page) != before
    assert FILMS[target][0] in page.inner_text("#play-history")
    event = recorded_events(state_dir)[-1]  # what the server's mirror recorded from the page's PutEvents
    assert (event["USER_ID"], event["ITEM_ID"], event["EVENT_TYPE"]) == ("u03", target, "watch")
    assert event["RECOMMENDATION_ID"].startswith("RID-")
    assert event["IMPRESSION"] == "|".join(item for item, _ in before)
    assert "since the last answer" in page.inner_text("#play-summary")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # with the filter that excludes watched films, a film leaves the list as soon as it is watched
    page.get_by_label("Filter").select_option(label="films-unwatched")
    page.wait_for_function(f"!document.querySelector('#play-results li.rec[data-item=\"{target}\"]')")
    second = listed(page)[0][0]
    page.get_by_role("button", name=f"Watched {FILMS[second][0]}").click()
    page.wait_for_function(f"!document.querySelector('#play-results li.rec[data-item=\"{second}\"]')")
    assert len(listed(page)) == 10


def check_other_campaigns(page: Any, arns: dict[str, str]) -> None:
    """Ids only without enableMetadataWithRecommendations; a related-items campaign takes an item id."""
    page.get_by_label("Filter").select_option("")
    page.get_by_label("Campaign or recommender").select_option(arns["films-popular"])
    page.wait_for_function("document.querySelector('#play-info').textContent.includes('Item ids only')")
    page.wait_for_selector("#play-results li.rec:not(:has(.chip))")
    popular = page.locator("#play-results li.rec").first
    assert popular.locator(".rec-title").inner_text() == popular.get_attribute("data-item")

    page.get_by_label("Campaign or recommender").select_option(arns["films-similar"])
    page.get_by_label("Item id").fill("m00")
    page.get_by_role("button", name="Recommend", exact=True).click()
    page.wait_for_selector("#play-results li.rec button.secondary")
    pick = listed(page)[0][0]
    assert pick != "m00"
    page.get_by_role("button", name=f"Items like {pick}").click()  # SIMS without metadata: the title is the id
    page.wait_for_function(f"!document.querySelector('#play-results li.rec[data-item=\"{pick}\"]')")
    assert page.get_by_label("Item id").input_value() == pick
    assert page.is_hidden("#play-error")


def test_console_tree_metrics_and_watched_events(serve: Any, page: Any, state_dir: Path) -> None:
    arns = build_state(state_dir)
    page.goto(serve(state_dir))
    check_tree(page)
    check_metrics(page)
    check_watched(page, arns, state_dir)
    check_other_campaigns(page, arns)
    assert page.errors == []
