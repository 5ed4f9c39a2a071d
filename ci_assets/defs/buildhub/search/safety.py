"""What keeps a buildhub.json from acting on the page's readers: only web URLs become links, and
every response carries headers that stop whatever slipped through from running.

A document's strings are data from S3, not from us: `download.url` or `source.repository` can
hold `javascript:...`, and any field can hold markup. Jinja escapes the markup; `web_url` keeps a
string out of an `href` unless it is an absolute http(s) URL. The Content-Security-Policy runs
only the page's own script and style (a nonce fresh for each response), loads nothing from
another origin, and refuses framing.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE = "csp_nonce"  # where a request's nonce lives: request.state.csp_nonce


def web_url(value: Any) -> str | None:
    """`value` when it is an absolute http or https URL with a host, else None (shown as text)."""
    if not isinstance(value, str) or any(c in value for c in "\x00\t\n\r") or value != value.strip():
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def policy(nonce: str) -> str:
    return "; ".join([
        "default-src 'none'",
        f"script-src 'nonce-{nonce}'",
        f"style-src 'nonce-{nonce}'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ])  # fmt: skip


class SecurityHeaders:
    """Pure ASGI middleware: a nonce in the request's state for the templates, and on the way out
    `nosniff` on everything, the policy and `X-Frame-Options` on HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = policy(nonce)
                    headers["X-Frame-Options"] = "DENY"
                    headers["Referrer-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)
