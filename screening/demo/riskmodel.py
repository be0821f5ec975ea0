"""The demo's risk model: trained on a synthetic labelled history (scoring.risk.synth; invented
students, answers and interview outcomes) and activated for everyone, so the demo shows the whole
path: a card with metrics, calibration and groups, estimates beside each sitting, and the reasons a
tier was raised. Its card says "trained on synthetic data; not for clinical use". Real deployments
train on their own counsellors' confirmed outcomes (``manage.py risk_train``).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from screening.riskmodels import services, training
from screening.riskmodels.models import RiskModel

SITTINGS = 4000
SEED = 2026
INSTRUMENTS = ("phqa", "gad7", "asq")  # those of the demo's junior-school campaign


def seed() -> RiskModel:
    """The active demo model, trained and activated on the first run only."""
    active = RiskModel.objects.filter(scope_key="all", status=RiskModel.Status.ACTIVE).first()
    if active is not None:
        return active
    admin = get_user_model().objects.get(username="admin")
    model = training.risk_model_train(actor=admin, data=training.labelled_synthetic(SITTINGS, SEED, instruments=INSTRUMENTS), synthetic=True,
                                      seed=SEED)
    return services.risk_model_activate(actor=admin, model=model)
