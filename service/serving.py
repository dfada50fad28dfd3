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
    them failed to start.

    A process that dies while serving (killed, or crashed) is replaced, and the others serve
    on meanwhile: its requests in flight are lost unanswered, and their transactions rolled
    back or committed whole. One that fails before it serves stops them all: a mistake in
    the set-up would only fail again."""
    context = multiprocessing.get_context("spawn")
    children = [_Child(context, factory, host, port, number + 1)
                for number in range(processes)]
    stopping, failed, announced = False, False, False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.process.is_alive():
                child.process.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while any(child.process.is_alive() or not (stopping or child.ended_well)
                  for child in children):  # serving, or to be replaced
            for index, child in enumerate(children):
                child.process.join(timeout=0.5 / processes)
                if not announced and all(c.ready.is_set() for c in children):
                    print(f"carepath: all {processes} processes are serving", flush=True)
                    announced = True
                if stopping or child.process.is_alive() or child.ended_well:
                    continue
                if child.ready.is_set():
                    print(f"carepath: {child.process.name} stopped ({child.how_it_ended}); "
                          "starting another in its place", file=sys.stderr, flush=True)
                    children[index] = _Child(context, factory, host, port, child.number)
                else:  # it never served: stop the rest, say so
                    print(f"carepath: {child.process.name} failed to start "
                          f"({child.how_it_ended})", file=sys.stderr, flush=True)
                    failed = True
                    stop(signal.SIGTERM, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        print("carepath: a server process failed to start; all have stopped", file=sys.stderr)
        return 1
    return 0


class _Child:
    """One server process, and the event it sets once it serves."""

    def __init__(self, context: Any, factory: str, host: str, port: int, number: int) -> None:
        self.number = number
        self.ready = context.Event()
        self.process = context.Process(target=_child, args=(factory, host, port, self.ready),
                                       name=f"carepath-{number}")
        self.process.start()

    @property
    def ended_well(self) -> bool:
        """Stopped as asked (SIGTERM) or of its own accord, without an error."""
        return self.process.exitcode in (0, -signal.SIGTERM)

    @property
    def how_it_ended(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"


class _Server(uvicorn.Server):
    """Tells the parent once it is serving."""

    def __init__(self, config: uvicorn.Config, ready: Any) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()


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
