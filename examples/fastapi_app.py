"""A FastAPI app: `python -m examples.fastapi_app` (see examples/_run.py)."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel

from instrumentation import RequestLogMiddleware


class Order(BaseModel):
    item: str
    quantity: int


def create_app(tracer_provider: TracerProvider | None = None) -> FastAPI:
    # FastAPI 0.16x makes its own SERVER span for each request on the global provider; with
    # reqlog's middleware that would log every request twice. (Older FastAPI ignores the option.)
    app = FastAPI(telemetry={"tracing": False})

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.post("/orders", status_code=201)
    async def create_order(order: Order) -> dict[str, object]:
        return {"item": order.item, "quantity": order.quantity}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("fastapi failure")

    app.add_middleware(RequestLogMiddleware, tracer_provider=tracer_provider)
    return app


if __name__ == "__main__":
    from ._run import serve

    serve(create_app, service_name="example-fastapi")
