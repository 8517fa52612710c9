"""Access checks the service makes before it touches a customer's role, bucket or key.

Amazon Personalize assumes the ``roleArn`` it is given, reads and writes S3 as that role, and uses KMS keys
for dataset groups and jobs. Offline, the role, the bucket and the key live in moto's in-process IAM, S3 and
KMS backends; this module judges a request against them with the rules of IAM policy evaluation (explicit
deny wins, then an allow, else an implicit deny; ``Action``/``NotAction``, ``Resource``/``NotResource``,
``Principal``, and conditions with their operators, ``...IfExists`` and the negated operators' handling of
missing keys), so what would be refused on AWS is refused offline too.

Each check raises :class:`~personalize_kit.local.exceptions.InvalidInputException` with the service's
message, or returns ``None``. The module imports nothing of the mirror but its exceptions (a leaf).

- :func:`check_role`: the role exists and trusts ``personalize.amazonaws.com`` (conditions evaluated with
  ``aws:SourceAccount`` and ``aws:SourceArn`` of the resource being created);
- :func:`check_s3_access`: the role's policies and the bucket's policy let Personalize do what the
  operation needs on the S3 path (``read``: ListBucket and GetObject; ``write``: PutObject), plus the
  bucket key's use when the bucket encrypts with KMS;
- :func:`check_kms_key`: the key exists, is enabled, and its key policy lets Personalize or the role use it.

>>> from moto import mock_aws                                                  # doctest: +SKIP
>>> with mock_aws():                                                           # doctest: +SKIP
...     check_role("arn:aws:iam::123456789012:role/missing", "us-east-1")
Traceback (most recent call last):
InvalidInputException: ...
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from personalize_kit.local.exceptions import InvalidInputException

logger = logging.getLogger(__name__)

#: The service principal Amazon Personalize acts as.
SERVICE_PRINCIPAL = "personalize.amazonaws.com"
#: What an operation needs on S3, by purpose.
S3_ACTIONS: dict[str, tuple[str, ...]] = {"read": ("s3:ListBucket", "s3:GetObject"), "write": ("s3:PutObject",)}
#: What using a key needs, by purpose (reading KMS-encrypted data, writing it, or encrypting a dataset group).
KMS_ACTIONS: dict[str, tuple[str, ...]] = {
    "read": ("kms:Decrypt",),
    "write": ("kms:GenerateDataKey",),
    "encrypt": ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
}

# The service's messages.
ROLE_NOT_FOUND = "Role {role} does not exist or cannot be assumed by Amazon Personalize."
ROLE_NOT_TRUSTED = (
    "Amazon Personalize cannot assume the role {role}: its trust policy does not allow "
    f"{SERVICE_PRINCIPAL} to call sts:AssumeRole for {{source}}."
)
ROLE_MALFORMED = "The role ARN {role} is not valid: provide the ARN of an IAM role (arn:aws:iam::ACCOUNT:role/NAME)."
S3_MALFORMED = "The S3 path {url} is not valid: provide a path of the form s3://bucket-name/prefix."
S3_NO_BUCKET = "Insufficient privileges for accessing data in S3: bucket {bucket} does not exist or is not accessible."
S3_DENIED = (
    "Insufficient privileges for accessing data in S3: {who} is not allowed {action} on {resource}. "
    "Grant it in the role's policy and in the bucket policy for " + SERVICE_PRINCIPAL + "."
)
KMS_NOT_FOUND = "KMS key {key} does not exist or is not accessible."
KMS_DISABLED = "KMS key {key} is not enabled (state {state})."
KMS_DENIED = (
    "Amazon Personalize is not allowed {action} on KMS key {key}: the key policy must allow "
    f"{SERVICE_PRINCIPAL} or the role {{role}} to use it."
)

Policy = Mapping[str, Any]


# --- the evaluator ----------------------------------------------------------------------------------------


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.S) is not None


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _principal_matches(element: Any, principal: Mapping[str, str]) -> bool:
    """Whether a statement's ``Principal`` names ``principal`` (``{"Service": ...}`` or ``{"AWS": arn}``)."""
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for kind, wanted in principal.items():
        for named in _listed(element.get(kind, [])):
            if named == "*" or named == wanted:
                return True
    return False


