"""The web console: static files (one HTML page, ES modules, one stylesheet) served by the API
function beside the API it calls, so it deploys with it, shares its origin (no CORS, the admin key
never crosses origins) and needs no bucket or CDN. The page is sent with a fresh nonce on its one
script tag and a strict Content-Security-Policy: no inline script or style, nothing from another
origin, no framing. The console is a client of the public API only; it holds no secret."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from chalice.app import Blueprint, Response

from functions.api.errors import BEARER_CHALLENGE, http_errors
from shared.domain.kernel.errors import NotFoundError

routes = Blueprint(__name__)
CONSOLE_DIRECTORY = Path(__file__).resolve().parents[1] / "console"
ASSET_NAME = re.compile(r"^[a-z0-9-]{1,60}\.(js|css)$")
CONTENT_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def content_security_policy(nonce: str) -> str:
    """Strict CSP (nonce + strict-dynamic: the page's one module and what it imports run, no
    inline script, no eval); styles from this origin only; fetches to this origin only."""
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'self'; "
        "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'; object-src 'none'"
    )


def _asset(name: str) -> str:
    """Read on each request (a few KB from the artifact's disk): an edit shows on reload."""
    return (CONSOLE_DIRECTORY / name).read_text(encoding="utf-8")


@routes.route("/console", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def console_page() -> Response:
    nonce = secrets.token_urlsafe(18)
    return Response(
        body=_asset("index.html").replace("{{nonce}}", nonce),
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": content_security_policy(nonce),
            "Cache-Control": "no-store",
            **COMMON_HEADERS,
        },
    )


@routes.route("/console/{name}", methods=["GET"])
@http_errors(challenge=BEARER_CHALLENGE)
def console_asset(name: str) -> Response:
    found = ASSET_NAME.fullmatch(name)
    if found is None or not (CONSOLE_DIRECTORY / name).is_file():
        raise NotFoundError(f"No console file {name!r}", details={"name": name[:100]})
    return Response(
        body=_asset(name),
        status_code=200,
        headers={
            "Content-Type": CONTENT_TYPES[found.group(1)],
            "Cache-Control": "no-cache",  # revalidated: a deploy's new modules are seen at once
            **COMMON_HEADERS,
        },
    )
