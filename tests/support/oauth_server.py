"""A local OAuth2 authorization server for tests: a token endpoint and an introspection endpoint.

maild refreshes access tokens at ``/token`` (RFC 6749 section 6) and the test Dovecot checks
them at ``/introspect`` (RFC 7662), so a test sees the whole path a Gmail or Microsoft 365
login takes: refresh, XOAUTH2, the server asking the authorization server whether the token
is still good. Tokens live in memory; a test can expire them, revoke a refresh token, have
refresh tokens rotated, or make the endpoint answer with a server error. It runs on a free
loopback port in a thread, because Dovecot's auth process must reach it while the test's
own event loop is busy with IMAP.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

__all__ = ["OAuthServer", "oauth_server"]

HOST = "127.0.0.1"
CLIENT_ID = "maild-test-client"
CLIENT_SECRET = "maild-test-client-secret"  # a test value, not a credential
_MAX_BODY = 64 * 1024


@dataclass
class _State:
    """Everything the endpoints know, guarded by one lock (handlers run in threads)."""

    lifetime_s: int
    rotating: set[str] = field(default_factory=set)  # refresh tokens replaced when used
    failures: list[int] = field(default_factory=list)  # statuses to answer next, in order
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    access_tokens: dict[str, str] = field(default_factory=dict)  # access token -> user
    expired: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    introspections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # While ``held`` is clear, token requests wait at the door (and say so on ``arrived``).
    held: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)


class OAuthServer:
    """The authorization server's state and addresses; the HTTP server runs while started."""

    def __init__(self, *, lifetime_s: int = 3600) -> None:
        self._state = _State(lifetime_s)
        self._state.held.set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        state = self._state

        class Handler(_Handler):
            shared = state

        # Bound and listening when the constructor returns, so no readiness wait is needed.
        self._httpd = ThreadingHTTPServer((HOST, 0), Handler)
        # serve_forever notices shutdown() only between polls: 0.5 s by default, per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="oauth-server"
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._httpd.server_close()
        self._httpd = self._thread = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the OAuth server is not running")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def introspection_url(self) -> str:
        return f"{self.url}/introspect"

    # -- what a test arranges ------------------------------------------------------------------

    def grant(self, user: str, *, rotating: bool = False) -> str:
        """A new refresh token for ``user``, as if the user had just consented.

        A ``rotating`` one is answered with a new refresh token each time it is used and
        is forgotten then (as Microsoft may do, and RFC 9700 recommends for public clients).
        """
        token = "rt-" + secrets.token_urlsafe(24)
        with self._state.lock:
            self._state.refresh_tokens[token] = user
            if rotating:
                self._state.rotating.add(token)
        return token

    def issue(self, user: str) -> str:
        """A new access token for ``user``, as another program holding the grant would get."""
        with self._state.lock:
            return self._issue(self._state, user)

    def expire(self, user: str) -> None:
        """Every access token issued so far to ``user`` is expired from now on."""
        with self._state.lock:
            self._state.expired.update(
                token for token, owner in self._state.access_tokens.items() if owner == user
            )

    def revoke(self, refresh_token: str) -> None:
        with self._state.lock:
            self._state.refresh_tokens.pop(refresh_token, None)

    def hold(self) -> None:
        """Keep token requests waiting until ``release()``, to catch one in flight."""
        self._state.arrived.clear()
        self._state.held.clear()

    def release(self) -> None:
        self._state.held.set()

    def wait_for_held_request(self, timeout: float = 10.0) -> bool:
        """Block (in a thread) until a token request is waiting; False at the timeout."""
        return self._state.arrived.wait(timeout)

    def fail_next(self, *statuses: int) -> None:
        """Answer the next token requests with these HTTP statuses (e.g. 503), then recover."""
        with self._state.lock:
            self._state.failures.extend(statuses)

    def is_current(self, refresh_token: str) -> bool:
        with self._state.lock:
            return refresh_token in self._state.refresh_tokens

    @property
    def token_requests(self) -> list[dict[str, str]]:
        """The form of every token request received, in order (secrets included: test data)."""
        with self._state.lock:
            return list(self._state.token_requests)

    @property
    def access_tokens(self) -> list[str]:
        """Every access token issued so far, for asserting that none reached a log."""
        with self._state.lock:
            return list(self._state.access_tokens)

    @property
    def introspections(self) -> int:
        with self._state.lock:
            return self._state.introspections

    @staticmethod
    def _issue(state: _State, user: str) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        state.access_tokens[token] = user
        return token


class _Handler(BaseHTTPRequestHandler):
    shared: _State

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.path == "/token" and not self.shared.held.is_set():
            self.shared.arrived.set()
            self.shared.held.wait(10)
        with self.shared.lock:
            if self.path == "/token":
                status, body = _token(self.shared, form)
            elif self.path == "/introspect":
                status, body = _introspect(self.shared, form)
            else:
                status, body = 404, {"error": "not_found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: request lines would land on the test's stderr, which tests inspect."""


def _token(state: _State, form: Mapping[str, str]) -> tuple[int, dict[str, object]]:
    """RFC 6749 section 6: a refresh-token grant, with the client authenticated in the body."""
    state.token_requests.append(dict(form))
    if state.failures:
        return state.failures.pop(0), {"error": "temporarily_unavailable"}
    if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
        return 401, {"error": "invalid_client", "error_description": "Unknown client."}
    if form.get("grant_type") != "refresh_token":
        return 400, {"error": "unsupported_grant_type"}
    user = state.refresh_tokens.get(form.get("refresh_token", ""))
    if user is None:
        return 400, {
            "error": "invalid_grant",
            "error_description": "Token has been expired or revoked.",
        }
    answer: dict[str, object] = {
        "access_token": OAuthServer._issue(state, user),
        "token_type": "Bearer",
        "expires_in": state.lifetime_s,
    }
    if "scope" in form:
        answer["scope"] = form["scope"]
    used = form["refresh_token"]
    if used in state.rotating:
        del state.refresh_tokens[used]
        rotated = "rt-" + secrets.token_urlsafe(24)
        state.refresh_tokens[rotated] = user
        state.rotating.add(rotated)
        answer["refresh_token"] = rotated
    return 200, answer


def _introspect(state: _State, form: Mapping[str, str]) -> tuple[int, dict[str, object]]:
    """RFC 7662, in the shape Dovecot's oauth2 passdb reads (see dovecot_conf.OAUTH2_CONF)."""
    state.introspections += 1
    token = form.get("token", "")
    user = state.access_tokens.get(token)
    if user is None or token in state.expired:
        return 200, {"active": False}
    return 200, {"active": True, "username": user}


@contextmanager
def oauth_server(*, lifetime_s: int = 3600) -> Iterator[OAuthServer]:
    server = OAuthServer(lifetime_s=lifetime_s)
    server.start()
    try:
        yield server
    finally:
        server.stop()
