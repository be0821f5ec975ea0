"""The risk models' pages: the registry and each model's card, for heads of centre (the models that
may score their school) and platform admins (all, with Activate and Retire).

Everyone else gets a 403; a model a head of centre may not read answers 404, as one that does
not exist. Cards hold no student data, so reading one is not audited (as the other pages without
students); activating and retiring are audited by the services.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from screening.core.access import principal_of
from screening.core.errors import DomainError, NotAllowed
from screening.riskmodels import selectors, services
from screening.riskmodels.models import RiskModel
from screening.web.campaign_forms import content_language
from screening.web.risk_card import card_context, scope_label
from screening.web.scoped import forbidden, paginate, visible_or_404


def reads_risk_models(principal: Any) -> bool:
    """Heads of centre and platform admins read model cards (screening.core.access.risk_models_rule)."""
    return bool(principal.admin_school_ids) or principal.platform_admin


def risk_readers_only[F: Callable[..., HttpResponse]](view: F) -> F:
    """Signed in and a head of centre or platform admin, else 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not reads_risk_models(principal_of(request.user)):
            return forbidden(request)
        return view(request, *args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _models(request: HttpRequest) -> Any:
    return selectors.risk_model_list(user=request.user).select_related("trained_by", "activated_by")


@risk_readers_only
def risk_models(request: HttpRequest) -> HttpResponse:
    """The models the user may read, newest first, with status, scope and who trained and
    activated each; models trained on synthetic data say so."""
    page = paginate(request, _models(request))
    rows = [{"model": m, "scope": scope_label(m)} for m in page.object_list]
    return render(request, "web/risk/list.html", {"page": page, "rows": rows})


@risk_readers_only
def risk_model(request: HttpRequest, pk: int) -> HttpResponse:
    """One model's card: what it is for, its data, features, metrics with intervals, the tier
    thresholds, results by group (flagged groups marked), the comparison, the limitations, and
    the ROC and calibration curves. Platform admins may activate or retire it here."""
    model = visible_or_404(request, _models(request), pk=pk)
    context = {"model": model, "can_manage": principal_of(request.user).platform_admin,
               **card_context(model, content_language())}
    return render(request, "web/risk/detail.html", context)


def _change(request: HttpRequest, pk: int, change: Callable[..., RiskModel], done: str) -> HttpResponse:
    """Run a registry change for a platform admin: 403 for anyone else; the service's refusal (a
    retired model, a file that no longer has its digest) shown on the card."""
    model = visible_or_404(request, _models(request), pk=pk)
    try:
        changed = change(actor=request.user, model=model)
    except NotAllowed:
        return forbidden(request)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, done % {"version": changed.version})
    return redirect("web:risk-model", pk=model.pk)


@require_POST
@risk_readers_only
def risk_model_activate(request: HttpRequest, pk: int) -> HttpResponse:
    """Make the model the active one of its scope (the one before is retired). Platform admins."""
    return _change(request, pk, services.risk_model_activate, _("%(version)s is now the active model of its scope."))


@require_POST
@risk_readers_only
def risk_model_retire(request: HttpRequest, pk: int) -> HttpResponse:
    """Take the model out of use. Platform admins."""
    return _change(request, pk, services.risk_model_retire, _("%(version)s was retired."))
