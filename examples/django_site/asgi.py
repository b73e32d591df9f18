"""ASGI entry point: Django's handler wrapped whole by RequestLogMiddleware.

The tracer provider comes from `instrumentation.configure()`, which reads the environment (see
examples/_run.py); it also installs it globally, which the middleware uses by default.
"""

from __future__ import annotations

import atexit
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_site.settings")

from django.core.asgi import get_asgi_application

import instrumentation

provider = instrumentation.configure(service_name="example-django")
atexit.register(provider.shutdown)  # flush the last batch when the server stops
application = instrumentation.RequestLogMiddleware(get_asgi_application(), tracer_provider=provider)
