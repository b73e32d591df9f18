"""Run the DRF reference as a real process: `python -m tests.drf_reference.server DATA PORT`.

DATA is a JSON file written by the test: the users (with their tokens and whether they hold
3601) and the rows, copied from reqlog with the same ids and timestamps. The process builds a
fresh SQLite database beside DATA, loads them, and serves the app with uvicorn on 127.0.0.1:PORT.
Django is configured here, in its own process, so its settings never meet another test's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson


def configure(db: Path) -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="drf-reference-tests-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="tests.drf_reference.api",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "rest_framework.authtoken",
            "tests.drf_reference",
        ],
        # Django's default project middleware, less sessions, CSRF and messages (unused here).
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        STATIC_URL="/static/",
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]},
    )


def load(data: dict[str, Any]) -> None:
    from django.contrib.auth.models import Permission, User
    from django.contrib.contenttypes.models import ContentType
    from rest_framework.authtoken.models import Token

    from .models import RequestLog

    permission = Permission.objects.create(
        id=3601,
        codename="request_log_permission",
        name="RequestLogPermission",
        content_type=ContentType.objects.get_for_model(RequestLog),
    )
    for spec in data["users"]:
        user = User.objects.create(
            id=spec["id"],
            username=spec["username"],
            first_name=spec.get("first_name", ""),
            last_name=spec.get("last_name", ""),
            is_active=spec.get("is_active", True),
            is_staff=spec.get("is_staff", False),
            is_superuser=spec.get("is_superuser", False),
        )
        if spec.get("perm_3601"):
            user.user_permissions.add(permission)
        if spec.get("token"):
            Token.objects.create(key=spec["token"], user=user)
    RequestLog.objects.bulk_create(RequestLog(**row) for row in data["rows"])


def main(argv: list[str]) -> None:
    data_path, port = Path(argv[0]), int(argv[1])
    db = data_path.with_suffix(".sqlite3")
    db.unlink(missing_ok=True)
    configure(db)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    load(orjson.loads(data_path.read_bytes()))

    import uvicorn
    from django.core.asgi import get_asgi_application

    uvicorn.run(get_asgi_application(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main(sys.argv[1:])