def _compare(operator: str, expected: str, actual: str) -> bool:
    base = operator.removesuffix("IfExists")
    if base in ("StringEquals", "ArnEquals", "StringNotEquals", "ArnNotEquals"):
        return expected == actual
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return expected.lower() == actual.lower()
    if base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        return _glob(expected, actual)
    if base == "Bool":
        return expected.lower() == actual.lower()
    if base.startswith("Numeric"):
        a, e = float(actual), float(expected)
        return {
            "NumericEquals": a == e,
            "NumericNotEquals": a == e,
            "NumericLessThan": a < e,
            "NumericLessThanEquals": a <= e,
            "NumericGreaterThan": a > e,
            "NumericGreaterThanEquals": a >= e,
        }.get(base, False)
    raise ValueError(operator)


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    """One condition key under one operator; keys are matched ignoring case, as IAM does."""
    qualifier, _, op = operator.rpartition(":")
    actual_values = next((_listed(v) for k, v in context.items() if k.lower() == key.lower()), None)
    negated = "Not" in op.removesuffix("IfExists") and op != "NotIpAddress"
    if op == "Null":
        return (actual_values is None) == (str(expected).lower() == "true")
    if actual_values is None:
        return op.endswith("IfExists") or negated
    expected_values = [str(e) for e in _listed(expected)]
    try:
        hits = [any(_compare(op, e, str(a)) for e in expected_values) for a in actual_values]
    except ValueError:
        logger.debug("condition operator %s is not evaluated offline: the statement does not apply", operator)
        return False
    if negated:
        hits = [not h for h in hits]
    return all(hits) if qualifier == "ForAllValues" else any(hits)


def _statement_applies(
    statement: Policy, action: str, resource: str | None, principal: Mapping[str, str] | None, context: Mapping
) -> bool:
    if "Action" in statement:
        if not any(_glob(a, action, case=False) for a in _listed(statement["Action"])):
            return False
    elif "NotAction" in statement and any(_glob(a, action, case=False) for a in _listed(statement["NotAction"])):
        return False
    if resource is not None:
        if "Resource" in statement and not any(_glob(r, resource) for r in _listed(statement["Resource"])):
            return False
        if "NotResource" in statement and any(_glob(r, resource) for r in _listed(statement["NotResource"])):
            return False
    if principal is not None:
        if "Principal" in statement and not _principal_matches(statement["Principal"], principal):
            return False
        if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], principal):
            return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def evaluate(
    documents: Iterable[Policy],
    action: str,
    resource: str | None = None,
    *,
    principal: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
) -> str:
    """``"deny"`` (an explicit deny applies), ``"allow"`` (an allow applies and no deny) or ``"none"``.

    ``principal`` is checked against each statement's ``Principal`` (resource and trust policies); leave it
    ``None`` for identity policies, which have none.

    >>> doc = {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/data/*"}]}
    >>> [evaluate([doc], "s3:GetObject", f"arn:aws:s3:::b/{key}") for key in ("data/x.csv", "x")]
    ['allow', 'none']
    """
    verdict = "none"
    for document in documents:
        for statement in _listed(document.get("Statement", [])):
            if not _statement_applies(statement, action, resource, principal, context or {}):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            if statement.get("Effect") == "Allow":
                verdict = "allow"
    return verdict


# --- moto's backends --------------------------------------------------------------------------------------


def _partition(region: str) -> str:
    from moto.utilities.utils import get_partition

    return get_partition(region)


def _parse_role(role_arn: str) -> tuple[str, str]:
    match = re.fullmatch(r"arn:aws[\w-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]{1,64})", role_arn or "")
    if match is None:
        raise InvalidInputException(ROLE_MALFORMED.format(role=_short(role_arn)))
    return match.group(1), match.group(2)


