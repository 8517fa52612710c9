"""The AWS CLI (the ``awscli`` package in its own venv, with its own botocore) drives a whole lifecycle
against ``python -m personalize_kit serve``: S3 on the same endpoint, Personalize, Personalize Runtime."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from server_helpers import (
    AWS_CLI,
    INSTALL_HINT,
    INTERACTIONS_SCHEMA,
    POPULAR,
    POPULARITY_ARN,
    TRUST_POLICY,
    Server,
    bucket_policy,
    client_env,
    interactions_csv,
    role_policy,
    running_server,
)

pytestmark = pytest.mark.slow


class Cli:
    """``aws ...`` against the server, returning the parsed JSON output."""

    def __init__(self, server: Server, cwd: Path) -> None:
        if not AWS_CLI.exists():
            pytest.fail(f"the AWS CLI is not installed at {AWS_CLI}: {INSTALL_HINT}")
        self.env, self.cwd = client_env(server), cwd
        self.env.pop("AWS_SECURITY_TOKEN", None)
        self.env.pop("AWS_SESSION_TOKEN", None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [str(AWS_CLI), *args, "--output", "json"], capture_output=True, text=True, env=self.env, cwd=self.cwd
        )
        if check and out.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} exited {out.returncode}: {out.stderr}")
        return out

    def __call__(self, *args: str) -> Any:
        text = self.run(*args).stdout
        return json.loads(text) if text.strip() else {}

    def wait_active(self, describe: str, arn_flag: str, arn: str, key: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            found = self("personalize", describe, arn_flag, arn)[key]
            if found["status"] == "ACTIVE":
                return found
            assert "FAILED" not in found["status"], found.get("failureReason")
            assert time.monotonic() < deadline, f"still {found['status']} after {timeout}s"
            time.sleep(0.5)


def test_aws_cli_runs_the_lifecycle_against_the_server(tmp_path: Path, state_dir: Path):
    (tmp_path / "interactions.csv").write_text(interactions_csv())
    (tmp_path / "schema.json").write_text(INTERACTIONS_SCHEMA)
    with running_server(state_dir) as server:
        aws = Cli(server, tmp_path)
        aws.run("s3", "mb", "s3://cli-data")
        aws.run("s3", "cp", "interactions.csv", "s3://cli-data/data/interactions.csv")
        listing = aws("s3api", "list-objects-v2", "--bucket", "cli-data")
        assert [o["Key"] for o in listing["Contents"]] == ["data/interactions.csv"]
        role = aws("iam", "create-role", "--role-name", "personalize", "--assume-role-policy-document", TRUST_POLICY)
        role_arn = role["Role"]["Arn"]
        (tmp_path / "role-policy.json").write_text(role_policy("cli-data"))
        (tmp_path / "bucket-policy.json").write_text(bucket_policy("cli-data"))
        aws.run(
            "iam", "put-role-policy", "--role-name", "personalize", "--policy-name", "data",
            "--policy-document", "file://role-policy.json",
        )  # fmt: skip
        aws.run("s3api", "put-bucket-policy", "--bucket", "cli-data", "--policy", "file://bucket-policy.json")

        schema = aws("personalize", "create-schema", "--name", "cli-schema", "--schema", "file://schema.json")
        group = aws("personalize", "create-dataset-group", "--name", "cli-group")["datasetGroupArn"]
        aws.wait_active("describe-dataset-group", "--dataset-group-arn", group, "datasetGroup")
        dataset = aws(
            "personalize", "create-dataset", "--name", "cli-interactions", "--dataset-group-arn", group,
            "--dataset-type", "Interactions", "--schema-arn", schema["schemaArn"],
        )["datasetArn"]  # fmt: skip
        aws.wait_active("describe-dataset", "--dataset-arn", dataset, "dataset")
        job = aws(
            "personalize", "create-dataset-import-job", "--job-name", "cli-import", "--dataset-arn", dataset,
            "--data-source", "dataLocation=s3://cli-data/data/interactions.csv", "--role-arn", role_arn,
        )["datasetImportJobArn"]  # fmt: skip
        aws.wait_active("describe-dataset-import-job", "--dataset-import-job-arn", job, "datasetImportJob")

        solution = aws(
            "personalize", "create-solution", "--name", "cli-popular", "--dataset-group-arn", group,
            "--recipe-arn", POPULARITY_ARN,
        )["solutionArn"]  # fmt: skip
        aws.wait_active("describe-solution", "--solution-arn", solution, "solution")
        version = aws("personalize", "create-solution-version", "--solution-arn", solution)["solutionVersionArn"]
        aws.wait_active("describe-solution-version", "--solution-version-arn", version, "solutionVersion")
        campaign = aws(
            "personalize", "create-campaign", "--name", "cli-campaign", "--solution-version-arn", version,
            "--min-provisioned-tps", "1",
        )["campaignArn"]  # fmt: skip
        aws.wait_active("describe-campaign", "--campaign-arn", campaign, "campaign")

        answer = aws(
            "personalize-runtime", "get-recommendations", "--campaign-arn", campaign, "--user-id", "u05",
            "--num-results", "5",
        )  # fmt: skip
        assert [item["itemId"] for item in answer["itemList"]] == POPULAR[:5]
        assert answer["recommendationId"]

        missing = aws.run("personalize", "describe-campaign", "--campaign-arn", campaign + "-nope", check=False)
        assert missing.returncode != 0
        assert "ResourceNotFoundException" in missing.stderr
        assert aws.run("personalize", "list-campaigns").returncode == 0
        assert server.stop() == 0
    log = server.log_text()
    assert "personalize-runtime.GetRecommendations 200" in log
    assert "moto:s3" in log
