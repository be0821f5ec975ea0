"""Students answering and guardians consenting (issue #4); included into screening/web/urls.py."""

from django.urls import URLPattern, path

from screening.web import answer_pages, guardian_pages

urlpatterns: list[URLPattern] = [
    path("me/assignments/<int:pk>/", answer_pages.assignment_start, name="assignment"),
    path("me/assignments/<int:pk>/consent/", answer_pages.assignment_consent, name="assignment-consent"),
    path("me/assignments/<int:pk>/research/", answer_pages.assignment_research, name="assignment-research"),
    path("me/assignments/<int:pk>/q/<int:step>/", answer_pages.assignment_step, name="assignment-step"),
    path("me/assignments/<int:pk>/draft/", answer_pages.assignment_draft, name="assignment-draft"),
    path("me/assignments/<int:pk>/review/", answer_pages.assignment_review, name="assignment-review"),
    path("me/assignments/<int:pk>/submit/", answer_pages.assignment_submit, name="assignment-submit"),
    path("me/assignments/<int:pk>/done/", answer_pages.assignment_done, name="assignment-done"),
    path("consent/<str:token>/", guardian_pages.guardian_consent, name="guardian-consent"),
]
