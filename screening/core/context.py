"""Request facts that the audit needs but services must not take from ``request`` themselves."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)


def ip_of(request: HttpRequest) -> str | None:
    # Behind the reverse proxy, REMOTE_ADDR is the proxy; gunicorn's forwarded_allow_ips and the
    # proxy's X-Forwarded-For are trusted only when DJANGO_BEHIND_PROXY is set (see README).
    from django.conf import settings

    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = client_ip.set(ip_of(request))
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)
