"""Red alerts for the staff who cover the student: the list (open first, most urgent first) and
one alert, which the alert e-mail links to. Every student shown is audited; an alert on a student
the user does not cover answers 404. Acknowledgement comes with the counsellor workspace."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case, DateTimeField, F, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from screening.campaigns import selectors
from screening.campaigns.models import CrisisAlert
from screening.core.audit import Action, audit_students
from screening.web.campaign_forms import content_language
from screening.web.campaign_pages import staff_required
from screening.web.scoped import paginate, visible_or_404


def rule_texts(rules: list[dict[str, Any]], lang: str) -> list[str]:
    """The fired rules' descriptions in the reader's language (``FiredRule.to_dict`` shape)."""
    texts = []
    for rule in rules or []:
        description = rule.get("description") or {}
        texts.append(description.get(lang) or description.get("en") or str(rule.get("id", "")))
    return texts


def _row(alert: CrisisAlert, lang: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "alert": alert, "student": alert.student, "rules": rule_texts(alert.rules, lang),
        "open": alert.acknowledged_at is None, "overdue": alert.acknowledged_at is None and alert.due_at <= now,
    }


def open_alert_count(*, user: Any) -> int:
    """How many red alerts on students this user covers are still open (the staff home's banner)."""
    return selectors.alert_list(user=user, open_only=True).count()


def _ordered(alerts: QuerySet[CrisisAlert]) -> QuerySet[CrisisAlert]:
    """Open alerts first, the one due soonest first; then acknowledged ones, newest first."""
    is_open = When(acknowledged_at__isnull=True, then=Value(0))
    return alerts.annotate(
        closed=Case(is_open, default=Value(1), output_field=IntegerField()),
        open_due=Case(When(acknowledged_at__isnull=True, then=F("due_at")), default=None, output_field=DateTimeField()),
    ).order_by("closed", "open_due", "-created_at", "-id")


@staff_required
def alert_list(request: HttpRequest) -> HttpResponse:
    """Red alerts on the students the user covers."""
    page = paginate(request, _ordered(selectors.alert_list(user=request.user)))
    audit_students(actor=request.user, action=Action.LIST, students=[a.student for a in page.object_list])
    lang, now = content_language(), timezone.now()
    rows = [_row(a, lang, now) for a in page.object_list]
    return render(request, "web/alerts/list.html", {"page": page, "rows": rows})


@staff_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One red alert: the student, their class, when it was raised, when contact is due, why."""
    alert = visible_or_404(request, selectors.alert_list(user=request.user).select_related("submission__assignment__campaign"), pk=pk)
    audit_students(actor=request.user, action=Action.READ, students=[alert.student])
    return render(request, "web/alerts/detail.html", _row(alert, content_language(), timezone.now()))
