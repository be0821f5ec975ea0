"""The pages' side of the access policy: one way to fetch an object, one way to refuse.

An object outside the user's scope answers 404, the same page as one that does not exist
(DESIGN.md §4); if it exists elsewhere, the attempt is written to the audit log, as the API's
scoped base does. Pages for heads of centre answer 403 to everyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from screening.core.access import principal_of
from screening.core.audit import audit_refused

PAGE_SIZE = 50


def visible_or_404[M: Model](request: HttpRequest, visible: QuerySet[M], **lookup: Any) -> M:
    """The one object of ``visible`` (a scoped queryset) matching ``lookup``, or 404.

    A match that exists outside the user's scope is logged as a refused access before the 404.
    """
    obj = visible.filter(**lookup).first()
    if obj is not None:
        return obj
    audit_refused(actor=request.user, model=visible.model, **lookup)
    raise Http404


def forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "web/403.html", status=403)


def school_admin_required[F: Callable[..., HttpResponse]](view: F) -> F:
    """Signed in and head of centre at some school, else 403. Objects are still checked per school."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not principal_of(request.user).admin_school_ids:
            return forbidden(request)
        return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]


def admin_of(request: HttpRequest, obj: Any) -> bool:
    """Is the user head of centre at the object's school?"""
    return principal_of(request.user).heads_school_of(obj)


def paginate(request: HttpRequest, queryset: Any) -> Page[Any]:
    """One page of ``queryset`` (50 rows); a bad or too-high page number gives the nearest page.

    A POST (the student search) carries its page number in the body, with the search text."""
    number = request.POST.get("page") if request.method == "POST" else request.GET.get("page")
    return Paginator(queryset, PAGE_SIZE).get_page(number)
