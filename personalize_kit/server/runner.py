"""Run the server: a threaded WSGI server on one port, stopped cleanly by SIGTERM or SIGINT.

On a signal the server stops accepting connections, lets the requests being answered finish (up to
:data:`DRAIN_SECONDS`), and returns; the CLI then exits 0. Trainings running in background threads end
as they do when any mirror process ends (the next process finds them abandoned and settles them).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from personalize_kit.server import DEFAULT_HOST, DEFAULT_PORT
from personalize_kit.server.app import ServerApp
from personalize_kit.server.faults import Faults
from personalize_kit.server.sigv4 import Verifier

logger = logging.getLogger(__name__)
#: How long a stopping server waits for the requests in flight.
DRAIN_SECONDS = 30.0


def moto_application() -> Any:
    """moto's own server application (every service it emulates, dispatched by host, scope and target)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def build_app(state_dir: Any = None, *, credentials: tuple[str, str] | None = None, **mirror_options: Any) -> ServerApp:
    """The WSGI application over a mirror of ``state_dir`` (``mirror_options`` go to ``Mirror``)."""
    from personalize_kit.local._hooks import Mirror

    verifier = Verifier(*credentials) if credentials else None
    return ServerApp(
        Mirror(state_dir, **mirror_options), moto_application(), verifier=verifier, faults=Faults.from_env()
    )


def make_server(app: ServerApp, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> Any:
    """A threaded werkzeug server (moto's request handler, which keeps S3 metadata headers intact).

    Raises ``OSError`` when the address cannot be listened on (werkzeug itself would exit the process).
    """
    import socket

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    class Handler(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            """Requests are logged by the application, one line each."""

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family) as listening:  # werkzeug keeps its own copy
        server = werkzeug_server(host, port, app, threaded=True, request_handler=Handler, fd=listening.fileno())
    server.daemon_threads = True
    return server


def serve(app: ServerApp, server: Any, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Answer until SIGTERM or SIGINT, then finish the requests in flight and return."""
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            logger.info("%s received: finishing requests in flight", signal.Signals(signum).name)
            threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        host, port = server.server_address[:2]
        if on_ready is not None:
            on_ready(f"http://{host}:{port}")
        server.serve_forever(poll_interval=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not app.in_flight.wait_idle(DRAIN_SECONDS):
            logger.warning("stopped with %d requests still in flight after %.0f s", app.in_flight.count, DRAIN_SECONDS)
        server.server_close()
        logger.info("stopped")
