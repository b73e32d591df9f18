"""Django's ASGI handler wrapped in RequestLogMiddleware, with a minimal settings module.

Django answers a view's exception with its own 500 and never re-raises, so the exception reaches us
only through the `got_request_exception` signal; the user (`request.user`) and the URL pattern
(`request.resolver_match`) through `RequestLogDjangoMiddleware`. Real auth: sessions in a SQLite
file, Django's AuthenticationMiddleware, a logged-in user's session cookie.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from exporter import span_to_row
from instrumentation import RequestLogMiddleware

from .helpers import assert_row, js, request, row_of, server_span


def _item(request: HttpRequest, pk: int) -> JsonResponse:
    import json

    return JsonResponse({"id": pk, **json.loads(request.body)}, status=201)


def _boom(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(1 / 0))


async def _aboom(request: HttpRequest) -> HttpResponse:
    raise ConnectionError("upstream went away")


def _me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username() or None})


def _redirect(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect("/login/?next=/go/")


urlpatterns = [
    path("items/<int:pk>/", _item),
    path("boom/", _boom),
    path("aboom/", _aboom),
    path("me/", _me),
    path("go/", _redirect),
]


@pytest.fixture(scope="module")
def django_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Configure Django once for this module and migrate auth and sessions into a SQLite file."""
    db = tmp_path_factory.mktemp("django") / "db.sqlite3"
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="reqlog-tests-only",
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}},
            MIDDLEWARE=[
                "django.contrib.sessions.middleware.SessionMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
                "instrumentation.django_hooks.RequestLogDjangoMiddleware",
            ],
            USE_TZ=True,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    yield db
    from django.db import connections

    connections.close_all()


@pytest.fixture
def django_app(django_db: Path, tracer_provider: TracerProvider) -> RequestLogMiddleware:
    from django.core.asgi import get_asgi_application

    return RequestLogMiddleware(get_asgi_application(), tracer_provider=tracer_provider)


@pytest.fixture
def session_cookie(django_db: Path) -> str:
    """A logged-in session for user `django` (Django Reinhardt)."""

    def login() -> str:
        from django.contrib.auth.models import User
        from django.test import Client

        user, _ = User.objects.get_or_create(
            username="django", defaults={"first_name": "Django", "last_name": "Reinhardt"}
        )
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    # The ORM is synchronous and Django refuses it inside a running event loop: use a thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(login).result()


@pytest.fixture(autouse=True)
def _quiet_django_errors() -> Iterator[None]:
    # Django logs each 500 at ERROR with the traceback; the tests check the span instead.
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


