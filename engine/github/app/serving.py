"""The App's process: uvicorn serving the ASGI application (the one module that imports
uvicorn). SIGTERM and SIGINT stop it gracefully: no new connections, the deliveries being
answered are answered, the decisions under way finish, and what was not started stays queued
in the state file for the next start."""

from __future__ import annotations

import logging.config
import signal
import socket
from typing import Any, Final

import uvicorn

from engine.errors import UsageError
from engine.github.app import logs
from engine.github.app.server import create_app
from engine.github.app.settings import Settings
from engine.github.app.worker import Worker

GRACE: Final = 20  # seconds to finish the requests under way on shutdown
# connections at once: past it uvicorn answers 503. Bodies are read whole (up to 25 MB) before
# their signature can be checked, so this also bounds what unsigned senders can make it hold.
CONNECTIONS: Final = 100


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts (a taken port is exit 2)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock


def server(app: Any, *, grace: int = GRACE) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        lifespan="on",
        log_config=None,  # logging is configured by serve(), JSON lines
        access_log=False,
        timeout_graceful_shutdown=grace,
        limit_concurrency=CONNECTIONS,
        server_header=False,
    )
    return uvicorn.Server(config)


def serve(settings: Settings, host: str, port: int, **worker: Any) -> int:
    """Run until SIGTERM or SIGINT; 0 after a clean stop."""
    logging.config.dictConfig(logs.config())
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    app = create_app(Worker(settings, **worker))
    logs.logger().info(
        "listening",
        extra={
            "fields": {"url": f"http://{bound_host}:{bound_port}", "state": str(settings.state)}
        },
    )
    runner = server(app)
    # uvicorn stops gracefully on SIGTERM, then raises it again for the handler it found: a
    # handler that does nothing lets the process end with 0 after a clean stop (^C stays 130).
    previous = signal.signal(signal.SIGTERM, lambda number, frame: None)
    try:
        runner.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
