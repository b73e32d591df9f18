"""`RequestLog`, the spec's fields in the spec's order, then the fields reqlog adds after them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RequestLog(models.Model):
    # An explicit id: rows are copied from reqlog with the ids reqlog gave them.
    id = models.BigIntegerField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    ip = models.CharField(max_length=64, null=True)
    device = models.CharField(max_length=255, null=True)
    device_type = models.CharField(max_length=16, null=True)
    is_bot = models.BooleanField(default=False)
    os = models.CharField(max_length=255, null=True)
    browser = models.CharField(max_length=255, null=True)
    scheme = models.CharField(max_length=16, null=True)
    endpoint = models.TextField(null=True)
    method = models.CharField(max_length=32, null=True)
    status_code = models.IntegerField(null=True)
    exception_type = models.CharField(max_length=255, null=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    duration = models.FloatField(null=True)
    created_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(null=True)
    query_params = models.JSONField(null=True)
    body = models.JSONField(null=True)
    response = models.JSONField(null=True)
    request_headers = models.JSONField(null=True)
    response_headers = models.JSONField(null=True)
    exception_message = models.TextField(null=True)
    exception_traceback = models.TextField(null=True)
    trace_id = models.CharField(max_length=32, null=True)
    span_id = models.CharField(max_length=16, null=True)
    service_name = models.CharField(max_length=255, null=True)
    route = models.TextField(null=True)
    request_body_size = models.BigIntegerField(null=True)
    response_body_size = models.BigIntegerField(null=True)
    request_body_truncated = models.BooleanField(default=False)
    response_body_truncated = models.BooleanField(default=False)

    class Meta:
        app_label = "drf_reference"
