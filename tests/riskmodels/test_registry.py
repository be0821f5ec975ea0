"""The risk model registry: saved with a digest, activated by platform admins only, one active per
scope, every change audited, cards read only by the heads of centre the model may concern."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.db import IntegrityError, transaction

from scoring.risk import cohort
from scoring.risk.card import card_json
from scoring.risk.evaluate import evaluate
from scoring.risk.features import FeatureSpec, matrix
from scoring.risk.store import TamperedModel
from scoring.risk.train import TrainConfig, fit
from screening.core.errors import Conflict, NotAllowed
from screening.core.models import AuditEvent
from screening.riskmodels import selectors, services
from screening.riskmodels.models import RiskModel

SPEC = FeatureSpec(("phq9", "gad7", "asq"))


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    sittings = [s for s in cohort(4000, 3) if s.outcome]
    x = matrix(SPEC, [{"answers": s.answers} for s in sittings])
    y = np.asarray([s.outcome == "confirmed_need" for s in sittings], dtype=int)
    config = TrainConfig(seed=3)
    report = evaluate(x, y, {"gender": np.asarray([s.gender for s in sittings])}, config)
    card = card_json(version="test", scope="all", evaluation=report, features=SPEC.names(), spec=SPEC.to_dict(),
                     data_window=("2026-09-01", "2026-11-01"), counts={"labelled": len(y), "positives": int(y.sum())},
                     synthetic=True, demographics=False, trained_by="test", trained_at="2026-11-28T00:00:00Z")
    return {"estimator": fit(x, y, config), "card": card, "config": config, "labelled": len(y), "positives": int(y.sum())}


@pytest.fixture(autouse=True)
def data_dir(tmp_path, settings):
    settings.DATA_DIR = tmp_path


def register(trained: dict[str, Any], actor: Any, **scope: Any) -> RiskModel:
    return services.risk_model_register(
        actor=actor, estimator=trained["estimator"], spec=SPEC, config=trained["config"], card=trained["card"],
        labelled=trained["labelled"], positives=trained["positives"], synthetic=True, **scope)


def test_a_registered_model_is_a_candidate_whose_file_has_its_digest(cast, trained):
    model = register(trained, cast.root, school=cast.dongshan)
    assert model.status == "candidate" and model.scope_key == f"school:{cast.dongshan.pk}" and model.kind == "logistic"
    assert (settings.DATA_DIR / model.file).is_file() and len(model.digest) == 64
    assert services.load(model) is not None
    assert AuditEvent.objects.filter(action="create", object_type="riskmodels.RiskModel", object_id=str(model.pk)).exists()


def test_a_changed_file_is_refused_and_never_activated(cast, trained):
    model = register(trained, cast.root)
    path = settings.DATA_DIR / model.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedModel):
        services.load(model)
    with pytest.raises(Conflict) as refused:
        services.risk_model_activate(actor=cast.root, model=model)
    assert refused.value.code == "model_file_changed" and isinstance(refused.value.__cause__, TamperedModel)
    model.refresh_from_db()
    assert model.status == "candidate"


def test_only_a_platform_admin_activates(cast, trained):
    model = register(trained, cast.root, school=cast.dongshan)
    for user in (cast.diana, cast.alice, cast.hamlet):
        with pytest.raises(NotAllowed):
            services.risk_model_activate(actor=user, model=model)
    assert services.risk_model_activate(actor=cast.root, model=model).status == "active"
    event = AuditEvent.objects.filter(action="update", object_type="riskmodels.RiskModel", object_id=str(model.pk)).get()
    assert event.detail["activated"] == model.version and event.actor_id == cast.root.pk


def test_activating_a_model_retires_the_one_before_in_its_scope_only(cast, trained):
    first, other_scope = register(trained, cast.root, school=cast.dongshan), register(trained, cast.root)
    services.risk_model_activate(actor=cast.root, model=first)
    services.risk_model_activate(actor=cast.root, model=other_scope)
    second = register(trained, cast.root, school=cast.dongshan)
    services.risk_model_activate(actor=cast.root, model=second)
    statuses = dict(RiskModel.objects.values_list("version", "status"))
    assert statuses == {first.version: "retired", second.version: "active", other_scope.version: "active"}
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule too
        RiskModel.objects.filter(pk=first.pk).update(status="active")


def test_the_nearest_active_model_scores_a_school(cast, trained):
    assert selectors.active_model_for(school=cast.dongshan) is None  # rules alone
    everyone = register(trained, cast.root)
    services.risk_model_activate(actor=cast.root, model=everyone)
    east = register(trained, cast.root, region=cast.east)
    services.risk_model_activate(actor=cast.root, model=east)
    assert selectors.active_model_for(school=cast.dongshan) == east
    assert selectors.active_model_for(school=cast.xishan) == everyone
    own = register(trained, cast.root, school=cast.dongshan)
    services.risk_model_activate(actor=cast.root, model=own)
    assert selectors.active_model_for(school=cast.dongshan) == own


def test_heads_of_centre_read_the_cards_that_concern_their_school(cast, trained):
    everyone, east = register(trained, cast.root), register(trained, cast.root, region=cast.east)
    dongshan, xishan = register(trained, cast.root, school=cast.dongshan), register(trained, cast.root, school=cast.xishan)
    seen = {user: set(selectors.risk_model_list(user=user)) for user in (cast.diana, cast.edgar, cast.alice, cast.olga,
                                                                          cast.hamlet, cast.root)}
    assert seen[cast.diana] == {everyone, east, dongshan}
    assert seen[cast.edgar] == {everyone, xishan}  # Xishan is in the West District
    assert seen[cast.alice] == seen[cast.olga] == seen[cast.hamlet] == set()
    assert seen[cast.root] == {everyone, east, dongshan, xishan}
