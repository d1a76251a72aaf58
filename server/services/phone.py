"""What a phone needs to configure itself: its server URL and Collect's settings QR code."""
from __future__ import annotations

import base64
import io
import json
import zlib

import segno


def phone_server_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/key/{token}"


def collect_settings(server_url: str, project_name: str, username: str) -> dict:
    """The settings ODK Collect (and KoboCollect, its fork) imports from a QR code."""
    return {
        "general": {
            "server_url": server_url,
            # Keep the phone's forms and household list in step with the server.
            "form_update_mode": "match_exactly",
            # Send finished visits as soon as there is any signal.
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": f"{project_name} {username}", "icon": project_name[:1], "color": "#b71c1c"},
    }


def settings_qr_payload(settings: dict) -> str:
    """Collect's QR format: the JSON, zlib-compressed, then base64."""
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_settings_qr_payload(payload: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


def qr_png(payload: str, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(payload, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_terminal(payload: str) -> str:
    buffer = io.StringIO()
    segno.make_qr(payload, error="m").terminal(out=buffer, compact=True)
    return buffer.getvalue()