async def test_django_json_post_route_and_bodies(
    django_app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    response = await request(django_app, "POST", "/items/9/?q=1&q=2", json={"name": "w"})
    assert response.status_code == 201
    assert server_span(span_exporter).name == "POST /items/<int:pk>/"
    assert_row(
        row_of(span_exporter),
        response,
        route="/items/<int:pk>/",
        query_params={"q": ["1", "2"]},
        body={"name": "w"},
        response={"id": 9, "name": "w"},
    )


@pytest.mark.parametrize(
    ("url", "exc_type", "message", "line"),
    [
        ("/boom/", "ZeroDivisionError", "division by zero", "str(1 / 0)"),
        ("/aboom/", "ConnectionError", "upstream went away", 'raise ConnectionError("upstream went away")'),
    ],
)
async def test_django_view_exception_is_recorded(
    url: str,
    exc_type: str,
    message: str,
    line: str,
    django_app: RequestLogMiddleware,
    span_exporter: InMemorySpanExporter,
) -> None:
    response = await request(django_app, "GET", url)
    assert response.status_code == 500  # Django answered it; nothing escaped to ASGI
    assert server_span(span_exporter).status.status_code is StatusCode.ERROR
    row = row_of(span_exporter)
    assert line in row.exception_traceback
    assert_row(
        row,
        response,
        route=url,
        response=response.text,
        exception_type=exc_type,
        exception_message=message,
        exception_traceback=row.exception_traceback,
    )


async def test_django_404_and_redirect_are_not_exceptions(
    django_app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    assert (await request(django_app, "GET", "/nowhere/")).status_code == 404
    assert (await request(django_app, "GET", "/go/")).status_code == 302
    missing, redirect = (span_to_row(s) for s in span_exporter.get_finished_spans())
    assert (missing.status_code, missing.exception_type, missing.route) == (404, None, None)
    assert (redirect.status_code, redirect.exception_type) == (302, None)
    assert js(redirect.response_headers)["Location"] == "/login/?next=/go/"


async def test_django_authenticated_user(
    django_app: RequestLogMiddleware, session_cookie: str, span_exporter: InMemorySpanExporter
) -> None:
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_cookie}"
    response = await request(django_app, "GET", "/me/", headers={"Cookie": cookie})
    assert response.json() == {"user": "django"}
    row = row_of(span_exporter)
    assert row.user_id is not None and row.user_id.isdigit()
    assert_row(
        row,
        response,
        route="/me/",
        response={"user": "django"},
        user_id=row.user_id,
        username="django",
        user_full_name="Django Reinhardt",
        request_headers=js(row.request_headers),  # the session cookie is redacted by the exporter
    )


async def test_django_anonymous_request_has_no_user(
    django_app: RequestLogMiddleware, span_exporter: InMemorySpanExporter
) -> None:
    assert (await request(django_app, "GET", "/me/")).json() == {"user": None}
    assert not [key for key in server_span(span_exporter).attributes if key.startswith("user.")]


def test_django_middleware_sync_path_notes_user_and_route(django_db: Path) -> None:
    """Django adapts middleware to the stack; the sync branch must do what the async one does."""
    from types import SimpleNamespace

    from django.contrib.auth.models import AnonymousUser, User

    from instrumentation.django_hooks import RequestLogDjangoMiddleware
    from instrumentation.exchange import current_exchange

    def get_response(request: Any) -> str:
        return "response"

    middleware = RequestLogDjangoMiddleware(get_response)
    exchange: Any = SimpleNamespace(framework_user=None, route=None)
    user = User(pk=12, username="grace", first_name="Grace", last_name="Hopper")
    request = SimpleNamespace(user=user, resolver_match=SimpleNamespace(route="api/<slug:name>/"))
    token = current_exchange.set(exchange)
    try:
        assert middleware(request) == "response"
        assert (exchange.framework_user, exchange.route) == (("12", "grace", "Grace Hopper"), "/api/<slug:name>/")
        exchange.framework_user = None
        middleware(SimpleNamespace(user=AnonymousUser(), resolver_match=None))
        assert exchange.framework_user is None
    finally:
        current_exchange.reset(token)
    assert middleware(request) == "response"  # outside a captured request: nothing to note, no error


def test_django_users_are_read_as_user_from_object_reads_them(django_db: Path) -> None:
    """The direct read of Django's user models (`django_user.django_identity`) names each user exactly
    as the generic `user_from_object` does, including the cases it hands back to it."""
    from django.contrib.auth.models import AnonymousUser, User

    from instrumentation.django_user import django_identity
    from instrumentation.identity import user_from_object

    named = User(pk=7, username="ada", first_name="Ada", last_name="Lovelace")
    unnamed = User(pk=8, username="grace")
    shown = User(pk=9, username="linus")
    shown.display_name = "Linus T."  # no names: the full name falls back to `display_name`
    unsaved = User(username="new")  # no primary key yet
    nameless = User(pk=10, username="")
    cases = [named, unnamed, shown, unsaved, nameless, AnonymousUser(), None]
    expected = [
        ("7", "ada", "Ada Lovelace"),
        ("8", "grace", None),
        ("9", "linus", "Linus T."),
        (None, "new", None),
        ("10", None, None),
        None,
        None,
    ]
    assert [django_identity(user) for user in cases] == [user_from_object(user) for user in cases] == expected

    class Nicknamed(User):  # overrides a method the direct read would skip: read through the method
        class Meta:
            proxy = True
            app_label = "auth"

        def get_full_name(self) -> str:
            return f"{self.first_name} the First"

    saved = User.objects.create(username="deferred", first_name="Dee")
    partial = User.objects.only("id").get(pk=saved.pk)  # its username is loaded only when read
    overridden = Nicknamed(pk=11, username="ed", first_name="Ed")
    assert django_identity(partial) == user_from_object(partial) == (str(saved.pk), "deferred", "Dee")
    assert django_identity(overridden) == user_from_object(overridden) == ("11", "ed", "Ed the First")