def _role(role_arn: str, region: str) -> Any:
    from moto.iam.models import iam_backends

    account, name = _parse_role(role_arn)
    backend = iam_backends[account][_partition(region)]
    role = next((r for r in backend.get_roles() if r.arn == role_arn or r.name == name), None)
    if role is None:
        raise InvalidInputException(ROLE_NOT_FOUND.format(role=role_arn))
    return role


def _role_policies(role: Any) -> list[Policy]:
    """The role's inline and attached managed policies, as documents."""
    documents = [_document(doc) for doc in role.policies.values()]
    for policy in role.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        if version is not None:
            documents.append(_document(version.document))
    return documents


def _document(text: Any) -> Policy:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text) if isinstance(text, str) else dict(text)


def _short(value: str | None, limit: int = 200) -> str:
    value = str(value)
    return value if len(value) <= limit else value[: limit - 15] + f"... ({len(value)} chars)"


def _source(account: str, region: str, source_arn: str | None) -> tuple[str, dict[str, Any]]:
    source = source_arn or f"arn:{_partition(region)}:personalize:{region}:{account}:*"
    context = {"aws:SourceAccount": account, "aws:SourceArn": source, "aws:SecureTransport": "true"}
    return source, context


# --- the checks -------------------------------------------------------------------------------------------


def check_role(role_arn: str, region: str, *, source_arn: str | None = None) -> None:
    """The role exists and its trust policy lets Personalize assume it for ``source_arn`` (the resource being
    created; default: any Personalize resource of the role's account and region)."""
    role = _role(role_arn, region)
    account, _ = _parse_role(role_arn)
    source, context = _source(account, region, source_arn)
    trust = _document(role.assume_role_policy_document)
    if evaluate([trust], "sts:AssumeRole", principal={"Service": SERVICE_PRINCIPAL}, context=context) != "allow":
        raise InvalidInputException(ROLE_NOT_TRUSTED.format(role=role_arn, source=source))


def _split_s3(s3_url: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?", s3_url or "", re.S)
    if match is None:
        raise InvalidInputException(S3_MALFORMED.format(url=_short(s3_url)))
    return match.group(1), match.group(2) or ""


def _bucket(bucket: str, account: str, region: str) -> Any:
    from moto.s3.models import s3_backends

    found = s3_backends[account][_partition(region)].buckets.get(bucket)
    if found is None:
        raise InvalidInputException(S3_NO_BUCKET.format(bucket=bucket))
    return found


def _bucket_key(bucket: Any) -> str | None:
    """The KMS key the bucket encrypts new objects with by default, if any."""
    rules = _listed((bucket.encryption or {}).get("Rule", []))
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
            return str(default["KMSMasterKeyID"])
    return None


def _requests(bucket: str, key: str, purpose: str) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource, extra context) pairs an operation makes on ``s3://bucket/key``."""
    if purpose not in S3_ACTIONS:
        raise ValueError(f"purpose must be one of {sorted(S3_ACTIONS)}, not {purpose!r}")
    out = []
    for action in S3_ACTIONS[purpose]:
        if action == "s3:ListBucket":
            out.append((action, f"arn:aws:s3:::{bucket}", {"s3:prefix": key}))
        else:
            out.append((action, f"arn:aws:s3:::{bucket}/{key}", {}))
    return out


