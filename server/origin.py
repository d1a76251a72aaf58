"""Refuse state-changing requests sent by another site's pages (cross-site request forgery).

A browser that holds a supervisor's HTTP Basic sign-in sends it with any request a foreign page
makes to us, a bodiless POST included. Browsers name the page's origin in `Origin` on every POST,
PUT, PATCH and DELETE (and older ones at least `Sec-Fetch-Site`); phones (OpenRosa) and scripts
send neither, so they pass untouched.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request

from .errors import ForeignOrigin

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": "80", "https": "443"}


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower case, without the scheme's default port."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is no number names no origin of ours
        return ""
    if port is not None and str(port) != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}" if scheme and host else ""


def own_origin() -> str:
    """This server's origin: PUBLIC_BASE_URL's (create_app refuses to start without one), never the
    request's Host, which is the caller's to choose."""
    return origin_of(current_app.config["PUBLIC_BASE_URL"])


def refuse_foreign_origin() -> None:
    """Before every request: a POST, PUT, PATCH or DELETE whose `Origin` is not ours (`null`
    included), or, without `Origin`, whose `Sec-Fetch-Site` says another site, gets 403."""
    if request.method not in STATE_CHANGING:
        return
    origin = request.headers.get("Origin")
    if origin is not None:
        found = origin_of(origin)
        if not found or found != own_origin():
            raise ForeignOrigin(f"This request came from another site's page ({origin[:100]}); it is refused. "
                                f"Use this server's own pages or a script (scripts send no Origin).")
    elif request.headers.get("Sec-Fetch-Site", "").strip().lower() in ("cross-site", "same-site"):
        # same-site is a sibling host (another subdomain of the same domain): another origin all the same.
        raise ForeignOrigin("This request came from another site's page; it is refused. "
                            "Use this server's own pages or a script.")
