"""WSGI entry point (gunicorn): Django's handler wrapped whole by RequestLogWSGIMiddleware.

`configure()` reads where the logs go from the environment (examples/_run.py) and installs the
provider globally; its exit hook flushes the last batch when a gunicorn worker exits (SIGTERM,
SIGHUP reload, `max_requests` retirement).
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_drf.settings")

from django.core.wsgi import get_wsgi_application

import instrumentation

instrumentation.configure(service_name="example-drf")
application = instrumentation.RequestLogWSGIMiddleware(get_wsgi_application())
