"""Settings for the example Django project: no database, nothing but what the example needs."""

from __future__ import annotations

SECRET_KEY = "example-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "examples.django_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    # Records the URL pattern as the route (and request.user when django.contrib.auth is used).
    "instrumentation.django_hooks.RequestLogDjangoMiddleware",
]
DATABASES: dict[str, object] = {}
USE_TZ = True
