"""The product's URLs plus the ceiling routes of ``bench/submit_throughput.py``.

``POST /bench/ceiling/``: the bare DRF endpoint on this server. A serializer that checks nine
integers and one ORM insert, with nothing of the product's own in the view; like every endpoint of
this server it keeps the server's DRF settings, so it authenticates the request's token
(DEFAULT_AUTHENTICATION_CLASSES, IsAuthenticated). That is the ceiling the target is measured on.

``POST /bench/ceiling-bare/``: the same without authentication (AllowAny), printed for reference.
"""

from __future__ import annotations

from django.urls import path
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.urls import handler404, handler500
from backend.urls import urlpatterns as product_urlpatterns

from .models import CeilingRow


class NineIntegersSerializer(serializers.Serializer):  # type: ignore[type-arg]
    a1 = serializers.IntegerField(min_value=0, max_value=3)
    a2 = serializers.IntegerField(min_value=0, max_value=3)
    a3 = serializers.IntegerField(min_value=0, max_value=3)
    a4 = serializers.IntegerField(min_value=0, max_value=3)
    a5 = serializers.IntegerField(min_value=0, max_value=3)
    a6 = serializers.IntegerField(min_value=0, max_value=3)
    a7 = serializers.IntegerField(min_value=0, max_value=3)
    a8 = serializers.IntegerField(min_value=0, max_value=3)
    a9 = serializers.IntegerField(min_value=0, max_value=3)


class CeilingView(APIView):
    def post(self, request: Request) -> Response:
        body = NineIntegersSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = CeilingRow.objects.create(**body.validated_data)
        return Response({"id": row.pk}, status=status.HTTP_201_CREATED)


class BareCeilingView(CeilingView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


urlpatterns = [
    path("bench/ceiling/", CeilingView.as_view(), name="bench-ceiling"),
    path("bench/ceiling-bare/", BareCeilingView.as_view(), name="bench-ceiling-bare"),
    *product_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
