"""Run the server: waitress (a production WSGI server: one I/O loop, a pool of worker threads) on one port,
stopped cleanly by SIGTERM or SIGINT.

The I/O loop and the worker threads answer requests on one CPU of the process's (:mod:`personalize_kit.local.cpus`
says why); trainings and jobs they start run on every CPU.

On a signal the server stops accepting connections, lets the requests being answered finish and their
answers go out (up to :data:`DRAIN_SECONDS`), closes the connections and returns; the CLI then exits 0.
Trainings running in background threads end as they do when any mirror process ends (the next process
finds them abandoned and settles them).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from personalize_kit.local import cpus
from personalize_kit.server import DEFAULT_HOST, DEFAULT_PORT
from personalize_kit.server.app import ServerApp
from personalize_kit.server.faults import Faults
from personalize_kit.server.sigv4 import Verifier

logger = logging.getLogger(__name__)
#: How long a stopping server waits for the requests in flight.
DRAIN_SECONDS = 30.0
#: Worker threads answering requests (the I/O itself is one loop; trainings run in threads of their own).
WORKERS = 16


def moto_application() -> Any:
    """moto's own server application (every service it emulates, dispatched by host, scope and target)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def build_app(state_dir: Any = None, *, credentials: tuple[str, str] | None = None, **mirror_options: Any) -> ServerApp:
    """The WSGI application over a mirror of ``state_dir`` (``mirror_options`` go to ``Mirror``)."""
    from personalize_kit.local._hooks import Mirror

    verifier = Verifier(*credentials) if credentials else None
    mirror = Mirror(state_dir, **mirror_options)
    return ServerApp(mirror, moto_application(), verifier=verifier, faults=Faults.from_env())


def make_server(app: ServerApp, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> Any:
    """A waitress server listening on ``host:port`` (port 0: a free one); ``OSError`` if it cannot listen."""
    from waitress.server import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" notes under load
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.create_server((host, port), family=family)
    with cpus.one() as cpu:  # the worker threads start on it
        app.take_turns = cpu is not None
        return create_server(
            app, sockets=[listening], threads=WORKERS, ident="personalize_kit", expose_tracebacks=False
        )


def address(server: Any) -> tuple[str, int]:
    return server.effective_host, int(server.effective_port)


def serve(app: ServerApp, server: Any, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Answer until SIGTERM or SIGINT, then finish the requests in flight and return."""
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        logger.info("%s received: finishing requests in flight", signal.Signals(signum).name)
        threading.Thread(target=_drain, args=(app, server), name="drain", daemon=True).start()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        host, port = address(server)
        if on_ready is not None:
            on_ready(f"http://{host}:{port}")
        with cpus.one():  # the I/O loop's thread, with the workers
            server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        logger.info("stopped")


def _drain(app: ServerApp, server: Any) -> None:
    """Wait for the requests in flight and their answers to go out, then end the I/O loop."""
    from waitress import wasyncore

    deadline = time.monotonic() + DRAIN_SECONDS
    dispatcher = server.task_dispatcher
    # Changes to the loop's connections are made in the loop's own thread, through its trigger.
    server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(server))  # no new connections

    def busy() -> bool:
        channels = [c for c in list(server._map.values()) if hasattr(c, "total_outbufs_len")]
        pending = any(c.requests or c.total_outbufs_len for c in channels)
        return app.in_flight.count > 0 or dispatcher.active_count > 0 or bool(dispatcher.queue) or pending

    try:
        while busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        if busy():
            logger.warning("stopping with requests still in flight after %.0f s", DRAIN_SECONDS)
    finally:  # whatever happens, the loop ends: closing every connection empties its map
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
