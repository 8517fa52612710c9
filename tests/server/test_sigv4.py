"""SigV4 verification (``serve --credentials KEY:SECRET``): requests signed by botocore are checked with
botocore's own signer; others are refused with each service's error, through a real server and clients."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import boto3
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from server_helpers import running_server

from personalize_kit.server.sigv4 import Verifier, parse_credentials

URL = "http://127.0.0.1:4566/"
BODY = b'{"schemaArn": "arn:aws:personalize:us-east-1:123456789012:schema/s"}'


def signed(key: str, secret: str, *, service: str = "personalize", url: str = URL, body: bytes = BODY) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"X-Amz-Target": "AmazonPersonalize.DescribeSchema", "Content-Type": "application/x-amz-json-1.1"},
    )
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(key, secret), service, "us-east-1").add_auth(request)
    request.headers["Host"] = "127.0.0.1:4566"
    return request


def check(verifier: Verifier, request: AWSRequest, body: bytes | None = None, **kwargs) -> str | None:
    refusal = verifier.check(request.method, request.url, request.headers, BODY if body is None else body, **kwargs)
    return None if refusal is None else refusal.kind


def test_a_request_signed_with_the_servers_credentials_passes():
    verifier = Verifier("AKIDSERVER", "secret")
    assert check(verifier, signed("AKIDSERVER", "secret")) is None
    s3_url = "http://127.0.0.1:4566/bucket/some%20key.csv?uploads"
    s3 = signed("AKIDSERVER", "secret", service="s3", url=s3_url, body=b"")
    assert verifier.check("POST", s3_url, s3.headers, b"") is None


@pytest.mark.parametrize(
    ("request_key", "request_secret", "kind"),
    [("AKIDSERVER", "wrong", "bad-signature"), ("AKIDOTHER", "secret", "unknown-key")],
)
def test_a_request_signed_otherwise_is_refused(request_key, request_secret, kind):
    assert check(Verifier("AKIDSERVER", "secret"), signed(request_key, request_secret)) == kind


def test_a_changed_body_an_old_date_and_no_signature_are_refused():
    verifier = Verifier("AKIDSERVER", "secret")
    request = signed("AKIDSERVER", "secret")
    assert check(verifier, request, body=BODY.replace(b"schema/s", b"schema/t")) == "bad-signature"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    assert check(verifier, request, now=later) == "bad-signature"
    del request.headers["Authorization"]
    assert check(verifier, request) == "unsigned"


@pytest.mark.parametrize("text", ["KEY", "KEY:", ":SECRET", ""])
def test_credentials_must_be_key_and_secret(text):
    with pytest.raises(ValueError, match="KEY:SECRET"):
        parse_credentials(text)
    assert parse_credentials("AKID:s:e") == ("AKID", "s:e")


@pytest.mark.slow
def test_a_server_with_credentials_answers_only_clients_that_sign_with_them(state_dir: Path):
    with running_server(state_dir, "--credentials", "AKIDSERVER:server-secret") as server:

        def clients(key: str, secret: str) -> tuple:
            session = boto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1")
            return tuple(session.client(s, endpoint_url=server.url) for s in ("personalize", "s3"))

        personalize, s3 = clients("AKIDSERVER", "server-secret")
        assert personalize.list_recipes()["recipes"]
        s3.create_bucket(Bucket="signed-bucket")
        s3.put_object(Bucket="signed-bucket", Key="data/a b.csv", Body=b"x,y\n1,2\n")
        assert s3.get_object(Bucket="signed-bucket", Key="data/a b.csv")["Body"].read() == b"x,y\n1,2\n"

        personalize, s3 = clients("AKIDSERVER", "not-the-secret")
        with pytest.raises(ClientError) as refused:
            personalize.list_recipes()
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket="signed-bucket", Key="data/a b.csv")
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

        personalize, _ = clients("AKIDSTRANGER", "server-secret")
        with pytest.raises(ClientError) as refused:
            personalize.list_recipes()
        assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
