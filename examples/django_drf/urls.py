"""The DRF example's API: a retrieve view shaped like reqlog's own, a validated create, a failing view."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView


class OrderSerializer(serializers.Serializer[Any]):
    item = serializers.CharField(max_length=20)
    quantity = serializers.IntegerField(min_value=1)


@api_view(["GET"])
def request_log(request: Request, pk: int) -> Response:
    return Response({"id": pk, "viewer": request.user.get_username()})


@api_view(["POST"])
def orders(request: Request) -> Response:
    serializer = OrderSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)  # a 400 with DRF's JSON errors, logged with its body
    return Response({"ordered": serializer.validated_data}, status=status.HTTP_201_CREATED)


@api_view(["GET"])
def boom(request: Request) -> Response:
    raise RuntimeError("drf failure")


@csrf_exempt
def session_login(request: HttpRequest) -> HttpResponse:
    user = authenticate(request, username=request.POST.get("username"), password=request.POST.get("password"))
    if user is None:
        return JsonResponse({"detail": "bad credentials"}, status=400)
    login(request, user)
    return JsonResponse({"ok": True})


urlpatterns = [
    path("api/metrics/request_logs/<int:pk>", request_log),
    path("api/orders/", orders),
    path("api/boom/", boom),
    path("api/token/", TokenObtainPairView.as_view()),
    path("login/", session_login),
]
