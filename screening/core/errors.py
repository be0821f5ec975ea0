"""The one error hierarchy. Every refusal the API gives is one of these, in one JSON shape.

``{"error": {"code": "...", "message": "...", "fields": {...}}}``; messages are translatable and
never carry a name, answer or score.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """Base: a request the domain refuses. ``code`` is stable and machine-readable."""

    status = 400
    code = "invalid"
    default_message: Any = _("The request is not valid.")

    def __init__(self, message: Any = None, *, code: str | None = None, fields: dict[str, list[Any]] | None = None):
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        self.fields = fields or {}
        super().__init__(str(self.code))


class InvalidInput(DomainError):
    status = 400
    code = "invalid"


class NotAllowed(DomainError):
    """Visible to the user but the action is not theirs to take (403)."""

    status = 403
    code = "forbidden"
    default_message = _("You are not allowed to do this.")


class NotFound(DomainError):
    """Missing or out of scope: the two look the same (404)."""

    status = 404
    code = "not_found"
    default_message = _("Not found.")


class Conflict(DomainError):
    """The object's state does not allow the change (409)."""

    status = 409
    code = "conflict"
    default_message = _("The request conflicts with the current state.")
