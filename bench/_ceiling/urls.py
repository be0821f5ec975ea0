"""The product's URLs plus one route, ``POST /bench/ceiling/``: the bare DRF endpoint.

Unauthenticated (no authentication classes, ``AllowAny``): "bare DRF" means a serializer that
checks nine integers and one ORM insert, with nothing of the product's own in between.
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
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        body = NineIntegersSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = CeilingRow.objects.create(**body.validated_data)
        return Response({"id": row.pk}, status=status.HTTP_201_CREATED)


urlpatterns = [path("bench/ceiling/", CeilingView.as_view(), name="bench-ceiling"), *product_urlpatterns]

__all__ = ["handler404", "handler500", "urlpatterns"]
