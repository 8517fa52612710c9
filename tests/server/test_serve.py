"""``python -m personalize_kit serve``: the command line, the console's static files, and a clean stop that
finishes the requests in flight."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from server_helpers import ROOT, free_port, get_json

from personalize_kit.server import static
from personalize_kit.server.app import ServerApp
from personalize_kit.server.runner import address, make_server, serve


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "personalize_kit", "serve", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--credentials", "just-a-key"], "--credentials must be KEY:SECRET"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
    ],
)
def test_bad_flags_end_in_one_line(args, message):
    out = cli(*args)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"error: {out.stderr.strip().removeprefix('error: ')}"]
    assert message in out.stderr


def test_a_port_in_use_ends_in_one_line(tmp_path: Path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = cli("--port", str(port), "--state-dir", str(tmp_path / "state"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(f"error: --host 127.0.0.1 --port {port}: cannot listen")
    assert "Traceback" not in out.stderr


def test_a_host_other_than_loopback_is_warned_about(tmp_path: Path):
    # 192.0.2.1 (TEST-NET-1) is never this machine's: the warning is printed, then binding fails.
    out = cli("--host", "192.0.2.1", "--port", str(free_port()), "--state-dir", str(tmp_path / "state"))
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith("warning: listening on 192.0.2.1: anyone who can reach port")
    assert out.returncode == 2


def test_console_files_are_served_with_their_content_types_and_nothing_outside(tmp_path: Path):
    root = tmp_path / "console"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>console</title>")
    (root / "js" / "app.js").write_text("export const x = 1;")
    (tmp_path / "secret.txt").write_text("no")

    index = static.serve("/", root)
    assert index.status_code == 200
    assert index.content_type == "text/html; charset=utf-8"
    assert index.get_data(as_text=True).startswith("<!doctype html>")
    script = static.serve("/console/js/app.js", root)
    assert script.content_type == "text/javascript; charset=utf-8"
    assert static.serve("/console/../secret.txt", root).status_code == 404
    assert static.serve("/console/missing.css", root).status_code == 404
    assert static.serve("/bucket/key", root) is None


class SlowMirror:
    """A mirror whose every call takes ``seconds``: a request in flight when the server is told to stop."""

    def __init__(self, state_dir: Path, seconds: float) -> None:
        self.state_dir, self.seconds = state_dir, seconds
        self.started = threading.Event()

    def call(self, service: str, operation: str, params: dict, region: str) -> dict:
        self.started.set()
        time.sleep(self.seconds)
        return {"recipes": []}


def test_sigterm_finishes_the_requests_in_flight_then_stops(state_dir: Path):
    mirror = SlowMirror(state_dir, 1.0)
    app = ServerApp(mirror, moto_app=None)
    server = make_server(app, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{address(server)[1]}/"
    answers: list[tuple[int, dict]] = []

    def slow_request() -> None:
        request = urllib.request.Request(
            url, data=b"{}", headers={"X-Amz-Target": "AmazonPersonalize.ListRecipes"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answers.append((response.status, json.loads(response.read())))

    def stop_while_in_flight() -> None:
        mirror.started.wait(10)
        os.kill(os.getpid(), signal.SIGTERM)

    client = threading.Thread(target=slow_request)
    client.start()
    threading.Thread(target=stop_while_in_flight).start()
    serve(app, server)  # returns once stopped
    client.join(10)
    assert answers == [(200, {"recipes": []})]
    assert app.in_flight.count == 0
    with pytest.raises(OSError):
        get_json(url + "_health", timeout=2)
