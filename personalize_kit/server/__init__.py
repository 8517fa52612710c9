"""The mirror served over HTTP: one local endpoint for every AWS SDK, the AWS CLI and a web console.

``python -m personalize_kit serve`` answers Personalize (JSON 1.1), Personalize Runtime and Personalize
Events (REST-JSON) from a mirror's state directory, and S3, IAM, KMS, STS, SSM, CloudFormation ... through
moto's server application on the same port. Needs the ``server`` extra (``pip install -e '.[local,server]'``).

Where things live: ``routing`` (which service a request is for), ``protocols`` (the two JSON protocols,
from the botocore models), ``sigv4`` (signature checks for ``--credentials``), ``faults`` (test-only
throttling), ``static`` (the console's files), ``app`` (the WSGI application), ``runner`` (the threaded
server and its clean stop).

>>> from personalize_kit.server.routing import route
>>> route("POST", "/recommendations", {}).operation
'GetRecommendations'
"""

from __future__ import annotations

#: The port LocalStack answers on, so tools already pointed at it need no change.
DEFAULT_PORT = 4566
DEFAULT_HOST = "127.0.0.1"
#: Host names that only this machine can reach; any other ``--host`` is warned about.
LOOPBACK = ("127.0.0.1", "localhost", "::1")

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "LOOPBACK", "build_app", "make_server", "serve"]


def __getattr__(name: str) -> object:
    """``build_app``, ``make_server`` and ``serve`` from :mod:`~personalize_kit.server.runner`, on first use."""
    if name in ("build_app", "make_server", "serve"):
        from personalize_kit.server import runner

        return getattr(runner, name)
    raise AttributeError(name)
