"""The query-set method every model with student data carries: ``objects.visible_to(user)``.

The rules themselves live in :mod:`screening.core.access`; this file only routes to them.
"""

from __future__ import annotations

from typing import Any, Self

from django.db import models


class ScopedQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> Self:
        """Rows this user may see, by the one access policy. Unknown users and roles see nothing."""
        from screening.core import access

        return access.scope(self, user)  # type: ignore[return-value]


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
