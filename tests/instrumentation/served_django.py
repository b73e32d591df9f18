"""A minimal Django ASGI app for the shutdown tests: `configure()` from the environment, then the middleware.

Django's ASGI handler refuses lifespan scopes, so this is the case where the server never announces
its shutdown to the app.
"""

from __future__ import annotations

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="reqlog-test-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
)
django.setup()


def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def item(request: HttpRequest, n: int) -> HttpResponse:
    return HttpResponse(f"item {n}")


urlpatterns = [path("ready", ready), path("items/<int:n>", item)]

from django.core.asgi import get_asgi_application  # noqa: E402  (after settings, as Django requires)

from instrumentation import RequestLogMiddleware, configure  # noqa: E402

configure()
app = RequestLogMiddleware(get_asgi_application())
