"""``python -m personalize_kit pipeline --backend aws`` end to end against the server through
``AWS_ENDPOINT_URL``: the AWS code path over the wire (SigV4, both JSON protocols, S3 on the same port),
with the server throttling some calls (``ThrottlingException``, HTTP 400) and botocore's retries carrying
the pipeline through."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from server_helpers import ROOT, client_env, grant, running_server

from personalize_kit.server.faults import FAULTS_ENV

pytestmark = pytest.mark.slow
#: Operations throttled by the server, and how many of their first calls.
FAULTS = {"CreateDatasetGroup": 1, "CreateSolutionVersion": 2, "DescribeSolutionVersion": 3, "GetRecommendations": 1}


def aws_resources(url: str) -> dict[str, str]:
    """The bucket, role and key the aws backend reads from the project file, made on the server's moto."""
    kms, s3, iam = (boto3.client(s, endpoint_url=url, region_name="us-east-1") for s in ("kms", "s3", "iam"))
    from personalize_kit.sdk import policies

    key_policy = json.dumps(policies.key_policy("123456789012", "us-east-1"))
    key = kms.create_key(Description="wire", Policy=key_policy)["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="wire-data")
    role = grant(url, "wire-data", "wire-personalize", key_arn=key, data_prefix="data/")
    return {"bucket": "wire-data", "role_arn": role, "kms_key_arn": key}


def count(log: str, line: str) -> int:
    return len(re.findall(rf"{re.escape(line)}\b", log))


def test_pipeline_backend_aws_runs_over_the_wire_through_throttling(tmp_path: Path, state_dir: Path):
    faults = ",".join(f"{op}:{n}" for op, n in FAULTS.items())
    with running_server(state_dir, env={FAULTS_ENV: faults}) as server:
        project = {
            "name": "wire",
            "data": {"source": "synthetic", "interactions": 5000, "seed": 3},
            "aws": aws_resources(server.url),
            "solutions": [{"recipe": "popularity-count"}],
        }
        (tmp_path / "project.json").write_text(json.dumps(project))
        command = [sys.executable, "-m", "personalize_kit", "pipeline", "--backend", "aws", "--project", "project.json"]
        env = {**client_env(server), "PYTHONPATH": str(ROOT)}
        first = subprocess.run([*command, "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stderr[-3000:]
        again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr[-3000:]
        log = server.log_text()

    assert "nothing changed" in again.stdout + again.stderr
    for operation, throttled in FAULTS.items():
        service = "personalize-runtime" if operation == "GetRecommendations" else "personalize"
        assert count(log, f"{service}.{operation} 400") == throttled, operation
        assert count(log, f"{service}.{operation} 200") >= 1, operation
    assert count(log, "personalize.CreateSolutionVersion 200") == 1
    assert "moto:s3" in log and "moto:sts" in log
    assert list(state_dir.glob("**/*")), "the server kept the mirror's state in its state directory"
