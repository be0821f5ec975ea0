"""Registering, activating and retiring risk models. Every change is audited.

A model's file is written with skops under ``XINQIAO_DATA_DIR/models/`` and its SHA-256 digest kept
on the row; nothing is activated (or later loaded) unless the file still has that digest. Only a
platform admin activates; activating a model retires the one active in the same scope, in the same
transaction (a database constraint allows one active model per scope).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoring.risk import store
from scoring.risk.features import FeatureSpec
from scoring.risk.train import TrainConfig, kind_of
from screening.core.access import principal_of
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict, NotAllowed
from screening.directory.models import Region, School
from screening.riskmodels.models import RiskModel

MODEL_DIR = "models"


def risk_model_register(
    *,
    actor: Any,
    estimator: Any,
    spec: FeatureSpec,
    config: TrainConfig,
    card: dict[str, Any],
    labelled: int,
    positives: int,
    synthetic: bool,
    school: School | None = None,
    region: Region | None = None,
    data_from: dt.date | None = None,
    data_to: dt.date | None = None,
    version: str | None = None,
) -> RiskModel:
    """Save a trained model's file and register it as a candidate for its scope (a school, a
    region, or everything when both are None). ``version`` (from :func:`new_version`) when the
    card already names it."""
    if school is not None and region is not None:
        raise ValueError("a model's scope is a school, a region or everything, not two of them")
    now = timezone.now()
    scope_key = RiskModel.key_for(school=school, region=region)
    version = version or new_version(scope_key)
    relative = f"{MODEL_DIR}/{version}.skops"
    digest = store.save(estimator, settings.DATA_DIR / relative)
    with transaction.atomic():
        model = RiskModel.objects.create(
            version=version, scope_school=school, scope_region=region, scope_key=scope_key, kind=kind_of(estimator),
            file=relative, digest=digest, spec=spec.to_dict(), config=config.to_dict(), card=card,
            synthetic=synthetic, demographics=spec.demographics, labelled=labelled, positives=positives,
            data_from=data_from, data_to=data_to, trained_by=actor if getattr(actor, "pk", None) else None,
            trained_at=now,
        )
        audit_record(actor=actor, action=Action.CREATE, object_type="riskmodels.RiskModel", object_id=model.pk,
                     school_id=school.pk if school else None, detail={"version": version, "scope": scope_key})
    return model


def new_version(scope_key: str) -> str:
    """A new model version for a scope: the scope, the time, and four random hex digits."""
    return f"{scope_key.replace(':', '-')}-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def risk_model_activate(*, actor: Any, model: RiskModel) -> RiskModel:
    """Make ``model`` the active one of its scope, retiring the one before. Platform admins only;
    a model whose file no longer has its digest is refused."""
    if not principal_of(actor).platform_admin:
        raise NotAllowed(_("Only a platform admin can activate a risk model."))
    try:
        load(model)  # refuses a changed or foreign file before anything changes
    except (store.TamperedModel, store.UntrustedModel, OSError) as e:
        raise Conflict(_("This model's file is missing or has changed since it was trained; it cannot be activated."),
                       code="model_file_changed") from e
    now = timezone.now()
    with transaction.atomic():
        locked = RiskModel.objects.select_for_update().get(pk=model.pk)
        if locked.status == RiskModel.Status.ACTIVE:
            return locked
        if locked.status == RiskModel.Status.RETIRED:
            raise Conflict(_("A retired model cannot be activated again; train a new one."), code="model_retired")
        previous = RiskModel.objects.select_for_update().filter(scope_key=locked.scope_key,
                                                                status=RiskModel.Status.ACTIVE).first()
        if previous is not None:
            previous.status, previous.retired_at = RiskModel.Status.RETIRED, now
            previous.save(update_fields=["status", "retired_at"])
        locked.status, locked.activated_by, locked.activated_at = RiskModel.Status.ACTIVE, actor, now
        locked.save(update_fields=["status", "activated_by", "activated_at"])
        _forget_active()  # now, and again once committed (a read in between saw the old state)
        transaction.on_commit(_forget_active)
        audit_record(actor=actor, action=Action.UPDATE, object_type="riskmodels.RiskModel", object_id=locked.pk,
                     school_id=locked.scope_school_id,
                     detail={"activated": locked.version, "retired": previous.version if previous else None,
                             "scope": locked.scope_key})
    return locked


def risk_model_retire(*, actor: Any, model: RiskModel) -> RiskModel:
    """Take a model out of use (tiers then come from the rules alone, or a wider scope's model)."""
    if not principal_of(actor).platform_admin:
        raise NotAllowed(_("Only a platform admin can retire a risk model."))
    with transaction.atomic():
        locked = RiskModel.objects.select_for_update().get(pk=model.pk)
        if locked.status != RiskModel.Status.RETIRED:
            locked.status, locked.retired_at = RiskModel.Status.RETIRED, timezone.now()
            locked.save(update_fields=["status", "retired_at"])
            _forget_active()  # now, and again once committed (a read in between saw the old state)
            transaction.on_commit(_forget_active)
            audit_record(actor=actor, action=Action.UPDATE, object_type="riskmodels.RiskModel", object_id=locked.pk,
                         school_id=locked.scope_school_id, detail={"retired": locked.version, "scope": locked.scope_key})
    return locked


def _forget_active() -> None:
    from screening.riskmodels.estimate import forget_active

    forget_active()


def load(model: RiskModel) -> Any:
    """The fitted estimator of ``model``; raises scoring.risk.store.TamperedModel when the file
    does not have the registered digest (and UntrustedModel when it holds foreign types)."""
    return store.load(settings.DATA_DIR / model.file, model.digest)
