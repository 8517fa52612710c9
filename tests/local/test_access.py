"""Access as the service judges it: the role, its trust, the role and bucket policies, and the KMS key,
evaluated against moto's in-process IAM, S3 and KMS."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from personalize_kit.local import access
from personalize_kit.local.access import check_all, check_kms_key, check_role, check_s3_access, evaluate
from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.sdk import policies

REGION, ACCOUNT = "us-east-1", "123456789012"
BUCKET = "kit-data"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/kit-personalize"


class Account:
    """moto clients and a stack-shaped setup (the documents of :mod:`personalize_kit.sdk.policies`)."""

    def __init__(self) -> None:
        self.iam = boto3.client("iam", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.kms = boto3.client("kms", region_name=REGION)
        self.key = self.kms.create_key(Policy=json.dumps(policies.key_policy(ACCOUNT, REGION)))["KeyMetadata"]["Arn"]
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_bucket_policy(
            Bucket=BUCKET, Policy=json.dumps(policies.bucket_policy(BUCKET, ACCOUNT, REGION, "data/"))
        )
        self.role(trust=policies.trust_policy(ACCOUNT, REGION), policy=policies.role_policy(BUCKET, self.key, "data/"))

    def role(self, *, trust: dict[str, Any], policy: dict[str, Any] | None, name: str = "kit-personalize") -> str:
        with contextlib.suppress(self.iam.exceptions.NoSuchEntityException):
            self.iam.delete_role_policy(RoleName=name, PolicyName="p")
        try:
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            arn = self.iam.get_role(RoleName=name)["Role"]["Arn"]
        except self.iam.exceptions.NoSuchEntityException:
            arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if policy is not None:
            self.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        return arn


@pytest.fixture
def account() -> Iterator[Account]:
    with mock_aws():
        yield Account()


def refused(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidInputException) as caught:
        call(*args, **kwargs)
    assert caught.value.code == "InvalidInputException"
    return caught.value.message


def test_a_stack_shaped_setup_is_allowed_everything_personalize_needs(account):
    check_all(
        ROLE,
        REGION,
        read=[f"s3://{BUCKET}/data/demo/interaction.csv", f"s3://{BUCKET}/data/demo/"],
        write=[f"s3://{BUCKET}/batch-output/demo/job/", f"s3://{BUCKET}/export/demo/"],
        kms_key_arn=account.key,
        source_arn=f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-import-job/x",
    )


def test_a_role_that_does_not_exist_is_refused(account):
    missing = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    assert refused(check_role, missing, REGION) == access.ROLE_NOT_FOUND.format(role=missing)
    assert "is not valid" in refused(check_role, "not-an-arn", REGION)


@pytest.mark.parametrize(
    "trust",
    [
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
        policies.trust_policy("210987654321", REGION),  # aws:SourceAccount of another account
        policies.trust_policy(ACCOUNT, "eu-west-1"),  # aws:SourceArn of another region
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": access.SERVICE_PRINCIPAL}, "Action": "sts:AssumeRole"},
                {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"},
            ],
        },
    ],
    ids=["another-service", "another-account", "another-region", "explicit-deny"],
)
def test_a_role_personalize_may_not_assume_is_refused(account, trust):
    account.role(trust=trust, policy=policies.role_policy(BUCKET, account.key, "data/"))
    message = refused(check_role, ROLE, REGION)
    assert message.startswith(f"Amazon Personalize cannot assume the role {ROLE}")


def test_a_role_without_a_permission_policy_cannot_read_the_data(account):
    account.role(trust=policies.trust_policy(ACCOUNT, REGION), policy=None)
    check_role(ROLE, REGION)  # it may be assumed ...
    message = refused(check_s3_access, ROLE, "read", f"s3://{BUCKET}/data/x.csv", REGION)  # ... but reads nothing
    assert message.startswith("Insufficient privileges for accessing data in S3: role")
    assert "s3:ListBucket" in message


def test_reads_and_writes_are_held_to_their_prefixes(account):
    assert "s3:ListBucket" in refused(check_s3_access, ROLE, "read", f"s3://{BUCKET}/secret/x.csv", REGION)
    assert "s3:PutObject" in refused(check_s3_access, ROLE, "write", f"s3://{BUCKET}/data/x.csv", REGION)
    check_s3_access(ROLE, "write", f"s3://{BUCKET}/batch-output/run/", REGION)


def test_an_explicit_deny_in_the_role_policy_wins(account):
    policy = policies.role_policy(BUCKET, account.key, "data/")
    policy["Statement"].append(
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/data/private/*"}
    )
    account.role(trust=policies.trust_policy(ACCOUNT, REGION), policy=policy)
    check_s3_access(ROLE, "read", f"s3://{BUCKET}/data/public.csv", REGION)
    assert "s3:GetObject" in refused(check_s3_access, ROLE, "read", f"s3://{BUCKET}/data/private/x.csv", REGION)


def test_a_bucket_policy_without_the_personalize_principal_is_refused(account):
    account.s3.delete_bucket_policy(Bucket=BUCKET)
    message = refused(check_s3_access, ROLE, "read", f"s3://{BUCKET}/data/x.csv", REGION)
    assert message.startswith(f"Insufficient privileges for accessing data in S3: {access.SERVICE_PRINCIPAL}")


def test_a_missing_bucket_and_a_malformed_path_are_refused(account):
    assert refused(check_s3_access, ROLE, "read", "s3://no-such-bucket/data/x.csv", REGION) == (
        access.S3_NO_BUCKET.format(bucket="no-such-bucket")
    )
    assert "is not valid" in refused(check_s3_access, ROLE, "read", "https://x/y", REGION)


def test_a_bucket_encrypted_with_a_key_the_role_cannot_use_is_refused(account):
    other = account.kms.create_key()["KeyMetadata"]["Arn"]  # default policy: the account's IAM decides
    account.s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other}}]
        },
    )
    message = refused(check_s3_access, ROLE, "read", f"s3://{BUCKET}/data/x.csv", REGION)
    assert message.startswith(f"Amazon Personalize is not allowed kms:Decrypt on KMS key {other}")


def test_kms_keys_must_exist_be_enabled_and_let_personalize_or_the_role_in(account):
    missing = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    assert refused(check_kms_key, missing, ROLE, REGION) == access.KMS_NOT_FOUND.format(key=missing)
    check_kms_key(account.key, ROLE, REGION)
    check_kms_key(account.key, None, REGION)  # the key policy lets Personalize in by itself

    plain = account.kms.create_key()["KeyMetadata"]["Arn"]  # default policy: delegates to the account's IAM
    assert "kms:Decrypt" in refused(check_kms_key, plain, None, REGION)
    account.role(trust=policies.trust_policy(ACCOUNT, REGION), policy=policies.role_policy(BUCKET, plain, "data/"))
    check_kms_key(plain, ROLE, REGION)  # the role's own policy grants it

    account.kms.disable_key(KeyId=plain.rsplit("/", 1)[1])
    assert refused(check_kms_key, plain, ROLE, REGION) == access.KMS_DISABLED.format(key=plain, state="Disabled")


def test_the_local_backend_sets_up_what_the_checks_allow(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONALIZE_KIT_OFFLINE", "1")
    from personalize_kit.sdk import make_backend, parse_project

    project = parse_project({"name": "demo", "data": {"source": "synthetic", "out": str(tmp_path / "out")}})
    backend = make_backend("local", project, state_dir=tmp_path / "state")
    check_all(
        backend.role_arn,
        REGION,
        read=[f"s3://{backend.bucket}/data/demo/interaction.csv"],
        write=[f"s3://{backend.bucket}/batch-output/demo/job/"],
        kms_key_arn=backend.kms_key_arn,
    )


# ----------------------------------------------------------------------------- the evaluator's rules


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_evaluation_order_deny_beats_allow_beats_nothing():
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"}
    assert evaluate([doc(allow, deny)], "s3:GetObject", "arn:aws:s3:::b/k") == "allow"
    assert evaluate([doc(allow), doc(deny)], "s3:PutObject", "arn:aws:s3:::b/k") == "deny"
    assert evaluate([doc(deny)], "s3:GetObject", "arn:aws:s3:::b/k") == "none"
    assert (
        evaluate([doc({"Effect": "Allow", "Action": "S3:getobject", "Resource": "*"})], "s3:GetObject", "x") == "allow"
    )


def test_not_action_not_resource_and_principals():
    statement = {"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": "arn:aws:s3:::b/private/*"}
    assert evaluate([doc(statement)], "s3:GetObject", "arn:aws:s3:::b/k") == "allow"
    assert evaluate([doc(statement)], "s3:DeleteObject", "arn:aws:s3:::b/k") == "none"
    assert evaluate([doc(statement)], "s3:GetObject", "arn:aws:s3:::b/private/k") == "none"
    named = {"Effect": "Allow", "Principal": {"Service": ["a.amazonaws.com", "b.amazonaws.com"]}, "Action": "*"}
    assert evaluate([doc(named)], "x:Y", principal={"Service": "b.amazonaws.com"}) == "allow"
    assert evaluate([doc(named)], "x:Y", principal={"AWS": "arn:aws:iam::1:role/r"}) == "none"


@pytest.mark.parametrize(
    ("condition", "context", "applies"),
    [
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {"aws:SourceAccount": "1"}, True),
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {"aws:sourceaccount": "1"}, True),  # keys ignore case
        ({"StringEquals": {"aws:SourceAccount": "1"}}, {}, False),  # a missing key fails a positive operator
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, {}, True),
        ({"StringNotEquals": {"aws:SourceAccount": "1"}}, {}, True),  # ... and passes a negated one
        ({"StringNotEquals": {"aws:SourceAccount": "1"}}, {"aws:SourceAccount": "1"}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:personalize:us-east-1:1:*"}},
            {"aws:SourceArn": "arn:aws:personalize:us-east-1:1:x/y"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:personalize:us-east-1:1:*"}},
            {"aws:SourceArn": "arn:aws:s3:::b"},
            False,
        ),
        ({"StringLike": {"s3:prefix": ["data/", "data/*"]}}, {"s3:prefix": "data/x.csv"}, True),
        ({"StringLike": {"s3:prefix": ["data/", "data/*"]}}, {"s3:prefix": "other/"}, False),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"NumericLessThan": {"n": "3"}}, {"n": "2"}, True),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "10.1.1.1"}, False),  # not judged offline
    ],
)
def test_condition_operators(condition, context, applies):
    statement = {"Effect": "Allow", "Action": "x:Y", "Resource": "*", "Condition": condition}
    assert evaluate([doc(statement)], "x:Y", "r", context=context) == ("allow" if applies else "none")
