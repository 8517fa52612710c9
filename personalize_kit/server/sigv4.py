"""SigV4 verification for ``serve --credentials KEY:SECRET``, with botocore's own signer.

The signature of a request is recomputed from what it carries (method, raw path and query, the headers
it lists as signed, the body) with :class:`botocore.auth.SigV4Auth` (:class:`~botocore.auth.S3SigV4Auth`
for S3, which does not normalise paths) and compared with the one it was sent with. A request refused is
answered with the error each kind of service gives: ``UnrecognizedClientException`` /
``InvalidSignatureException`` for the JSON services, ``InvalidAccessKeyId`` / ``SignatureDoesNotMatch``
for S3 and the query services (IAM, STS, CloudFormation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from personalize_kit.server.routing import credential_scope

#: How far a request's X-Amz-Date may be from the server's clock, as the services allow.
MAX_SKEW = dt.timedelta(minutes=15)
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-fA-F]+)")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: ``kind`` is ``unknown-key``, ``bad-signature`` or ``unsigned``."""

    kind: str
    message: str


def _signer(base: type) -> type:
    class Verifier(base):  # type: ignore[misc, valid-type]
        """The signer, told which headers the client signed (botocore would pick its own)."""

        signed: tuple[str, ...] = ()

        def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
            chosen = HTTPHeaders()
            for name in self.signed:
                for value in request.headers.get_all(name) if hasattr(request.headers, "get_all") else []:
                    chosen[name] = value
            return chosen

    return Verifier


_VERIFIERS = {"s3": _signer(S3SigV4Auth), "*": _signer(SigV4Auth)}


class Verifier:
    """Checks requests against one access key and secret."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.credentials = Credentials(access_key, secret_key)

    def check(self, method: str, url: str, headers: Any, body: bytes, now: dt.datetime | None = None) -> Refusal | None:
        """``None`` when the request is signed with the server's credentials, else why not."""
        authorization = headers.get("Authorization")
        scope = credential_scope(authorization)
        if scope is None:
            return Refusal("unsigned", "Missing Authentication Token: sign the request with SigV4.")
        if scope.access_key != self.credentials.access_key:
            return Refusal("unknown-key", "The security token included in the request is invalid.")
        signed = _SIGNED_HEADERS.search(authorization)
        sent = _SIGNATURE.search(authorization)
        stamp = headers.get("X-Amz-Date") or ""
        if signed is None or sent is None or not stamp:
            return Refusal("bad-signature", "The Authorization header or X-Amz-Date is incomplete.")
        try:
            when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return Refusal("bad-signature", f"X-Amz-Date {stamp!r} is not in the form 20260101T000000Z.")
        if abs((now or dt.datetime.now(dt.UTC)) - when) > MAX_SKEW:
            return Refusal(
                "bad-signature", f"Signature expired: {stamp} is more than 15 minutes from the server's time."
            )
        declared = headers.get("X-Amz-Content-SHA256") or ""
        if _HEX64.fullmatch(declared) and declared != hashlib.sha256(body).hexdigest():
            return Refusal("bad-signature", "The provided x-amz-content-sha256 header does not match the body.")
        expected = self._signature(scope, signed.group(1).split(";"), method, url, headers, body, stamp)
        if not hmac.compare_digest(expected, sent.group(1).lower()):
            return Refusal(
                "bad-signature",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method.",
            )
        return None

    def _signature(
        self, scope: Any, signed: list[str], method: str, url: str, headers: Any, body: bytes, stamp: str
    ) -> str:
        request = AWSRequest(method=method, url=url, data=body)
        for name in signed:
            for value in headers.getlist(name) if hasattr(headers, "getlist") else [headers.get(name, "")]:
                request.headers[name] = value
        request.context["timestamp"] = stamp
        signer = _VERIFIERS.get(scope.service, _VERIFIERS["*"])(self.credentials, scope.service, scope.region)
        signer.signed = tuple(signed)
        canonical = signer.canonical_request(request)
        return signer.signature(signer.string_to_sign(request, canonical), request)


def parse_credentials(text: str) -> tuple[str, str]:
    """``(key, secret)`` from ``KEY:SECRET``; a one-line error otherwise."""
    key, sep, secret = text.partition(":")
    if not sep or not key or not secret:
        raise ValueError(
            "--credentials must be KEY:SECRET (e.g. --credentials AKIDEXAMPLE:wJalrXUtnFEMI), not one value"
        )
    return key, secret
