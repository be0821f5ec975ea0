"""Red alerts for the staff who cover the student: the list (open first, most urgent first) and
one alert, which the alert e-mail links to. Every student shown is audited; an alert on a student
the user does not cover answers 404. Both show who acknowledged an alert and when, how far it was
escalated, and the case it belongs to; an open alert has its Acknowledge button (a POST that
acknowledges once: pressing it again changes nothing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Case, DateTimeField, F, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from screening.campaigns import selectors
from screening.campaigns.models import CrisisAlert
from screening.cases.services import work
from screening.core.audit import Action, audit_students
from screening.core.errors import NotFound
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


def case_of(alert: CrisisAlert) -> Any:
    """The case the alert's submission flagged (None for an alert raised before cases existed)."""
    try:
        return alert.submission.case_flag.case
    except ObjectDoesNotExist:
        return None


def alert_row(alert: CrisisAlert, lang: str, now: dt.datetime) -> dict[str, Any]:
    """What the pages say of an alert: why, whether it is open and overdue, who acknowledged it,
    how far it was escalated and its case."""
    is_open = alert.acknowledged_at is None
    ack_due = alert.acknowledge_due_at
    return {
        "alert": alert, "student": alert.student, "rules": rule_texts(alert.rules, lang),
        "open": is_open, "overdue": is_open and alert.due_at <= now,
        "ack_overdue": is_open and ack_due is not None and ack_due <= now,
        "escalated": bool(alert.escalated_school_at or alert.escalated_hospital_at), "case": case_of(alert),
    }


def _alerts(request: HttpRequest) -> QuerySet[CrisisAlert]:
    return selectors.alert_list(user=request.user).select_related("acknowledged_by", "submission__case_flag__case")


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
    page = paginate(request, _ordered(_alerts(request)))
    audit_students(actor=request.user, action=Action.LIST, students=[a.student for a in page.object_list])
    lang, now = content_language(), timezone.now()
    rows = [alert_row(a, lang, now) for a in page.object_list]
    return render(request, "web/alerts/list.html", {"page": page, "rows": rows})


@staff_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One red alert: the student, their class, when it was raised, when contact is due, why, its
    acknowledgement and escalation, and its case."""
    alert = visible_or_404(request, _alerts(request).select_related("submission__assignment__campaign"), pk=pk)
    audit_students(actor=request.user, action=Action.READ, students=[alert.student])
    row = alert_row(alert, content_language(), timezone.now())
    return render(request, "web/alerts/detail.html", {**row, "row": row})


def _back(request: HttpRequest, fallback: str) -> str:
    """Where the Acknowledge button was pressed (the list, the alert, the case), if it is ours."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


@require_POST
@staff_required
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge a red alert: the user has seen it and is acting on it; its escalation stops.
    The first acknowledgement stands; pressing the button again says who acknowledged it."""
    alert = visible_or_404(request, _alerts(request), pk=pk)
    try:
        done = work.alert_acknowledge(actor=request.user, alert=alert)
    except NotFound as exc:
        raise Http404 from exc
    if alert.acknowledged_at is None and done.acknowledged_by_id == request.user.pk:
        messages.success(request, _("You acknowledged the red alert. Contact the student now."))
    else:
        who = done.acknowledged_by.get_username() if done.acknowledged_by else "—"
        messages.info(request, _("This red alert was already acknowledged by %(who)s at %(when)s.") % {
            "who": who, "when": timezone.localtime(done.acknowledged_at).strftime("%Y-%m-%d %H:%M")})
    return redirect(_back(request, reverse("web:alert", args=[alert.pk])))
