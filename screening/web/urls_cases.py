"""The counsellor workspace's pages, in the ``web`` namespace: the queue, a case and its forms,
the escalations, and acknowledging a red alert. ``web:case`` is linked from the escalation e-mails."""

from django.urls import URLPattern, path

from screening.web import alert_pages, case_pages

urlpatterns: list[URLPattern] = [
    path("cases/", case_pages.case_queue, name="cases"),
    path("cases/escalations/", case_pages.escalations, name="escalations"),
    path("cases/<int:pk>/", case_pages.case_detail, name="case"),
    path("cases/<int:pk>/contact/", case_pages.case_contact, name="case-contact"),
    path("cases/<int:pk>/plan/", case_pages.case_plan, name="case-plan"),
    path("cases/<int:pk>/move/", case_pages.case_move, name="case-move"),
    path("cases/<int:pk>/close/", case_pages.case_close, name="case-close"),
    path("alerts/<int:pk>/acknowledge/", alert_pages.alert_acknowledge, name="alert-acknowledge"),
]
