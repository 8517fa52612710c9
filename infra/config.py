"""The app's context parameters: defaults, parsing and validation, with no dependency on aws_cdk.

Every parameter is a CDK context key, set in ``cdk.json`` (``"context"``) or on the command line with
``cdk synth -c key=value``. Values from the command line arrive as strings and are parsed here.

=============================  ==================  ==========================================================
context key                    default             meaning
=============================  ==================  ==========================================================
``stackName``                  ``PersonalizeKit``  CloudFormation stack name; the SDK finds the outputs by it
``removalPolicy``              ``retain``          ``retain`` keeps buckets, key (and dataset group) when the
                                                   stack is deleted; ``destroy`` deletes them and empties the
                                                   buckets first (autoDeleteObjects): for test accounts only
``dataBucketName``             generated           name of the data bucket (globally unique)
``accessLogsBucketName``       generated           name of the bucket receiving the data bucket's access logs
``keyAlias``                   ``alias/<stack>``   alias of the KMS key
``roleName``                   generated           name of the IAM role Personalize assumes (a fixed name
                                                   needs ``CAPABILITY_NAMED_IAM``)
``dataPrefix``                 ``data/``           prefix Personalize may list and read (imports, batch input)
``batchOutputPrefix``          ``batch-output/``   prefix batch inference jobs write to
``exportPrefix``               ``export/``         prefix dataset export jobs write to
``noncurrentVersionDays``      ``30``              days before a noncurrent object version is deleted
``accessLogsRetentionDays``    ``365``             days before an access-log object is deleted
``createDatasetGroup``         ``false``           also create an AWS::Personalize::DatasetGroup
``datasetGroupName``           ``<stack>``         name of that dataset group
``datasetGroupDomain``         none                ``ECOMMERCE`` or ``VIDEO_ON_DEMAND`` (domain dataset group)
=============================  ==================  ==========================================================

Example:
    >>> config = InfraConfig.from_context({"removalPolicy": "destroy", "createDatasetGroup": "true"}.get)
    >>> (config.destroy, config.create_dataset_group, config.key_alias)
    (True, True, 'alias/PersonalizeKit')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.outputs import DEFAULT_STACK_NAME
from personalize_kit.exceptions import InfraConfigError

#: Context key -> (dataclass field, default as written in cdk.json; ``None`` means derived or generated).
CONTEXT_KEYS: dict[str, tuple[str, object]] = {
    "stackName": ("stack_name", DEFAULT_STACK_NAME),
    "removalPolicy": ("removal_policy", "retain"),
    "dataBucketName": ("data_bucket_name", None),
    "accessLogsBucketName": ("access_logs_bucket_name", None),
    "keyAlias": ("key_alias", None),
    "roleName": ("role_name", None),
    "dataPrefix": ("data_prefix", "data/"),
    "batchOutputPrefix": ("batch_output_prefix", "batch-output/"),
    "exportPrefix": ("export_prefix", "export/"),
    "noncurrentVersionDays": ("noncurrent_version_days", 30),
    "accessLogsRetentionDays": ("access_logs_retention_days", 365),
    "createDatasetGroup": ("create_dataset_group", False),
    "datasetGroupName": ("dataset_group_name", None),
    "datasetGroupDomain": ("dataset_group_domain", None),
}

REMOVAL_POLICIES = ("retain", "destroy")
DATASET_GROUP_DOMAINS = ("ECOMMERCE", "VIDEO_ON_DEMAND")

_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_ALIAS = re.compile(r"^alias/[A-Za-z0-9/_-]{1,250}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PERSONALIZE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}$")
_PREFIX = re.compile(r"^[A-Za-z0-9!\-_.()/]+/$")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class InfraConfig:
    """Validated context parameters of the stack (see the module docstring for each key).

    Example:
        >>> InfraConfig().data_prefix
        'data/'
    """

    stack_name: str = DEFAULT_STACK_NAME
    removal_policy: str = "retain"
    data_bucket_name: str | None = None
    access_logs_bucket_name: str | None = None
    key_alias: str = ""
    role_name: str | None = None
    data_prefix: str = "data/"
    batch_output_prefix: str = "batch-output/"
    export_prefix: str = "export/"
    noncurrent_version_days: int = 30
    access_logs_retention_days: int = 365
    create_dataset_group: bool = False
    dataset_group_name: str = ""
    dataset_group_domain: str | None = None

    def __post_init__(self) -> None:
        if not self.key_alias:
            object.__setattr__(self, "key_alias", f"alias/{self.stack_name}")
        if not self.dataset_group_name:
            object.__setattr__(self, "dataset_group_name", self.stack_name[:63])
        self._validate()

    @property
    def destroy(self) -> bool:
        """True when the stack's data resources are deleted (and emptied) with the stack."""
        return self.removal_policy == "destroy"

    @property
    def output_prefixes(self) -> tuple[str, str]:
        """The prefixes Personalize writes to: batch inference output, then dataset exports."""
        return (self.batch_output_prefix, self.export_prefix)

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> InfraConfig:
        """Build the configuration from a context getter such as ``app.node.try_get_context``.

        Missing keys, ``None`` and empty strings take the default. Raises :class:`InfraConfigError`
        naming the context key when a value is invalid.

        Example:
            >>> InfraConfig.from_context({"noncurrentVersionDays": "7"}.get).noncurrent_version_days
            7
        """
        values: dict[str, object] = {}
        for key, (name, default) in CONTEXT_KEYS.items():
            raw = get(key)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                if default is not None:
                    values[name] = default
                continue
            if isinstance(default, bool):
                values[name] = _parse_bool(key, raw)
            elif isinstance(default, int):
                values[name] = _parse_days(key, raw)
            elif isinstance(raw, str):
                values[name] = raw.strip()
            else:
                raise InfraConfigError(
                    f"context key {key!r} must be a string, got {type(raw).__name__} {raw!r}: "
                    f"set it in cdk.json or with -c {key}=VALUE"
                )
        removal = values.get("removal_policy")
        if isinstance(removal, str):
            values["removal_policy"] = removal.lower()
        domain = values.get("dataset_group_domain")
        if isinstance(domain, str):
            values["dataset_group_domain"] = domain.upper()
        for prefix_field in ("data_prefix", "batch_output_prefix", "export_prefix"):
            prefix = values.get(prefix_field)
            if isinstance(prefix, str) and not prefix.endswith("/"):
                values[prefix_field] = prefix + "/"
        return cls(**values)  # type: ignore[arg-type]

    def _validate(self) -> None:
        _match("stackName", self.stack_name, _STACK_NAME, "letters, digits and hyphens, starting with a letter")
        if self.removal_policy not in REMOVAL_POLICIES:
            raise InfraConfigError(
                f"context key 'removalPolicy' is {self.removal_policy!r}: use one of {', '.join(REMOVAL_POLICIES)}"
            )
        for key, name in (
            ("dataBucketName", self.data_bucket_name),
            ("accessLogsBucketName", self.access_logs_bucket_name),
        ):
            if name is not None:
                _match(key, name, _BUCKET_NAME, "3-63 lowercase letters, digits, dots and hyphens")
        if self.data_bucket_name is not None and self.data_bucket_name == self.access_logs_bucket_name:
            raise InfraConfigError(
                "context keys 'dataBucketName' and 'accessLogsBucketName' name the same bucket: "
                "access logs must go to a separate bucket"
            )
        _match("keyAlias", self.key_alias, _KEY_ALIAS, "'alias/' then letters, digits, '/', '_' and '-'")
        if self.key_alias.lower().startswith("alias/aws/"):
            raise InfraConfigError(
                f"context key 'keyAlias' is {self.key_alias!r}: the 'alias/aws/' prefix is reserved for AWS"
            )
        if self.role_name is not None:
            _match("roleName", self.role_name, _ROLE_NAME, "1-64 letters, digits and +=,.@_-")
        prefixes = {
            "dataPrefix": self.data_prefix,
            "batchOutputPrefix": self.batch_output_prefix,
            "exportPrefix": self.export_prefix,
        }
        for key, prefix in prefixes.items():
            if prefix.startswith("/") or "*" in prefix or not _PREFIX.match(prefix):
                raise InfraConfigError(
                    f"context key {key!r} is {prefix!r}: use a relative S3 prefix of letters, digits and "
                    "!-_.()/ ending with '/', such as 'data/'"
                )
        for key_a, prefix_a in prefixes.items():
            for key_b, prefix_b in prefixes.items():
                if key_a != key_b and prefix_b.startswith(prefix_a):
                    raise InfraConfigError(
                        f"context key {key_b!r} ({prefix_b!r}) lies inside {key_a!r} ({prefix_a!r}): "
                        "the read prefix and the two write prefixes must not overlap"
                    )
        _match(
            "datasetGroupName",
            self.dataset_group_name,
            _PERSONALIZE_NAME,
            "1-63 letters, digits, '-' and '_', starting with a letter or digit",
        )
        if self.dataset_group_domain is not None and self.dataset_group_domain not in DATASET_GROUP_DOMAINS:
            raise InfraConfigError(
                f"context key 'datasetGroupDomain' is {self.dataset_group_domain!r}: "
                f"use one of {', '.join(DATASET_GROUP_DOMAINS)} or leave it out for a custom dataset group"
            )


def _match(key: str, value: str, pattern: re.Pattern[str], rule: str) -> None:
    if not pattern.match(value):
        raise InfraConfigError(f"context key {key!r} is {value!r}: it must be {rule}")


def _parse_bool(key: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
        return raw.strip().lower() in _TRUE
    raise InfraConfigError(f"context key {key!r} is {raw!r}: use true or false")


def _parse_days(key: str, raw: object) -> int:
    if isinstance(raw, bool):
        raise InfraConfigError(f"context key {key!r} is {raw!r}: use a whole number of days")
    if isinstance(raw, int):
        days = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        days = int(raw.strip())
    else:
        raise InfraConfigError(f"context key {key!r} is {raw!r}: use a whole number of days")
    if not 1 <= days <= 36500:
        raise InfraConfigError(f"context key {key!r} is {days}: use a number of days between 1 and 36500")
    return days
