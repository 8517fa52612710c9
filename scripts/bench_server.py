"""Benchmark: the served mirror over HTTP, 8 concurrent clients.

Starts ``python -m personalize_kit serve`` (default settings: one log line per request, to a file), plants a
Popularity-Count and a User-Personalization campaign over HTTP with the SDK (synthetic data), then, for each
campaign, 8 client threads each on its own keep-alive connection send GetRecommendations (REST-JSON, a
SigV4-shaped Authorization header as an SDK sends) for random users as fast as they can for ``--seconds``;
then PutEvents the same way. Clients and server share the machine. Prints a table and writes
scripts/results/server.json and scripts/results/server.md.

    python scripts/bench_server.py
    python scripts/bench_server.py --seconds 20 --clients 8 --interactions 50000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "scripts" / "results"
TARGETS = {"requests_per_s": 1000.0, "p99_ms": 20.0, "errors": 0}
RECIPES = ("aws-popularity-count", "aws-user-personalization")
AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/personalize/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64
)


def start_server(state_dir: Path, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "personalize_kit", "serve", "--port", str(port), "--state-dir", str(state_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_health", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server did not start: {log.read_text()[-2000:]}")


def plant(
    work: Path, interactions: int, items: int, recipes: tuple[str, ...] = RECIPES
) -> tuple[dict[str, str], str, list[str], list[str]]:
    """Campaigns per recipe, the tracking id, users and items, made over HTTP with the SDK."""
    import boto3

    from personalize_kit.data.prepare import prepare
    from personalize_kit.data.schemas import load_schema
    from personalize_kit.data.synthetic import SyntheticConfig, generate
    from personalize_kit.sdk import (
        ensure_campaign,
        ensure_dataset,
        ensure_dataset_group,
        ensure_event_tracker,
        ensure_import_job,
        ensure_schema,
        ensure_solution,
        ensure_solution_version,
        upload,
    )
    from personalize_kit.sdk._clients import client
    from personalize_kit.sdk.backend import grant_personalize

    client("s3").create_bucket(Bucket="bench-server")
    role = grant_personalize(boto3.Session(), "bench-server", role_name="bench", output_prefixes=("",))
    raw = generate(SyntheticConfig(n_interactions=interactions, n_items=items, seed=3))
    prepare(raw, work / "out")
    group = ensure_dataset_group("bench-server")
    schema = ensure_schema("bench-server-interactions", load_schema(work / "out" / "schemas" / "interactions.json"))
    dataset = ensure_dataset(group.arn, "INTERACTIONS", schema.arn)
    uri, _ = upload(work / "out" / "interaction.csv", "bench-server", "data/interaction.csv")
    ensure_import_job(dataset.arn, uri, role, name="bench-server")
    tracker = ensure_event_tracker(group.arn, "bench-server-events").description["trackingId"]
    campaigns = {}
    for recipe in recipes:
        started = time.perf_counter()
        solution = ensure_solution(group.arn, f"bench-{recipe}", f"arn:aws:personalize:::recipe/{recipe}")
        version = ensure_solution_version(solution.arn)
        campaigns[recipe] = ensure_campaign(f"bench-{recipe}", version.arn).arn
        print(f"{recipe}: trained and deployed in {time.perf_counter() - started:.1f} s", flush=True)
    return campaigns, tracker, [str(u) for u in raw.users["user_id"]], [str(i) for i in raw.items["item_id"]]


class Load:
    """``clients`` threads, each on its own connection, sending ``make_body()`` to ``path`` for ``seconds``."""

    def __init__(self, port: int, path: str, make_body, clients: int, seconds: float) -> None:
        self.port, self.path, self.make_body, self.clients, self.seconds = port, path, make_body, clients, seconds
        self.latencies: list[list[float]] = [[] for _ in range(clients)]
        self.errors = [0] * clients

    def _client(self, k: int, start: threading.Event, stop_at: list[float]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        rng = random.Random(k)
        start.wait()
        while time.perf_counter() < stop_at[0]:
            body = self.make_body(rng)
            headers = {
                "Content-Type": "application/json",
                "X-Amz-Date": "20260101T000000Z",
                "Authorization": AUTH,
            }
            began = time.perf_counter()
            try:
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.latencies[k].append(time.perf_counter() - began)
            self.errors[k] += not ok
        connection.close()

    def run(self) -> dict[str, float]:
        start, stop_at = threading.Event(), [0.0]
        threads = [threading.Thread(target=self._client, args=(k, start, stop_at)) for k in range(self.clients)]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        stop_at[0] = began + self.seconds
        start.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        ms = np.concatenate([np.asarray(lat) for lat in self.latencies]) * 1000
        return {
            "requests": int(ms.size),
            "requests_per_s": round(ms.size / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "errors": int(sum(self.errors)),
        }


def scenarios(campaigns: dict[str, str], tracker: str, users: list[str], items: list[str]) -> list[tuple]:
    """``(label, path, make_body)`` of each measured request."""

    def recommendations(campaign: str):
        return lambda rng: json.dumps({"campaignArn": campaign, "userId": rng.choice(users), "numResults": 25})

    def events(rng: random.Random) -> str:
        event = {"eventType": "watch", "itemId": rng.choice(items), "sentAt": time.time()}
        return json.dumps({"trackingId": tracker, "userId": rng.choice(users), "sessionId": "s", "eventList": [event]})

    rows = [(f"GetRecommendations, {r}", "/recommendations", recommendations(c)) for r, c in campaigns.items()]
    return [*rows, ("PutEvents (1 event)", "/events", events)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    args = parser.parse_args()

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", args.port))
        port = sock.getsockname()[1]
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = start_server(work / "state", port, work / "server.log")
        try:
            planted = plant(work, args.interactions, args.items, tuple(args.recipes))
            for label, path, make_body in scenarios(*planted):
                Load(port, path, make_body, args.clients, 1.0).run()  # warm: models loaded, connections open
                result = Load(port, path, make_body, args.clients, args.seconds).run()
                ok = all(
                    (
                        result["requests_per_s"] >= TARGETS["requests_per_s"],
                        result["p99_ms"] <= TARGETS["p99_ms"],
                        result["errors"] == TARGETS["errors"],
                    )
                )
                rows.append({"request": label, **result, "meets_target": ok})
                print(rows[-1], flush=True)
        finally:
            server.terminate()
            server.wait(60)
    args.load = (round(load_before, 1), round(os.getloadavg()[0], 1))
    write(rows, args)
    return 0


def write(rows: list[dict], args: argparse.Namespace) -> None:
    header = ("request", "requests", "req/s", "p50 ms", "p99 ms", "errors", "target")
    table = ["| " + " | ".join(header) + " |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        table.append(
            f"| {r['request']} | {r['requests']:,} | {r['requests_per_s']:,.0f} | {r['p50_ms']} | {r['p99_ms']} | "
            f"{r['errors']} | {'PASS' if r['meets_target'] else 'FAIL'} |"
        )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    busy = args.load[0] >= 1.0  # one CPU's worth of other work in the minute before
    sharing = (
        f"The machine's 1-minute load average was {args.load[0]} before and {args.load[1]} after the run "
        f"({os.cpu_count()} CPUs; "
        + ("other work was running: the numbers are those of a shared machine, not of 2 free cores" if busy
           else "nothing else was running before it")
        + f"), and the benchmark and its server ran at niceness {os.nice(0)}."
    )  # fmt: skip
    command = (
        f"python scripts/bench_server.py --clients {args.clients} --seconds {args.seconds:g} "
        f"--interactions {args.interactions} --items {args.items} --recipes {' '.join(args.recipes)}"
    )
    print("\n".join(table))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "server.json").write_text(
        json.dumps(
            {"date": time.strftime("%Y-%m-%d"), "machine": machine, "command": command, "targets": TARGETS,
             "load_average_before_after": args.load, "niceness": os.nice(0), "results": rows},
            indent=2,
        )
        + "\n"
    )  # fmt: skip
    (RESULTS / "server.md").write_text(
        "# Server benchmark\n\n"
        f"`{command}` on {machine}, {time.strftime('%Y-%m-%d')}. {args.clients} client threads, each on its own "
        "keep-alive HTTP connection, send requests as fast as they can answer; the clients, the server (one "
        "process, default settings: a log line per request, its request threads on one CPU) and anything else "
        "on the machine share its CPUs. "
        "Latency is measured at the client, from sending to the whole answer read. "
        + sharing
        + "\n\n"
        + "\n".join(table)
        + f"\n\nTargets: >= {TARGETS['requests_per_s']:,.0f} requests/s, p99 <= {TARGETS['p99_ms']} ms, "
        "0 errors.\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
