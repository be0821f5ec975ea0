"""Filtering for every API list, scoped by the access policy (kept apart from api.py: DRF imports
the filter backend while loading its views)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.filters import QuerySetRequestMixin
from django_filters.rest_framework import DjangoFilterBackend


class ScopedFilterSet(django_filters.FilterSet):
    """Choice filters (a school, a class, a region) accept only ids the user may see.

    An id outside the user's scope is "not a valid choice", exactly like one that does not exist,
    so a filter can never tell whether another school's class exists.
    """

    def __init__(self, *args: Any, request: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, request=request, **kwargs)
        user = getattr(request, "user", None)
        for filter_ in self.filters.values():
            if not isinstance(filter_, QuerySetRequestMixin):
                continue
            queryset = filter_.queryset
            if isinstance(queryset, QuerySet):
                scoped = getattr(queryset, "visible_to", None)
                filter_.queryset = scoped(user) if scoped else queryset.none()


class ScopedFilterBackend(DjangoFilterBackend):
    """The filter backend for every list: filtersets built from ``filterset_fields`` are scoped too."""

    filterset_base = ScopedFilterSet
