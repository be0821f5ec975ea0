"""Every endpoint under /api/v1/ goes through the one scoped base (DESIGN.md "Access, written once").

The walk starts from the URL resolver, not from a hand-kept list, so a viewset added tomorrow
without the scoped base fails here before it can leak a row.
"""

from __future__ import annotations

import inspect
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSetMixin

from backend import urls as backend_urls
from backend.api import ScopedViewSet
from screening.core.access import RULES

# Plain APIViews that hold no student rows and so need no scoped queryset. Each says why.
NOT_SCOPED = {
    "TokenView": "sign-in: takes credentials, returns a token for the caller only",
    "LogoutView": "revokes the caller's own token; reads nothing",
    "MeView": "describes the caller only, built from their own principal",
}


def _api_views(resolver: URLResolver, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.extend(_api_views(entry, route))
        elif isinstance(entry, URLPattern):
            found.append((route, entry.callback))
    return found


def _v1_views() -> list[tuple[str, Any]]:
    return [(route, view) for route, view in _api_views(get_resolver()) if route.startswith("api/v1/")]


def test_the_walk_finds_every_endpoint_family():
    routes = " ".join(route for route, _ in _v1_views())
    for name in ("regions", "schools", "hospitals", "classes", "students", "memberships", "roster-imports",
                 "audit-events", "me/", "auth/token/", "auth/logout/", "campaigns", "alerts", "assignments",
                 "cases", "escalations", "kpis", "risk-models", "risk-scores", "roc.svg", "calibration.svg",
                 "agreements", "sharing-consents", "referrals"):
        assert name in routes, f"/api/v1/{name} is not reached by the router walk"


def test_every_api_viewset_inherits_the_scoped_base():
    unscoped = []
    for route, view in _v1_views():
        cls = getattr(view, "cls", None)
        if cls is None or not issubclass(cls, APIView):
            continue  # the API root and format suffix helpers are not data endpoints
        if issubclass(cls, ViewSetMixin) and not issubclass(cls, ScopedViewSet):
            unscoped.append(f"{route} -> {cls.__name__}")
    assert unscoped == []


def test_list_and_retrieve_are_the_scoped_audited_ones():
    """DRF's mixins define list/retrieve without calling super(): listed before the scoped base,
    they would serve every read without writing the audit log."""
    wrong = []
    for prefix, viewset, _basename in backend_urls.router.registry:
        for name in ("list", "retrieve"):
            # drf-spectacular's extend_schema_view wraps inherited actions; unwrap to what runs.
            if inspect.unwrap(getattr(viewset, name)) is not getattr(ScopedViewSet, name):
                wrong.append(f"{prefix}.{name} comes from {_defined_in(viewset, name)}")
    assert wrong == []


def _defined_in(cls: type, name: str) -> str:
    method = inspect.unwrap(getattr(cls, name))
    return method.__qualname__


def test_plain_api_views_are_only_the_allowed_ones():
    plain = {
        view.cls.__name__
        for _route, view in _v1_views()
        if getattr(view, "cls", None) is not None
        and issubclass(view.cls, APIView)
        and not issubclass(view.cls, ViewSetMixin)
        and view.cls.__name__ != "APIRootView"
    }
    assert plain == set(NOT_SCOPED), "a plain APIView under /api/v1/ needs a reason in NOT_SCOPED"


def test_every_registered_model_has_an_access_rule():
    missing = []
    for prefix, viewset, _basename in backend_urls.router.registry:
        assert issubclass(viewset, ScopedViewSet), prefix
        label = viewset.queryset.model._meta.label
        if label not in RULES:
            missing.append(f"{prefix}: {label}")
    assert missing == []
    assert len(backend_urls.router.registry) >= 8


def test_scoped_viewsets_do_not_replace_the_scoped_queryset_with_all_rows(cast, rf):
    """A viewset may narrow get_queryset (annotations, a selector) but nobody sees more than the rule allows."""
    for prefix, viewset, _basename in backend_urls.router.registry:
        model = viewset.queryset.model
        view = viewset()
        view.request = rf.get("/")
        view.request.user = cast.nobody
        view.kwargs = {}
        view.format_kwarg = None
        view.action = "list"
        assert not view.get_queryset().exists(), f"{prefix}: a user with no role sees {model._meta.label} rows"
