"""ASGI entry point (uvicorn, or gunicorn's uvicorn worker): the same setup as wsgi.py, over ASGI."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_drf.settings")

from django.core.asgi import get_asgi_application

import instrumentation

instrumentation.configure(service_name="example-drf")
application = instrumentation.RequestLogMiddleware(get_asgi_application())
