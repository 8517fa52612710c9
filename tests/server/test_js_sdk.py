"""The AWS SDK for JavaScript v3 (``@aws-sdk/client-personalize``, ``-runtime``, ``-events`` from npm) against
``python -m personalize_kit serve``: it reads a campaign, sends events and gets recommendations that change.

A User-Personalization campaign is trained on the server (over HTTP, with boto3) from four groups of 12
items, each user watching one group; a user never seen sends events for items of group 2 through the
JavaScript SDK, and its recommendations move toward that group at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from server_helpers import GROUPS, INSTALL_HINT, JS_DIR, UP_ARN, client_env, group_csv, plant_campaign, running_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed: the JavaScript SDK needs it"),
]


def test_javascript_sdk_reads_a_campaign_sends_events_and_sees_recommendations_change(state_dir: Path):
    if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-personalize-events").is_dir():
        pytest.fail(f"the JavaScript SDK is not installed in {JS_DIR}: {INSTALL_HINT}")
    with running_server(state_dir) as server:
        planted = plant_campaign(server.url, group_csv(), UP_ARN, "js")
        env = {
            **client_env(server),
            "SERVER_URL": server.url,
            "CAMPAIGN_ARN": planted["campaignArn"],
            "TRACKING_ID": planted["trackingId"],
            "USER_ID": "newcomer",
            "ITEMS": ",".join(GROUPS[2][:5]),
        }
        out = subprocess.run(
            ["node", "lifecycle.mjs"], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        seen = json.loads(out.stdout)
        log = server.log_text()

    assert seen["campaign"] == {"name": "js-campaign", "status": "ACTIVE", "created": True}
    assert len(seen["before"]) == len(seen["after"]) == 10
    assert seen["after"] != seen["before"]

    def in_group(items: list[str]) -> int:
        return sum(item in GROUPS[2] for item in items)

    assert in_group(seen["after"]) > in_group(seen["before"]), (seen, GROUPS[2])
    assert seen["missing"]["name"] == "ResourceNotFoundException"
    assert seen["missing"]["status"] == 400
    assert "personalize-events.PutEvents 200" in log
