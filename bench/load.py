"""A light HTTP/1.1 load generator for the service benchmark.

The clients share the benchmark machine's two cores with the server, so they must cost
little: one thread, asyncio, a kept-alive connection per client, requests written as
prepared bytes and answers read by their Content-Length (uvicorn sends it for every JSON
answer). Every answer is still checked: its status, and a marker in its body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    token: str
    body: bytes = b""

    def encode(self, host: str, port: int) -> bytes:
        head = (f"{self.method} {self.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(self.body)}\r\n\r\n")
        return head.encode() + self.body


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _client(host: str, port: int, work: Sequence[Request], marker: bytes,
                  start: asyncio.Event, deadline_box: list[float], result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await start.wait()
        for request in work:
            if time.perf_counter() >= deadline_box[0]:
                break
            t0 = time.perf_counter()
            writer.write(request.encode(host, port))
            status, body = await _read_answer(reader)
            elapsed = time.perf_counter() - t0
            if status != 200 or marker not in body:
                result.errors.append(f"{request.path}: {status} {body[:200]!r}")
                break
            result.latencies.append(elapsed)
    except (OSError, asyncio.IncompleteReadError, ValueError) as err:
        result.errors.append(f"connection failed: {err}")
    finally:
        writer.close()


def run_load(host: str, port: int, work: Sequence[Sequence[Request]], marker: bytes,
             window_s: float) -> LoadResult:
    """One kept-alive connection per list in `work`, each sending its requests one after
    another until its list or the window ends. Connections are opened before the window."""
    result = LoadResult()

    async def main() -> None:
        start = asyncio.Event()
        deadline_box = [0.0]
        tasks = [asyncio.create_task(_client(host, port, requests, marker, start,
                                             deadline_box, result)) for requests in work]
        await asyncio.sleep(0.5)  # let every connection open (and every worker accept)
        t0 = time.perf_counter()
        deadline_box[0] = t0 + window_s
        start.set()
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - t0

    asyncio.run(main())
    return result
