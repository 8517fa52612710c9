"""Tests of the MovieLens download helper against a real HTTP server on the loopback interface."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import ipaddress
import json
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from personalize_kit.data import download
from personalize_kit.data.download import (
    RELEASES,
    Release,
    cache_dir,
    cached_release,
    fetch_movielens,
)
from personalize_kit.data.movielens import find_local_movielens, load_movielens
from personalize_kit.exceptions import DownloadError

RATINGS = b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n2,1,0.5,835355493\r\n"
MOVIES = b'movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n3,"Room, The (2003)",Drama\r\n'
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


# ---------------------------------------------------------------------------------------------------
# Network guard: every test in this module may reach the loopback interface only.


@dataclass
class NetworkLog:
    connects: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@pytest.fixture(autouse=True)
def ml_network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkLog]:
    """Refuse name lookups and connections beyond loopback, and record every connection attempt."""
    log = NetworkLog()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK_NAMES:
            log.refused.append(name)
            raise OSError(f"test network guard: lookup of {name} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(self, address):  # type: ignore[no-untyped-def]
        host = address[0] if isinstance(address, tuple) else str(address)
        log.connects.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            log.refused.append(host)
            raise OSError(f"test network guard: connection to {host} refused")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    for var in ("PERSONALIZE_KIT_CACHE", "PERSONALIZE_KIT_MOVIELENS_URL", "PERSONALIZE_KIT_MOVIELENS_DIR"):
        monkeypatch.delenv(var, raising=False)
    yield log
    assert all(ipaddress.ip_address(h).is_loopback for h in log.connects), log.connects


# ---------------------------------------------------------------------------------------------------
# A small archive in the ml-latest-small layout, served over HTTP from 127.0.0.1.


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@dataclass
class Served:
    base_url: str
    folder: Path
    requests: list[str]
    stop: functools.partial[None]

    def publish(self, name: str, data: bytes) -> Release:
        """Serve ``data`` as ``<name>.zip`` and return its correct release entry."""
        (self.folder / f"{name}.zip").write_bytes(data)
        return Release(f"{self.base_url}/{name}.zip", hashlib.sha256(data).hexdigest(), len(data))


@pytest.fixture
def ml_server(tmp_path: Path) -> Iterator[Served]:
    folder = tmp_path / "served"
    folder.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            requests.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if not stopped.is_set():
            stopped.set()
            server.shutdown()
            server.server_close()
            thread.join(5)

    yield Served(f"http://127.0.0.1:{server.server_address[1]}", folder, requests, functools.partial(stop))
    stop()


@pytest.fixture
def ml_small_archive() -> bytes:
    return _zip(
        {
            "ml-latest-small/ratings.csv": RATINGS,
            "ml-latest-small/movies.csv": MOVIES,
            "ml-latest-small/README.txt": b"test archive\n",
        }
    )


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _leftovers(cache: Path) -> list[str]:
    root = cache / "movielens"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# ---------------------------------------------------------------------------------------------------
# Tests


def test_first_download_unpacks_verifies_and_loads(
    tmp_path: Path, ml_server: Served, ml_small_archive: bytes, ml_network_guard: NetworkLog
) -> None:
    release = ml_server.publish("ml-latest-small", ml_small_archive)
    cache = tmp_path / "cache"

    folder = fetch_movielens(
        "ml-latest-small",
        cache=cache,
        base_url=ml_server.base_url,
        progress=False,
        releases={"ml-latest-small": release},
    )

    assert folder == cache / "movielens" / "ml-latest-small"
    assert (folder / "ratings.csv").read_bytes() == RATINGS
    assert (folder / "movies.csv").read_bytes() == MOVIES
    marker = json.loads((folder / ".personalize_kit_download.json").read_text())
    assert marker == {
        "name": "ml-latest-small",
        "url": f"{ml_server.base_url}/ml-latest-small.zip",
        "sha256": release.sha256,
        "size": len(ml_small_archive),
        "verified": True,
    }
    assert ml_server.requests == ["/ml-latest-small.zip"]
    assert _leftovers(cache) == ["ml-latest-small"]  # no partial file or staging folder left
    assert ml_network_guard.connects == ["127.0.0.1"]

    ratings = load_movielens(folder).ratings()
    assert next(ratings).to_pylist()[1] == {
        "user_id": "1",
        "item_id": "3",
        "rating": 4.5,
        "timestamp": 964981247,
    }


def test_cached_copy_is_returned_without_network(
    tmp_path: Path, ml_server: Served, ml_small_archive: bytes, ml_network_guard: NetworkLog
) -> None:
    releases = {"ml-latest-small": ml_server.publish("ml-latest-small", ml_small_archive)}
    cache = tmp_path / "cache"
    first = fetch_movielens(
        "ml-latest-small", cache=cache, base_url=ml_server.base_url, progress=False, releases=releases
    )
    ml_server.stop()
    connects_before = len(ml_network_guard.connects)

    second = fetch_movielens(
        "ml-latest-small", cache=cache, base_url=ml_server.base_url, progress=False, releases=releases
    )

    assert second == first
    assert len(ml_network_guard.connects) == connects_before
    assert ml_server.requests == ["/ml-latest-small.zip"]
    assert cached_release("ml-latest-small", cache=cache, releases=releases) == first


def test_wrong_checksum_is_refused_and_the_partial_file_deleted(
    tmp_path: Path, ml_server: Served, ml_small_archive: bytes
) -> None:
    good = ml_server.publish("ml-latest-small", ml_small_archive)
    bad = good._replace(sha256="0" * 64)
    cache = tmp_path / "cache"

    with pytest.raises(DownloadError) as info:
        fetch_movielens(
            "ml-latest-small",
            cache=cache,
            base_url=ml_server.base_url,
            progress=False,
            releases={"ml-latest-small": bad},
        )

    message = str(info.value)
    assert f"sha256: expected {'0' * 64}, got {good.sha256}" in message
    assert "partial file was deleted" in message
    assert _leftovers(cache) == []
    assert cached_release("ml-latest-small", cache=cache, releases={"ml-latest-small": bad}) is None


def test_wrong_size_is_refused_before_download(tmp_path: Path, ml_server: Served, ml_small_archive: bytes) -> None:
    good = ml_server.publish("ml-latest-small", ml_small_archive)
    bad = good._replace(size=good.size + 1)  # type: ignore[operator]

    with pytest.raises(DownloadError, match=rf"announces {len(ml_small_archive):,} bytes but ml-latest-small.zip"):
        fetch_movielens(
            "ml-latest-small",
            cache=tmp_path / "cache",
            base_url=ml_server.base_url,
            progress=False,
            releases={"ml-latest-small": bad},
        )
    assert _leftovers(tmp_path / "cache") == []


def test_unreachable_host_fails_fast_with_advice(tmp_path: Path) -> None:
    port = _closed_port()
    started = time.monotonic()

    with pytest.raises(DownloadError) as info:
        fetch_movielens("ml-latest-small", cache=tmp_path, base_url=f"http://127.0.0.1:{port}", timeout=2)

    assert time.monotonic() - started < 2
    message = str(info.value)
    assert message.startswith(f"Cannot reach http://127.0.0.1:{port}/ml-latest-small.zip:")
    assert "point --source DIR at the unpacked folder" in message
    assert _leftovers(tmp_path) == []


def test_http_error_is_reported(tmp_path: Path, ml_server: Served) -> None:
    releases = {"ml-1m": Release("unused", "a" * 64, 10)}

    with pytest.raises(DownloadError, match=r"/ml-1m.zip answered HTTP 404 "):
        fetch_movielens("ml-1m", cache=tmp_path, base_url=ml_server.base_url, releases=releases)
    assert ml_server.requests == ["/ml-1m.zip"]


def test_release_without_checksum_needs_verify_false(
    tmp_path: Path, ml_server: Served, ml_small_archive: bytes, ml_network_guard: NetworkLog
) -> None:
    ml_server.publish("ml-latest", ml_small_archive)
    releases = {"ml-latest": Release("unused", None, None)}

    with pytest.raises(DownloadError, match="ml-latest has no pinned checksum.*Pass verify=False"):
        fetch_movielens("ml-latest", cache=tmp_path, base_url=ml_server.base_url, releases=releases)
    assert ml_network_guard.connects == []

    folder = fetch_movielens(
        "ml-latest",
        cache=tmp_path,
        base_url=ml_server.base_url,
        releases=releases,
        verify=False,
        progress=False,
    )
    marker = json.loads((folder / ".personalize_kit_download.json").read_text())
    assert marker["verified"] is False
    assert marker["sha256"] == hashlib.sha256(ml_small_archive).hexdigest()
    assert (folder / "ratings.csv").read_bytes() == RATINGS


def test_base_url_from_environment(
    tmp_path: Path, ml_server: Served, ml_small_archive: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    releases = {"ml-latest-small": ml_server.publish("ml-latest-small", ml_small_archive)}
    monkeypatch.setenv("PERSONALIZE_KIT_MOVIELENS_URL", ml_server.base_url + "/")
    monkeypatch.setenv("PERSONALIZE_KIT_CACHE", str(tmp_path / "env-cache"))

    folder = fetch_movielens("ml-latest-small", progress=False, releases=releases)

    assert folder == tmp_path / "env-cache" / "movielens" / "ml-latest-small"
    assert ml_server.requests == ["/ml-latest-small.zip"]


def test_default_address_is_grouplens_and_never_reached(tmp_path: Path, ml_network_guard: NetworkLog) -> None:
    with pytest.raises(DownloadError, match=r"https://files\.grouplens\.org/datasets/movielens/ml-100k\.zip"):
        fetch_movielens("ml-100k", cache=tmp_path, timeout=1)

    assert ml_network_guard.refused == ["files.grouplens.org"]
    assert ml_network_guard.connects == []


def test_unsafe_archive_member_is_refused(tmp_path: Path, ml_server: Served) -> None:
    release = ml_server.publish("ml-latest-small", _zip({"../evil.txt": b"x", "ml-latest-small/ratings.csv": RATINGS}))

    with pytest.raises(DownloadError, match=r"unsafe path '\.\./evil\.txt'"):
        fetch_movielens(
            "ml-latest-small",
            cache=tmp_path / "cache",
            base_url=ml_server.base_url,
            progress=False,
            releases={"ml-latest-small": release},
        )
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "cache" / "evil.txt").exists()
    assert _leftovers(tmp_path / "cache") == []


def test_archive_that_is_not_a_zip_is_refused(tmp_path: Path, ml_server: Served) -> None:
    release = ml_server.publish("ml-latest-small", b"this is not a zip archive")

    with pytest.raises(DownloadError, match="is not a readable zip archive"):
        fetch_movielens(
            "ml-latest-small",
            cache=tmp_path,
            base_url=ml_server.base_url,
            progress=False,
            releases={"ml-latest-small": release},
        )
    assert _leftovers(tmp_path) == []


def test_stale_unverified_folder_is_replaced(tmp_path: Path, ml_server: Served, ml_small_archive: bytes) -> None:
    releases = {"ml-latest-small": ml_server.publish("ml-latest-small", ml_small_archive)}
    stale = tmp_path / "movielens" / "ml-latest-small"
    stale.mkdir(parents=True)
    (stale / "ratings.csv").write_text("half-written\n")

    folder = fetch_movielens(
        "ml-latest-small", cache=tmp_path, base_url=ml_server.base_url, progress=False, releases=releases
    )

    assert folder == stale
    assert (folder / "ratings.csv").read_bytes() == RATINGS
    assert ml_server.requests == ["/ml-latest-small.zip"]


def test_unknown_release_and_non_http_base_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"Unknown MovieLens release 'ml-2k'\. Known releases: .*ml-100k"):
        fetch_movielens("ml-2k", cache=tmp_path)
    with pytest.raises(DownloadError, match=r"file:///srv/ml-100k\.zip is not an http\(s\) address"):
        fetch_movielens("ml-100k", cache=tmp_path, base_url="file:///srv")


def test_find_local_movielens_prefers_the_environment_folder_then_the_cache(
    tmp_path: Path, ml_server: Served, ml_small_archive: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONALIZE_KIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        download, "RELEASES", {"ml-latest-small": ml_server.publish("ml-latest-small", ml_small_archive)}
    )
    assert find_local_movielens("ml-latest-small") is None

    cached = fetch_movielens("ml-latest-small", base_url=ml_server.base_url, progress=False)
    assert find_local_movielens("ml-latest-small") == cached

    local = tmp_path / "mine" / "ml-latest-small" / "ml-latest-small"  # as unzipped: one nested folder
    local.mkdir(parents=True)
    (local / "ratings.csv").write_bytes(RATINGS)
    monkeypatch.setenv("PERSONALIZE_KIT_MOVIELENS_DIR", str(tmp_path / "mine"))
    assert find_local_movielens("ml-latest-small") == local


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "personalize_kit"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "personalize_kit"
    monkeypatch.setenv("PERSONALIZE_KIT_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_release_table_pins_grouplens_archives() -> None:
    pinned = {"ml-latest-small", "ml-100k", "ml-1m", "ml-20m", "ml-25m", "ml-32m"}
    assert pinned <= set(RELEASES)
    for name, release in RELEASES.items():
        assert release.url == f"https://files.grouplens.org/datasets/movielens/{name}.zip"
        if name in pinned:
            assert release.sha256 is not None and len(release.sha256) == 64
            assert int(release.sha256, 16) >= 0
            assert release.size is not None and release.size > 0
    assert RELEASES["ml-latest"].sha256 is None


def test_unwritable_cache_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")

    with pytest.raises(DownloadError, match=r"Cannot write to the cache folder .*not-a-folder/movielens"):
        fetch_movielens("ml-100k", cache=blocker, base_url="http://127.0.0.1:9")
