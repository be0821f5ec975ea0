from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from screening.core.access import principal_of


def principal(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's roles, for the layout (navigation per role)."""
    p = principal_of(getattr(request, "user", None))
    return {"principal": p, "role": p.primary_role}
