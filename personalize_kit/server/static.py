"""The console's static files, shipped in the package (``personalize_kit/server/console/``).

``GET /`` is ``console/index.html``; ``GET /console/<path>`` is ``console/<path>``. Nothing outside the
folder is ever served, and nothing is built or fetched at run time.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from werkzeug.wrappers import Response

CONSOLE_DIR = Path(__file__).with_name("console")
PREFIX = "/console/"
#: Content types the console's files need, whatever the host's mime database says.
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def console_file(path: str, root: Path = CONSOLE_DIR) -> Path | None:
    """The file a console URL path names, or ``None`` (not a console path, missing, or outside the folder)."""
    if path == "/":
        relative = "index.html"
    elif path.startswith(PREFIX):
        relative = path[len(PREFIX) :] or "index.html"
    else:
        return None
    base = root.resolve()
    candidate = (base / relative).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


def serve(path: str, root: Path = CONSOLE_DIR) -> Response | None:
    """The response for a console path, a 404 for a console path with no file, ``None`` for other paths."""
    found = console_file(path, root)
    if found is None:
        if path == "/" or path.startswith(PREFIX):
            return Response(
                f"not found: {path} (the console's files are in {root})\n", status=404, mimetype="text/plain"
            )
        return None
    kind = _TYPES.get(found.suffix.lower()) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    response = Response(found.read_bytes(), status=200, content_type=kind)
    response.headers["Cache-Control"] = "no-cache"
    return response
