"""Load generator for ``bench/submit_throughput.py`` (run by it, in its own process).

Sends prepared HTTP/1.1 requests to 127.0.0.1 over C concurrent connections (asyncio protocols,
one coroutine per connection, each request sent as soon as the previous answer on that connection is
complete). A connection is kept alive while the server allows it; gunicorn's sync workers close
after every response, so then each request opens a new one, and its latency includes the connect.

Input (``--spec``): JSON ``{"port": P, "connections": C, "requests": ["POST ... HTTP/1.1\\r\\n...", ...]}``.
Output (``--out``): JSON with per-request ``status`` (0: no answer) and ``latency`` (seconds),
the wall time from the first send to the last answer, this process's CPU seconds, and a few
error samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from pathlib import Path


class _Client(asyncio.Protocol):
    """One HTTP/1.1 connection: send a request, collect one response (Content-Length framed)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.done: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def request(self, payload: bytes) -> asyncio.Future[tuple[int, bytes, bool]]:
        self.buffer.clear()
        self.done = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(payload)
        return self.done

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.done is None or self.done.done():
            return
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        length, close = 0, lines[0].startswith("HTTP/1.0")
        for line in lines[1:]:
            name, _sep, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                close = value.strip().lower() == "close"
        if len(self.buffer) >= end + 4 + length:
            status = int(lines[0].split(" ", 2)[1])
            self.done.set_result((status, bytes(self.buffer[end + 4 : end + 4 + length]), close))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc or ConnectionResetError("connection closed before a full response"))


async def _run(port: int, connections: int, requests: list[bytes]) -> dict[str, object]:
    host = "127.0.0.1"
    n = len(requests)
    statuses = [0] * n
    latencies = [0.0] * n
    errors: list[str] = []
    next_index = iter(range(n))

    async def worker() -> None:
        loop = asyncio.get_running_loop()
        conn: _Client | None = None
        for i in next_index:
            start = time.perf_counter()
            try:
                if conn is None or conn.closed:
                    _transport, conn = await loop.create_connection(_Client, host, port)
                status, body, close = await conn.request(requests[i])
                if close:
                    assert conn.transport is not None
                    conn.transport.close()
                    conn = None
            except (OSError, ValueError, IndexError) as exc:
                status, body = 0, repr(exc).encode()
                if conn is not None and conn.transport is not None:
                    conn.transport.close()
                conn = None
            latencies[i] = time.perf_counter() - start
            statuses[i] = status
            if not 200 <= status < 300 and len(errors) < 5:
                errors.append(f"{status}: {body[:300].decode('utf-8', 'replace')}")
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"statuses": statuses, "latencies": latencies, "wall": wall, "cpu": cpu, "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    requests = [r.encode("utf-8") for r in spec["requests"]]
    result = asyncio.run(_run(int(spec["port"]), int(spec["connections"]), requests))
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
