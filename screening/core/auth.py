"""Sign-in: staff by username and password (Argon2), students by school code, number and access code.

Students sign in with the name ``SCHOOLCODE/NUMBER`` and their access code as the password, so the
same lockout (django-axes, per sign-in name) guards both.

Access codes are random, machine-issued 10-character secrets (about 49 bits). They are stored as a
keyed HMAC-SHA256 of (public id, code), not with Argon2: a roster of 10,000 students must be issued
codes in seconds, offline guessing needs the server's SECRET_KEY, and online guessing is stopped by
the lockout. Rotating SECRET_KEY invalidates every access code (reissue the sheets).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

ACCESS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ACCESS_CODE_LENGTH = 10


def new_access_code() -> str:
    """A fresh code, shown grouped as ``XXXXX-XXXXX``."""
    raw = "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_access_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def access_code_hash(public_id: str, code: str) -> str:
    return salted_hmac("xinqiao.access-code", f"{public_id}:{normalise_access_code(code)}", algorithm="sha256").hexdigest()


def student_login_name(school_code: str, number: str) -> str:
    """The one spelling of a student's sign-in name: the lockout counts failures per name, so
    ``jc-dhjh / DH001`` and ``JC-DHJH/DH001`` must be the same name, not two chances to guess."""
    return f"{school_code.strip().upper()}/{number.strip()}"


class StudentAccessCodeBackend(BaseBackend):
    """Authenticates ``SCHOOLCODE/NUMBER`` + access code; the student's user is made on first sign-in."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if not username or not password or "/" not in username:
            return None
        school_code, number = username.split("/", 1)
        if username != student_login_name(school_code, number):
            return None  # any other spelling would dodge the per-name lockout
        from screening.directory.models import Student
        from screening.directory.services import student_user_ensure

        student = (
            Student.objects.select_related("user")
            .filter(school__code__iexact=school_code, number=number, is_active=True)
            .first()
        )
        expected = student.access_code_hash if student else ""
        given = access_code_hash(student.public_id if student else "-", password)
        if student is None or not expected or not constant_time_compare(expected, given):
            return None
        return student_user_ensure(student=student)

    def get_user(self, user_id: int) -> Any:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """What a locked-out sign-in sees: the one API error shape, or the sign-in page with a notice."""
    message = _("Too many failed sign-in attempts. Try again in a few minutes, or ask your school to help.")
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "locked_out", "message": message, "fields": {}}}, status=429)
    return render(request, "web/locked_out.html", {"message": message}, status=429)
