"""The apps `bench/django.py` times: Django + DRF and Flask, each bare and with each variant.

A process builds the bare app and the apps of its group of variants from the same settings, then
hands them to `django_timing.measure`; what each variant captured is read afterwards.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from .django_captures import Spans, peer_captures
from .django_timing import TOKEN, measure, runner, through_variant


def _capture_every_header() -> None:
    """Stock OTel captures headers only when asked: ask for all of them, as reqlog captures them."""
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"] = ".*"
    os.environ["OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE"] = ".*"


def run_django(variants: list[str], count: int, only: str | None = None) -> dict[str, Any]:
    """The bare app and each variant, in this process; the variants need the same settings."""
    _capture_every_header()
    import django
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions", "rest_framework"]
    apps.append("rest_framework.authtoken")
    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    extra: dict[str, Any] = {}
    if "drf_api_logger" in variants:
        apps.append("drf_api_logger")
        extra["DRF_API_LOGGER_DATABASE"] = True
    if "silk" in variants:
        apps.append("silk")
    database = tempfile.mkdtemp() + "/db.sqlite3"
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret-long-enough-for-anything",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="examples.django_drf.urls",
        INSTALLED_APPS=apps,
        MIDDLEWARE=list(middleware),
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        },
        USE_TZ=True,
        LOGGING_CONFIG=None,
        **extra,
    )
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0, interactive=False)
    Token.objects.create(key=TOKEN, user=User.objects.create(username="ada", first_name="Ada"))
    headers = {"Authorization": f"Token {TOKEN}"}
    runners = {"bare": runner(get_wsgi_application(), "/api/orders/", headers, 201)}
    spans: dict[str, Spans] = {}
    # A handler reads MIDDLEWARE when it is built: each variant's is built with its own list.
    for variant in variants:
        settings.MIDDLEWARE = list(middleware)
        if variant == "otel":
            from opentelemetry.instrumentation.django import DjangoInstrumentor

            spans[variant] = Spans()
            DjangoInstrumentor().instrument(tracer_provider=spans[variant].provider)  # adds its middleware
        elif variant == "reqlog":
            settings.MIDDLEWARE += ["instrumentation.django_hooks.RequestLogDjangoMiddleware"]
        elif variant == "drf_api_logger":
            settings.MIDDLEWARE += ["drf_api_logger.middleware.api_logger_middleware.APILoggerMiddleware"]
        elif variant == "silk":
            settings.MIDDLEWARE = ["silk.middleware.SilkyMiddleware", *middleware]
        app: Any = get_wsgi_application()
        if variant == "reqlog":
            from instrumentation import RequestLogWSGIMiddleware

            spans[variant] = Spans()
            app = RequestLogWSGIMiddleware(app, tracer_provider=spans[variant].provider)
        runners[variant] = runner(app, "/api/orders/", headers, 201)
    result = measure(runners, count, spans, only)
    for variant, measured in result["variants"].items():
        if variant in spans:
            measured["captures"] = spans[variant].captures(through_variant(count))
        else:
            measured["captures"] = peer_captures(variant)
    return result


def run_flask(variants: list[str], count: int, only: str | None = None) -> dict[str, Any]:
    _capture_every_header()
    import flask

    def build() -> flask.Flask:
        app = flask.Flask("bench")

        @app.post("/orders/<int:shop>")
        def orders(shop: int) -> Any:
            data = flask.request.get_json()
            return {"shop": shop, "ordered": data}, 201

        return app

    runners = {"bare": runner(build(), "/orders/3", {}, 201)}
    spans: dict[str, Spans] = {}
    for variant in variants:
        app = build()
        spans[variant] = Spans()
        if variant == "otel":
            from opentelemetry.instrumentation.flask import FlaskInstrumentor

            FlaskInstrumentor().instrument_app(app, tracer_provider=spans[variant].provider)
        elif variant == "reqlog":
            from instrumentation import RequestLogWSGIMiddleware

            app.wsgi_app = RequestLogWSGIMiddleware(app.wsgi_app, tracer_provider=spans[variant].provider)  # type: ignore[method-assign]
        runners[variant] = runner(app, "/orders/3", {}, 201)
    result = measure(runners, count, spans, only)
    for variant, measured in result["variants"].items():
        measured["captures"] = spans[variant].captures(through_variant(count))
    return result
