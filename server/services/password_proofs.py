"""Passwords recently checked right, so HTTP Basic pays its scrypt once in a while, not per request.

Each process keeps its own (a cache, not shared state: a miss only costs the scrypt again). An
entry is an HMAC, under a key made at random when the app is made (gunicorn's workers, forked
after that, start with the same key) and never stored, of the user's stored password hash and the
password: neither the password nor anything an attacker could test
guesses against without that key. Keyed on the stored hash, an entry stops matching the moment the
password changes; deactivation is checked on the user row, read on every request anyway. Only
right passwords are entered; a wrong one always pays the full check (throttling bounds those).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict

MOST_ENTRIES = 4096  # a county's staff many times over; the oldest entry gives way


class PasswordProofs:
    def __init__(self, seconds: float, most: int = MOST_ENTRIES) -> None:
        self.seconds = seconds
        self.most = most
        self._key = secrets.token_bytes(32)
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()  # the server may run threads

    def _proof(self, stored_hash: str, password: str) -> bytes:
        message = stored_hash.encode() + b"\x00" + password.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def holds(self, stored_hash: str, password: str) -> bool:
        """Whether this password was checked right against this stored hash a short time ago."""
        if self.seconds <= 0:
            return False
        proof = self._proof(stored_hash, password)
        with self._lock:
            expiry = self._expiry.get(proof)
            if expiry is None:
                return False
            if expiry <= time.monotonic():
                del self._expiry[proof]
                return False
            return True

    def add(self, stored_hash: str, password: str) -> None:
        """Enter a password just checked right; it holds for `seconds` from now, not longer."""
        if self.seconds <= 0:
            return
        proof = self._proof(stored_hash, password)
        with self._lock:
            self._expiry[proof] = time.monotonic() + self.seconds
            self._expiry.move_to_end(proof)
            while len(self._expiry) > self.most:
                self._expiry.popitem(last=False)

    def __len__(self) -> int:
        return len(self._expiry)