def check_s3_access(role_arn: str, action: str, s3_url: str, region: str, *, source_arn: str | None = None) -> None:
    """The role may do what ``action`` (``read``: imports and batch input; ``write``: exports and batch output)
    needs on ``s3_url``, and the bucket policy lets Personalize do it: explicit denies in either refuse it.

    When the bucket encrypts with a KMS key by default, the role must be able to use that key too.
    """
    role = _role(role_arn, region)
    account, _ = _parse_role(role_arn)
    bucket_name, key = _split_s3(s3_url)
    bucket = _bucket(bucket_name, account, region)
    identity = _role_policies(role)
    resource_policy = [_document(bucket.policy)] if bucket.policy else []
    _, base = _source(account, region, source_arn)
    as_role = {"AWS": role.arn}
    as_service = {"Service": SERVICE_PRINCIPAL}
    for s3_action, resource, extra in _requests(bucket_name, key, action):
        context = {**base, **extra, "aws:PrincipalArn": role.arn, "aws:PrincipalAccount": account}
        role_side = evaluate(identity, s3_action, resource, context=context)
        bucket_side = evaluate(resource_policy, s3_action, resource, principal=as_role, context=context)
        service_side = evaluate(resource_policy, s3_action, resource, principal=as_service, context=base | extra)
        denied = "deny" in (role_side, bucket_side, service_side)
        if denied or "allow" not in (role_side, bucket_side):
            raise InvalidInputException(
                S3_DENIED.format(who=f"role {role.arn}", action=s3_action, resource=_short(resource))
            )
        if service_side != "allow":
            raise InvalidInputException(
                S3_DENIED.format(who=SERVICE_PRINCIPAL, action=s3_action, resource=_short(resource))
            )
    bucket_key = _bucket_key(bucket)
    if bucket_key is not None:
        check_kms_key(bucket_key, role_arn, region, purpose="read" if action == "read" else "write")


def _key(key_arn: str, region: str) -> Any:
    from moto.kms.models import kms_backends

    match = re.fullmatch(r"arn:aws[\w-]*:kms:([\w-]+):(\d{12}):(key|alias)/(.+)", key_arn or "")
    if match is None:
        raise InvalidInputException(KMS_NOT_FOUND.format(key=_short(key_arn)))
    key_region, account, kind, ident = match.groups()
    backend = kms_backends[account][key_region]
    try:
        return backend.describe_key(f"alias/{ident}" if kind == "alias" else ident)
    except Exception:  # moto raises KeyError or its NotFoundException for an unknown id or alias
        raise InvalidInputException(KMS_NOT_FOUND.format(key=key_arn)) from None


def check_kms_key(key_arn: str, role_arn: str | None, region: str, *, purpose: str = "encrypt") -> None:
    """The key exists and is enabled, and its key policy lets Personalize, or the role, use it for ``purpose``
    (``encrypt``: a dataset group's key; ``read``/``write``: data or job output encrypted with it).

    A key policy that delegates to the account (principal ``arn:aws:iam::ACCOUNT:root``) lets the role's own
    policies decide, as KMS does.
    """
    key = _key(key_arn, region)
    if not key.enabled or key.key_state != "Enabled":
        raise InvalidInputException(KMS_DISABLED.format(key=key_arn, state=key.key_state))
    policy = [_document(key.policy)]
    account = key.account_id
    root = {"AWS": f"arn:{_partition(region)}:iam::{account}:root"}
    role = _role(role_arn, region) if role_arn else None
    _, context = _source(account, region, None)
    for action in KMS_ACTIONS[purpose]:
        service = evaluate(policy, action, "*", principal={"Service": SERVICE_PRINCIPAL}, context=context)
        if service == "allow":
            continue
        if role is not None and service != "deny":
            direct = evaluate(policy, action, "*", principal={"AWS": role.arn}, context=context)
            delegated = evaluate(policy, action, "*", principal=root, context=context) == "allow"
            own = evaluate(_role_policies(role), action, key.arn, context=context)
            if "deny" not in (direct, own) and (direct == "allow" or (delegated and own == "allow")):
                continue
        raise InvalidInputException(KMS_DENIED.format(action=action, key=key_arn, role=role_arn or "(none given)"))


def check_all(
    role_arn: str,
    region: str,
    *,
    read: Sequence[str] = (),
    write: Sequence[str] = (),
    kms_key_arn: str | None = None,
    source_arn: str | None = None,
) -> None:
    """The checks of one request in the order the service makes them: the role, the key, then each S3 path."""
    check_role(role_arn, region, source_arn=source_arn)
    if kms_key_arn:
        check_kms_key(kms_key_arn, role_arn, region)
    for url in read:
        check_s3_access(role_arn, "read", url, region, source_arn=source_arn)
    for url in write:
        check_s3_access(role_arn, "write", url, region, source_arn=source_arn)


__all__ = ["SERVICE_PRINCIPAL", "check_all", "check_kms_key", "check_role", "check_s3_access", "evaluate"]
