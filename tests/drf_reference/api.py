"""The reference's DRF side: serializers, the permission, the filters, pagination, views, URLs.

The list filters are reqlog's documented ones (docs/api.md), each parsed by the DRF serializer
field of its type, so a bad value gets DRF's own field error, word for word.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.db.models.functions import Left
from django.urls import re_path
from rest_framework import generics, permissions, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import RequestLog

PERMISSION = "drf_reference.request_log_permission"  # the Permission row with id 3601


class UserSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="get_full_name")

    class Meta:
        model = User
        fields = ["id", "username", "full_name"]


class RequestLogSerializer(serializers.ModelSerializer):
    user = UserSerializer(allow_null=True)

    class Meta:
        model = RequestLog
        fields = [f.name for f in RequestLog._meta.fields]


class RequestLogPermission(permissions.BasePermission):
    """Admin, or staff holding permission 3601 (RequestLogPermission)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not user.is_active:
            return False
        return bool(user.is_superuser or (user.is_staff and user.has_perm(PERMISSION)))


class RequestLogPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, trim_whitespace=False, **kwargs)


class LogFilterSerializer(serializers.Serializer):
    """The list's query parameters, in reqlog's order (the order of DRF's field errors)."""

    username = _text()
    ip = serializers.IPAddressField(required=False)
    method = serializers.CharField(required=False)
    status_code = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=["1xx", "2xx", "3xx", "4xx", "5xx"], required=False)
    endpoint = _text()
    endpoint_prefix = _text()
    route = _text()
    service_name = _text()
    device_type = serializers.CharField(required=False)
    is_bot = serializers.BooleanField(required=False)
    has_exception = serializers.BooleanField(required=False)
    exception_type = _text()
    trace_id = serializers.CharField(required=False)
    started_after = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)
    min_duration = serializers.FloatField(required=False)
    max_duration = serializers.FloatField(required=False)


_EXACT = ("ip", "status_code", "endpoint", "route", "service_name", "device_type", "is_bot", "exception_type")


def filter_logs(queryset: QuerySet[RequestLog], query: dict[str, str]) -> QuerySet[RequestLog]:
    """`queryset` narrowed by the query parameters; DRF's 400 for a bad value."""
    user = query.pop("user", "").strip()
    parser = LogFilterSerializer(data={name: value for name, value in query.items() if value != ""})
    parser.is_valid(raise_exception=True)
    values = parser.validated_data
    if user == "0":
        queryset = queryset.filter(user__isnull=True)
    elif user:
        # Ids are matched as text, so "07" is not user 7.
        queryset = queryset.filter(user_id=int(user)) if user.isdigit() and str(int(user)) == user else queryset.none()
    for name in _EXACT:
        if name in values:
            queryset = queryset.filter(**{name: values[name]})
    if "username" in values:
        queryset = queryset.filter(user__username=values["username"])
    if "method" in values:
        queryset = queryset.filter(method=values["method"].upper())
    if "trace_id" in values:
        queryset = queryset.filter(trace_id=values["trace_id"].lower())
    if "status" in values:
        hundreds = int(values["status"][0]) * 100
        queryset = queryset.filter(status_code__gte=hundreds, status_code__lt=hundreds + 100)
    if "endpoint_prefix" in values:
        # Case-sensitive, unlike SQLite's LIKE behind `__startswith`.
        prefix = values["endpoint_prefix"]
        queryset = queryset.annotate(_prefix=Left("endpoint", len(prefix))).filter(_prefix=prefix)
    if "has_exception" in values:
        queryset = queryset.filter(exception_type__isnull=not values["has_exception"])
    if "started_after" in values:
        queryset = queryset.filter(started_at__gte=values["started_after"])
    if "started_before" in values:
        queryset = queryset.filter(started_at__lt=values["started_before"])
    if "min_duration" in values:
        queryset = queryset.filter(duration__gte=values["min_duration"])
    if "max_duration" in values:
        queryset = queryset.filter(duration__lte=values["max_duration"])
    return queryset


class RequestLogDetail(generics.RetrieveAPIView):
    """Retrieve one request log by id."""

    queryset = RequestLog.objects.select_related("user")
    serializer_class = RequestLogSerializer
    permission_classes = [RequestLogPermission]


class RequestLogList(generics.ListAPIView):
    """Request logs, newest first, filtered, in cursor pages."""

    serializer_class = RequestLogSerializer
    permission_classes = [RequestLogPermission]
    pagination_class = RequestLogPagination

    def get_queryset(self) -> QuerySet[RequestLog]:
        # A repeated parameter: the last value wins, as in Django's QueryDict.
        query = {name: self.request.query_params[name] for name in self.request.query_params}
        query.pop("cursor", None)
        query.pop("page_size", None)
        query.pop("format", None)
        return filter_logs(RequestLog.objects.select_related("user"), query)


# Both with and without the trailing slash, and any id text: the view decides what an id is.
urlpatterns = [
    re_path(r"^api/metrics/request_logs/?$", RequestLogList.as_view()),
    re_path(r"^api/metrics/request_logs/(?P<pk>[^/]+)/?$", RequestLogDetail.as_view()),
]
