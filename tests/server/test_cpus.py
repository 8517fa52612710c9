"""The served mirror answers on one CPU and trains on all of them (``personalize_kit.local.cpus``)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from personalize_kit.local import cpus, lifecycle, training
from personalize_kit.server.app import ServerApp
from personalize_kit.server.runner import address, make_server, serve

CPUS = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()
pytestmark = pytest.mark.skipif(
    len(CPUS) < 2, reason="needs a Linux process allowed on 2 or more CPUs (this one cannot choose among them)"
)


def affinity() -> frozenset[int]:
    return frozenset(os.sched_getaffinity(0))


def test_one_keeps_the_thread_and_those_it_starts_on_one_cpu_until_the_block_ends():
    seen: list[frozenset[int]] = []
    with cpus.one() as cpu:
        assert cpu in CPUS
        assert affinity() == {cpu}
        started = threading.Thread(target=lambda: seen.append(affinity()))
        started.start()
        started.join()
    assert seen == [{cpu}]
    assert affinity() == CPUS
    with cpus.one() as again:
        assert again == cpu  # the same CPU for every call of a process


def test_one_spreads_processes_over_the_cpus():
    """The CPU is picked by process id: processes of consecutive ids get different ones."""
    script = "import os; from personalize_kit.local import cpus\nwith cpus.one() as cpu: print(os.getpid(), cpu)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    picked = {}
    for _ in range(4):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        pid, cpu = (int(x) for x in done.stdout.split())
        picked[pid] = cpu
    ordered = sorted(CPUS)
    assert picked == {pid: ordered[pid % len(ordered)] for pid in picked}


def test_every_gives_a_kept_thread_every_cpu_back_for_the_block_only():
    with cpus.one() as cpu:
        with cpus.every():
            assert affinity() == CPUS
        assert affinity() == {cpu}


@pytest.mark.parametrize("where", ["job", "training"])
def test_jobs_and_trainings_started_from_a_kept_thread_run_on_every_cpu(monkeypatch, where):
    seen: list[frozenset[int]] = []
    if where == "job":
        monkeypatch.setattr(lifecycle, "_run_job", lambda *args: seen.append(affinity()))
        run = lambda: lifecycle._job(None, "arn", None)  # noqa: E731
    else:
        monkeypatch.setattr(training, "_train_on_every_cpu", lambda *args: seen.append(affinity()))
        run = lambda: training._train(None, "arn")  # noqa: E731
    with cpus.one() as cpu:
        run()  # an instant-pace job runs in the request's own thread
        assert affinity() == {cpu}
    assert seen == [CPUS]


class RecordingMirror:
    """Answers ListRecipes with the CPUs of the thread answering it."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def call(self, service: str, operation: str, params: dict, region: str) -> dict:
        return {"recipes": [{"name": ",".join(map(str, sorted(affinity())))}]}


def test_the_server_answers_on_one_cpu_and_leaves_its_caller_as_it_was(tmp_path: Path):
    app = ServerApp(RecordingMirror(tmp_path), moto_app=None)
    server = make_server(app, "127.0.0.1", 0)
    assert affinity() == CPUS  # the workers were started on one CPU, the caller is back on all
    url = f"http://127.0.0.1:{address(server)[1]}/"
    answers: list[str] = []
    loop_cpus: list[frozenset[int]] = []

    def ask_then_stop() -> None:
        try:
            for _ in range(8):  # several requests: whichever workers answer, all keep to the one CPU
                request = urllib.request.Request(
                    url, data=b"{}", headers={"X-Amz-Target": "AmazonPersonalize.ListRecipes"}, method="POST"
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    answers.append(json.loads(response.read())["recipes"][0]["name"])
            loop_cpus.append(frozenset(os.sched_getaffinity(threading.main_thread().native_id)))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=ask_then_stop).start()
    serve(app, server)  # the I/O loop runs in this (the main) thread until SIGTERM
    (cpu,) = {int(name) for name in answers}  # every answer from one CPU
    assert cpu in CPUS
    assert loop_cpus == [{cpu}]
    assert affinity() == CPUS


def test_requests_on_one_cpu_take_turns(tmp_path: Path, monkeypatch):
    """Each request first lets the threads in the middle of theirs run (``os.sched_yield``)."""
    app = ServerApp(RecordingMirror(tmp_path), moto_app=None)
    assert not app.take_turns  # an application not served by the runner: no turns
    make_server(app, "127.0.0.1", 0).close()
    assert app.take_turns
    yields: list[int] = []
    monkeypatch.setattr(os, "sched_yield", lambda: yields.append(threading.get_ident()))
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "1",
        "HTTP_X_AMZ_TARGET": "AmazonPersonalize.ListRecipes", "wsgi.input": io.BytesIO(b"{}"),
        "CONTENT_LENGTH": "2", "wsgi.url_scheme": "http",
    }  # fmt: skip
    for _ in range(3):
        environ["wsgi.input"] = io.BytesIO(b"{}")
        app(environ, lambda status, headers, exc_info=None: None)
    assert yields == [threading.get_ident()] * 3
