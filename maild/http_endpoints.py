"""The HTTP edge: Prometheus ``/metrics``, liveness ``/healthz`` and readiness ``/readyz``.

A thread of its own, so a scrape never waits on the event loop. ``/metrics`` only
serialises gauges kept current elsewhere; ``/readyz`` answers 503 with the reasons
(one per line) while the database is unreachable or a watched folder has not synced
recently, which is what a load balancer or an orchestrator's probe needs.
"""

__all__ = ["Readiness", "serve"]

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

# What keeps maild from being ready, one human-readable reason each; empty: ready.
Readiness = Callable[[], list[str]]


def serve(
    host: str, port: int, registry: CollectorRegistry, readiness: Readiness
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``shutdown()`` the returned server to stop."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._answer(200, b"ok\n")
            elif path == "/readyz":
                try:
                    problems = readiness()
                except Exception as exc:  # a probe must answer, whatever broke
                    problems = [f"readiness check failed: {type(exc).__name__}: {exc}"]
                text = "\n".join(problems) if problems else "ready"
                self._answer(503 if problems else 200, (text + "\n").encode())
            else:
                self._answer(404, b"not found: try /metrics, /healthz or /readyz\n")

        def _answer(self, code: int, body: bytes, kind: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("http %s", format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="maild-http", daemon=True).start()
    return server
