"""The web console: static files (HTML, CSS, plain ES modules) that every agent serves at ``/``.

Nothing here runs in the agent: ``api.console`` serves :data:`STATIC_DIR` as it is. The browser
code signs in and talks to the agent's own API exactly as obshell's web UI does (RSA PKCS#1 v1.5
header with the root@sys password for ``POST /api/v1/login``, then the session id), so the
console needs nothing the API does not already offer to any client.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_FILE = STATIC_DIR / "index.html"
