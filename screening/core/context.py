"""Request facts that the audit needs but services must not take from ``request`` themselves."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse

client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)

def _valid_ip(value: str) -> str | None:
    """``value`` as a normalised IP address, or None: the audit column is an inet on PostgreSQL,
    where anything else would fail the request."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return None
    return str(address)


def ip_of(request: HttpRequest) -> str | None:
    """The client's address for the audit log: always a valid IP address, or None.

    Behind the reverse proxy (``DJANGO_BEHIND_PROXY``, see README) REMOTE_ADDR is the proxy, and
    each proxy appends the address it was reached from to X-Forwarded-For. Only the last
    ``XINQIAO_TRUSTED_PROXY_HOPS`` entries were written by our proxies; the client can put anything
    before them, so the entry that many places from the right is the client.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR") or "")
    if settings.SECURE_PROXY_SSL_HEADER:
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        trusted = settings.XINQIAO_TRUSTED_PROXY_HOPS
        if len(hops) >= trusted:
            return _valid_ip(hops[-trusted]) or remote
    return remote


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = client_ip.set(ip_of(request))
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)
