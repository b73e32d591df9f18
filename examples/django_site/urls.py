"""URLs of the example Django project."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path


def hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "django"})


def echo(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"name": name, "received": json.loads(request.body or b"{}")}, status=201)


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("django failure")


urlpatterns = [
    path("", hello),
    path("echo/<str:name>/", echo),
    path("boom/", boom),
]
