"""A fault-injecting HTTP proxy on loopback, for rehearsing a Hub (or mirror) that is slow or refuses.

Put it between a Hugging Face client and the course's local mirror (tools/hub_mirror.py), point
``HF_ENDPOINT`` at the proxy, and choose a fault:

- ``Fault.status(429, retry_after=60)``: answer 429 Too Many Requests (with ``Retry-After``);
- ``Fault.status(500 | 502 | 503)``: answer a server error;
- ``Fault.stall(after_bytes=...)``: send the headers and the first bytes of a download, then
  nothing (the connection stays open until the proxy stops or ``stall_s`` has passed);
- ``Fault.hang()``: read the request and never answer.

Each fault applies to the requests whose path matches ``match`` (a regular expression; every
request by default), after the first ``skip`` of them and at most ``times`` of them (all by
default); a stall applies to GET requests only. Other requests are forwarded as they are.
Standard library only. The proxy stops itself after ``lifetime`` seconds, and :func:`running`
stops it however its block ends; stopping wakes every stalled connection.

    python tests/fault_proxy.py http://127.0.0.1:PORT --status 429 --retry-after 60   # a manual demo
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: Hop-by-hop headers the proxy never forwards (it frames every answer itself).
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "host"}
_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass
class Fault:
    """What the proxy does to a matching request; build one with :meth:`status`, :meth:`stall` or :meth:`hang`."""

    kind: str  # "status", "stall" or "hang"
    code: int = 0
    retry_after: int | None = None
    after_bytes: int = 0
    stall_s: float = 3600.0
    match: str = ""
    times: int | None = None
    skip: int = 0
    hits: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)

    @classmethod
    def status(
        cls, code: int, retry_after: int | None = None, match: str = "", times: int | None = None, skip: int = 0
    ) -> Fault:
        if not 400 <= code <= 599:
            raise ValueError(f"code must be an HTTP error status (400-599), got {code!r}")
        return cls("status", code=code, retry_after=retry_after, match=match, times=times, skip=skip)

    @classmethod
    def stall(
        cls, after_bytes: int = 65536, match: str = "", times: int | None = None, stall_s: float = 3600.0
    ) -> Fault:
        return cls("stall", after_bytes=after_bytes, match=match, times=times, stall_s=stall_s)

    @classmethod
    def hang(cls, match: str = "", times: int | None = None, stall_s: float = 3600.0, skip: int = 0) -> Fault:
        return cls("hang", match=match, times=times, stall_s=stall_s, skip=skip)

    def take(self, method: str, path: str) -> bool:
        """Whether this request gets the fault (counts it in ``hits``); call with the proxy's lock held."""
        if re.search(self.match, path) is None or (self.kind == "stall" and method != "GET"):
            return False
        self.seen += 1
        if self.seen <= self.skip or (self.times is not None and self.hits >= self.times):
            return False
        self.hits += 1
        return True


class FaultProxy:
    """The proxy: ``endpoint`` to give clients, ``fault`` to set (None forwards everything), ``log`` of requests."""

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0, lifetime: float = 300.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://HOST:PORT, got {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.fault: Fault | None = None
        #: (method, path, what happened): "forwarded 200", "fault 429", "fault stall"...
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self.lifetime = lifetime

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        timer = threading.Timer(self.lifetime, self.stop)  # bounded: it never outlives its lifetime
        timer.daemon = True
        self._threads = [serve, timer]
        serve.start()
        timer.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake stalled connections and close the socket (idempotent)."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        timer = self._threads[1] if len(self._threads) > 1 else None
        if isinstance(timer, threading.Timer) and timer is not threading.current_thread():
            timer.cancel()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            fault = self.fault
            return fault if fault is not None and fault.take(method, path) else None

    def _record(self, method: str, path: str, what: str) -> None:
        with self._lock:
            self.log.append((method, path, what))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_HEAD(self) -> None:
                self._serve()

            def _serve(self) -> None:
                fault = proxy._take_fault(self.command, self.path)
                if fault is not None and fault.kind == "hang":
                    proxy._record(self.command, self.path, "fault hang")
                    proxy._stopping.wait(fault.stall_s)
                    self.close_connection = True
                    return
                if fault is not None and fault.kind == "status":
                    proxy._record(self.command, self.path, f"fault {fault.code}")
                    body = (
                        f"{fault.code} {_REASONS.get(fault.code, 'Error')} (injected by tests/fault_proxy.py)".encode()
                    )
                    self.send_response(fault.code, _REASONS.get(fault.code))
                    if fault.retry_after is not None:
                        self.send_header("Retry-After", str(fault.retry_after))
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                    self.close_connection = True
                    return
                status, reason, headers, body = self._forward()
                stall = fault is not None and fault.kind == "stall" and status < 300
                proxy._record(self.command, self.path, "fault stall" if stall else f"forwarded {status}")
                self.send_response(status, reason)
                for name, value in headers:
                    self.send_header(name, value)
                head_length = self._upstream_length if self._upstream_length is not None else 0
                self.send_header("Content-Length", str(head_length if self.command == "HEAD" else len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                if self.command == "HEAD":
                    return
                if stall:
                    assert fault is not None
                    self.wfile.write(body[: fault.after_bytes])
                    self.wfile.flush()
                    proxy._stopping.wait(fault.stall_s)
                    return
                self.wfile.write(body)

            def _forward(self) -> tuple[int, str, list[tuple[str, str]], bytes]:
                host, port = proxy.upstream
                conn = http.client.HTTPConnection(host, port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    headers["Host"] = f"{host}:{port}"
                    conn.request(self.command, self.path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read() if self.command != "HEAD" else b""
                    length = resp.getheader("Content-Length")
                    self._upstream_length = int(length) if length and length.isdigit() else None
                    ours, theirs = proxy.endpoint.split("//", 1)[1], f"{host}:{port}"
                    kept = [(k, v.replace(theirs, ours)) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
                    return resp.status, resp.reason, kept, body
                finally:
                    conn.close()

            _upstream_length: int | None = None

        return Handler


@contextlib.contextmanager
def running(upstream: str, lifetime: float = 300.0) -> Iterator[FaultProxy]:
    """A started :class:`FaultProxy` in front of ``upstream``; stopped however the block ends."""
    proxy = FaultProxy(upstream, lifetime=lifetime).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def listening(endpoint: str) -> bool:
    """True when something accepts connections at ``endpoint`` (http://HOST:PORT)."""
    parts = urlsplit(endpoint)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("upstream", help="the mirror to forward to, http://127.0.0.1:PORT")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--status", type=int, help="answer this HTTP status (429, 500, 502, 503)")
    parser.add_argument("--retry-after", type=int, default=None)
    parser.add_argument("--stall", type=int, metavar="BYTES", help="stall downloads after this many bytes")
    parser.add_argument("--hang", action="store_true", help="never answer")
    parser.add_argument("--match", default="", help="regular expression on the request path")
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after this many seconds (default 600)")
    args = parser.parse_args(argv)
    proxy = FaultProxy(args.upstream, port=args.port, lifetime=args.lifetime)
    if args.status:
        proxy.fault = Fault.status(args.status, retry_after=args.retry_after, match=args.match)
    elif args.stall is not None:
        proxy.fault = Fault.stall(args.stall, match=args.match)
    elif args.hang:
        proxy.fault = Fault.hang(match=args.match)
    proxy.start()
    print(
        f"fault proxy at {proxy.endpoint} -> {args.upstream} ({proxy.fault or 'no fault'}); Ctrl-C stops it", flush=True
    )
    try:
        while not proxy._stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
