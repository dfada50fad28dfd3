"""Serving the app with uvicorn, in one process or several.

With several processes each binds its own listening socket with SO_REUSEPORT, so the kernel
spreads new connections over them. (uvicorn's own `workers` share one socket: the first
process to wake takes every waiting connection, and with keep-alive one process then serves
nearly all the clients.) Each process runs the whole app, the embedded timer sweep included;
they share the database: SQLite (one writer at a time, queued on a file lock) or PostgreSQL.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from service.core.request_log import log_to_stderr

LOG_LEVEL = "warning"
"""uvicorn's own log: warnings and errors. Its access log is off: our own request log
(service.core.request_log) says the same without ids or query strings."""


def serve(app: Any, host: str, port: int) -> None:
    """One process: the app object itself."""
    log_to_stderr()
    uvicorn.run(app, host=host, port=port, log_level=LOG_LEVEL, access_log=False)


def serve_processes(factory: str, host: str, port: int, processes: int) -> int:
    """`processes` processes, each building its app with `factory` ("module:function").
    Returns when they have all stopped (SIGINT or SIGTERM stops them); non-zero if one of
    them failed."""
    context = multiprocessing.get_context("spawn")
    ready = context.Semaphore(0)
    children = [context.Process(target=_child, args=(factory, host, port, ready),
                                name=f"carepath-{i + 1}") for i in range(processes)]
    for child in children:
        child.start()
    started = 0
    while started < processes and all(child.is_alive() for child in children):
        started += ready.acquire(timeout=0.5)
    if started == processes:
        print(f"carepath: all {processes} processes are serving", flush=True)

    def stop(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.is_alive():
                child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while any(child.is_alive() for child in children):
            for child in children:
                child.join(timeout=0.5)
                if child.exitcode not in (None, 0) and not child.is_alive():
                    stop(signal.SIGTERM, None)  # one failed: stop the rest, say so
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [c.name for c in children if c.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        print(f"carepath: {', '.join(failed)} stopped with an error", file=sys.stderr)
        return 1
    return 0


class _Server(uvicorn.Server):
    """Tells the parent once it is serving."""

    def __init__(self, config: uvicorn.Config, ready: Any) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.release()


def _child(factory: str, host: str, port: int, ready: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    log_to_stderr()
    app = _load(factory)()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    _Server(uvicorn.Config(app, log_level=LOG_LEVEL, access_log=False),
            ready).run(sockets=[sock])


def _load(factory: str) -> Callable[[], Any]:
    module, _, name = factory.partition(":")
    function: Callable[[], Any] = getattr(importlib.import_module(module), name)
    return function
