"""``serve``: the mirror over HTTP, for any AWS SDK, the AWS CLI and a browser (the web console at ``/``)."""

from __future__ import annotations

import argparse
import logging
import sys

from personalize_kit.cli._common import say
from personalize_kit.server import DEFAULT_HOST, DEFAULT_PORT, LOOPBACK

EXAMPLE = """\
examples:
  python -m personalize_kit serve
  python -m personalize_kit serve --port 5000 --state-dir ./state
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \\
    aws personalize list-recipes --endpoint-url http://127.0.0.1:4566
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "serve",
        help="serve the mirror over HTTP (every AWS SDK, the AWS CLI, the web console)",
        description="One HTTP endpoint answering Personalize, Personalize Runtime and Personalize Events from "
        "the mirror's state directory, and S3, IAM, KMS, STS, SSM and CloudFormation through moto, on the "
        "same port. Point clients at it with --endpoint-url or AWS_ENDPOINT_URL; open it in a browser for "
        "the console. GET /_health answers once it is ready. Stop with Ctrl-C or SIGTERM.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--host", default=DEFAULT_HOST, help="address to listen on (anything but loopback is reachable by others)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    p.add_argument(
        "--state-dir",
        default=None,
        help="the mirror's state directory (default: $PERSONALIZE_KIT_HOME, else ./.personalize_kit)",
    )
    p.add_argument(
        "--credentials",
        default=None,
        metavar="KEY:SECRET",
        help="verify SigV4 signatures against this access key and secret and refuse other requests "
        "(default: accept any credentials and unsigned requests)",
    )
    p.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return p


def run(args: argparse.Namespace) -> int:
    credentials = None
    if args.credentials is not None:
        from personalize_kit.server.sigv4 import parse_credentials

        credentials = parse_credentials(args.credentials)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, not {args.port}")
    try:
        from personalize_kit.server import runner
    except ImportError as exc:
        raise ValueError(
            f"serve needs the server extra ({exc.name} is missing): pip install -e '.[local,server]'"
        ) from None
    logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(message)s", level=logging.INFO)
    # a line per request: the format names no caller, thread or process, so none is looked up (the logging
    # HOWTO's "Optimization"); this process is the server's own
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if args.quiet:
        logging.getLogger("personalize_kit.server.app").setLevel(logging.WARNING)
    if args.host not in LOOPBACK:
        say(f"warning: listening on {args.host}: anyone who can reach port {args.port} can use this endpoint")
    app = runner.build_app(args.state_dir, credentials=credentials)
    try:
        server = runner.make_server(app, args.host, args.port)
    except OSError as exc:
        raise ValueError(
            f"--host {args.host} --port {args.port}: cannot listen ({exc.strerror}); pick another --port"
        ) from None
    runner.serve(
        app, server, on_ready=lambda url: say(f"serving on {url} (state: {app.mirror.state_dir}); Ctrl-C stops")
    )
    return 0
