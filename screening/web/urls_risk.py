"""The risk models' pages, in the ``web`` namespace: the registry and each model's card (issue #5)."""

from django.urls import URLPattern, path

from screening.web import risk_pages

urlpatterns: list[URLPattern] = [
    path("risk-models/", risk_pages.risk_models, name="risk-models"),
    path("risk-models/<int:pk>/", risk_pages.risk_model, name="risk-model"),
    path("risk-models/<int:pk>/activate/", risk_pages.risk_model_activate, name="risk-model-activate"),
    path("risk-models/<int:pk>/retire/", risk_pages.risk_model_retire, name="risk-model-retire"),
]
