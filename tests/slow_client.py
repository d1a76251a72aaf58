"""A phone on a slow link, over a raw socket: a submission's body sent at a set rate, or headers
trickled a byte at a time. requests sends as fast as it can; these send as 2G does."""
from __future__ import annotations

import socket
import threading
import time

from urllib3 import encode_multipart_formdata


def submission_body(xml: bytes, files: dict[str, bytes]) -> tuple[bytes, str]:
    """The multipart body Collect posts (xml_submission_file first) and its Content-Type."""
    fields = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
    fields += [(name, (name, body, "application/octet-stream")) for name, body in files.items()]
    return encode_multipart_formdata(fields)


def request_head(host: str, port: int, path: str, content_type: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-OpenRosa-Version: 1.0\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n").encode()


def read_status(sock: socket.socket) -> tuple[int, bytes]:
    """The response's status and body (the server closes the connection after it)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    if not data:
        return 0, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def post_slowly(host: str, port: int, path: str, body: bytes, content_type: str, *, rate: float,
                chunk: int = 1024, stop_after: int | None = None, timeout: float = 600) -> tuple[int, bytes]:
    """POST `body` at `rate` bytes a second in `chunk`-byte writes; stop_after: go silent after that
    many body bytes (a link that died) and wait for the server's answer. (0, b"") if it only closed."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request_head(host, port, path, content_type, len(body)))
        began = time.monotonic()
        end = len(body) if stop_after is None else stop_after
        try:
            for offset in range(0, end, chunk):
                sock.sendall(body[offset:min(offset + chunk, end)])
                # Paced against the clock, so the rate holds however long each write took.
                delay = began + (offset + chunk) / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except OSError:  # the server closed the connection: an answer may be waiting still
            pass
        try:
            return read_status(sock)
        except OSError:
            return 0, b""


def trickle_headers(host: str, port: int, *, every: float, stop: threading.Event) -> None:
    """Open a connection and send a request's headers one byte every `every` seconds until `stop`."""
    head = f"GET /formList HTTP/1.1\r\nHost: {host}\r\nX-OpenRosa-Version: 1.0\r\nX-Padding: {'x' * 4000}\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=30) as sock:
        for byte in head:
            if stop.wait(every):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # dropped by the server
                return
