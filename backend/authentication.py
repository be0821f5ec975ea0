"""API authentication: DRF's token scheme (``Authorization: Token <key>``), read in one query.

DRF's own ``TokenAuthentication`` loads the token and its user through the ORM; on the submit path
that query cost more than the database's own work for it (see bench/submit_throughput.py). This
reads the same two tables in one plain statement and keeps DRF's messages and behaviour: an
unknown key or an inactive user is a 401.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from screening.core import rows


@cache
def _sql() -> str:
    # The columns by name, not u.*: PostgreSQL keeps this statement prepared, and a prepared
    # "SELECT *" fails ("cached plan must not change result type") once a migration adds a column.
    columns = rows.select_list(get_user_model(), "u")
    return f"SELECT {columns} FROM core_user u JOIN authtoken_token t ON t.user_id = u.id WHERE t.key = %s"  # noqa: S608


class TokenAuthentication(authentication.TokenAuthentication):
    """``request.user`` is the token's user; ``request.auth`` is the key."""

    def authenticate_credentials(self, key: str) -> tuple[Any, str]:
        user = next(iter(get_user_model().objects.raw(_sql(), [key])), None)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, key
