"""The sample shop `reqlog demo` runs: a small Starlette app with the usual kinds of endpoints."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from instrumentation import RequestLogMiddleware, set_user

PRODUCTS = {i: {"id": i, "name": f"Tea no. {i}", "price": 3 + i % 7} for i in range(1, 21)}


async def home(request: Request) -> Response:
    return Response("<h1>reqlog demo shop</h1>", media_type="text/html")


async def products(request: Request) -> JSONResponse:
    limit = int(request.query_params.get("limit", "10"))
    return JSONResponse(list(PRODUCTS.values())[:limit])


async def product(request: Request) -> JSONResponse:
    found = PRODUCTS.get(int(request.path_params["product_id"]))
    if found is None:
        return JSONResponse({"detail": "no such product"}, status_code=404)
    return JSONResponse(found)


async def create_order(request: Request) -> JSONResponse:
    order = await request.json()
    set_user(42, "ada", "Ada Lovelace")
    total = sum(PRODUCTS[item["id"]]["price"] * item["quantity"] for item in order["items"])
    return JSONResponse({"order_id": 1001, "total": total}, status_code=201)


async def login(request: Request) -> JSONResponse:
    form = await request.form()
    # The form carries a password: reqlog stores it as "[REDACTED]".
    return JSONResponse({"welcome": str(form.get("username", ""))})


async def change_password(request: Request) -> JSONResponse:
    form = await request.form()  # both passwords are stored as "[REDACTED]"
    set_user(42, "ada", "Ada Lovelace")
    if form.get("password") == form.get("new_password"):
        return JSONResponse({"detail": "choose a new password"}, status_code=400)
    raise ConnectionError("the password service did not answer")


async def checkout(request: Request) -> JSONResponse:
    raise RuntimeError("payment gateway timed out")


def create_shop(tracer_provider: TracerProvider) -> RequestLogMiddleware:
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/products", products),
            Route("/products/{product_id:int}", product),
            Route("/api/orders", create_order, methods=["POST"]),
            Route("/login", login, methods=["POST"]),
            Route("/checkout", checkout, methods=["POST"]),
            Route("/account/password", change_password, methods=["POST"]),
        ]
    )
    return RequestLogMiddleware(app, tracer_provider=tracer_provider)
