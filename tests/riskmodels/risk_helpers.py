"""A small registered risk model for page and API tests.

Fitted once per process on a small synthetic cohort; its card is built from an in-sample report
(the numbers only need the card's shape, not honest cross-validation, which the registry tests
cover) with one group row flagged, so the card's per-group table has something to highlight.
Registering is per test: it writes the model's file under ``settings.DATA_DIR`` (point it at
``tmp_path``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from scoring.risk.card import card_json
from scoring.risk.evaluate import report
from scoring.risk.features import matrix
from scoring.risk.train import TrainConfig, fit, predict
from screening.riskmodels import estimate, services, training
from screening.riskmodels.models import RiskModel


@functools.cache
def fitted() -> dict[str, Any]:
    data = training.labelled_synthetic(1500, 5)
    spec = training._spec(data, demographics=False)
    x, y = matrix(spec, data.sittings), np.asarray(data.labels)
    config = TrainConfig(seed=5)
    estimator = fit(x, y, config)
    groups = {k: np.asarray(v) for k, v in data.groups.items()}
    evaluation = report(config.kind, y, predict(estimator, x), groups, config.thresholds, config.folds, config.seed)
    evaluation["groups"]["gender"][-1]["flagged"] = True  # the card must show a flagged group
    card = card_json(version="test", scope="all", evaluation=evaluation, features=spec.names(), spec=spec.to_dict(),
                     data_window=("2026-09-01", "2026-11-01"), counts={"labelled": len(y), "positives": int(y.sum())},
                     synthetic=True, demographics=False, trained_by="root", trained_at="2026-11-29T00:00:00Z",
                     comparison={"logistic": evaluation})
    return {"estimator": estimator, "spec": spec, "config": config, "card": card, "y": y}


def register(cast: Any, *, activate: bool = False, **scope: Any) -> RiskModel:
    """Register the model as a candidate for a scope (``school=`` / ``region=``, else everyone's);
    ``activate=True``: and activate it, as root."""
    f = fitted()
    model = services.risk_model_register(
        actor=cast.root, estimator=f["estimator"], spec=f["spec"], config=f["config"], card=f["card"],
        labelled=len(f["y"]), positives=int(f["y"].sum()), synthetic=True, **scope)
    return services.risk_model_activate(actor=cast.root, model=model) if activate else model


def pointing_to(monkeypatch: Any, tier: str) -> None:
    """Make the active model point every sitting to ``tier`` (its reasons as the model gives them)."""
    real = estimate.estimate

    def fixed(*args: Any, **kwargs: Any) -> estimate.Estimate:
        est = real(*args, **kwargs)
        return estimate.Estimate(est.model, 0.42, estimate.Tier(tier), est.reasons)

    monkeypatch.setattr(estimate, "estimate", fixed)
