"""The App's HTTP face, an ASGI application (Starlette; the one module that imports it):
``POST /webhook`` takes deliveries, ``GET /healthz`` says the server is up.

A delivery is answered as soon as it is checked and kept (GitHub waits 10 seconds at most);
the decision follows on the worker's threads and reaches GitHub through the callback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.github.app import logs
from engine.github.app.webhooks import MAX_BODY, Reply, read_delivery
from engine.github.app.worker import Worker


def _accept(worker: Worker, body: bytes, request: Request) -> Reply:
    headers = request.headers
    reply = read_delivery(
        worker.settings.webhook_secret,
        body,
        signatures=headers.getlist("x-hub-signature-256"),
        event=headers.get("x-github-event"),
        delivery=headers.get("x-github-delivery"),
    )
    if reply.request is not None and not worker.receive(reply.request):
        return Reply(200, "duplicate delivery: already taken")
    return reply


def _respond(request: Request, reply: Reply) -> JSONResponse:
    headers = request.headers
    fields = {
        "delivery": (headers.get("x-github-delivery") or "")[:100],
        "event": (headers.get("x-github-event") or "")[:60],
        "status": reply.status,
    }
    if reply.request is not None:
        fields.update(repository=reply.request.repository, run=reply.request.run_id,
                      environment=reply.request.environment)  # fmt: skip
    logs.logger().info(f"delivery: {reply.message}", extra={"fields": fields})
    return JSONResponse({"message": reply.message}, status_code=reply.status)


def create_app(worker: Worker) -> Starlette:
    """The ASGI application around a worker; starting it starts the worker, and stopping it
    lets the decisions under way finish."""

    async def webhook(request: Request) -> JSONResponse:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return _respond(request, Reply(413, "the body is larger than GitHub's 25 MB cap"))
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY:
                return _respond(request, Reply(413, "the body is larger than GitHub's 25 MB cap"))
        reply = await run_in_threadpool(_accept, worker, bytes(body), request)
        return _respond(request, reply)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)

    app = Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.worker = worker
    return app
