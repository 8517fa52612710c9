"""The S3 side of the steps: a file's digest (the identity of the data a job carries) and an idempotent upload."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import boto3

from personalize_kit.sdk._clients import client


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file, hex: the identity of the data an import job carries."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload(
    path: str | Path,
    bucket: str,
    key: str,
    *,
    kms_key_arn: str | None = None,
    session: boto3.Session | None = None,
    plan: bool = False,
) -> tuple[str, bool]:
    """Upload ``path`` to ``s3://bucket/key`` with SSE-KMS; skipped when the same bytes are there already.

    Returns the S3 URI and whether it was uploaded (with ``plan``: whether it would be; nothing is sent).
    """
    s3 = client("s3", session)
    digest = file_digest(path)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        if head.get("Metadata", {}).get("sha256") == digest:
            return f"s3://{bucket}/{key}", False
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
            raise
    if plan:
        return f"s3://{bucket}/{key}", True
    extra: dict[str, Any] = {"Metadata": {"sha256": digest}}
    if kms_key_arn:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn)
    s3.upload_file(str(path), bucket, key, ExtraArgs=extra)
    return f"s3://{bucket}/{key}", True
