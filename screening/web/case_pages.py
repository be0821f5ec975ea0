"""The counsellor workspace: the queue of cases, one case (contacts, follow-up plans, status,
closing) and, for heads of centre, the escalations with the school's measures.

Staff who cover students use these pages (403 for everyone else); a case on a student the user
does not cover answers 404, as one that does not exist. Every student shown is audited. Each form
posts to its own address and, when the service accepts it, redirects back to the case (POST,
redirect, GET); when the service refuses, the case page is drawn again with the service's
messages on the form (400 for bad input, 409 for a state that does not allow it), never a 500.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from scoring.tiers import RISK_MODEL_RULE
from screening.campaigns.models import Campaign, Submission
from screening.cases import selectors
from screening.cases.models import Case, CaseEvent, CaseFlag, Contact, FollowUp
from screening.cases.services import work
from screening.core.audit import Action, audit_students
from screening.directory.selectors import class_list
from screening.referrals.models import Referral
from screening.web.alert_pages import alert_row, rule_texts
from screening.web.campaign_forms import attempt, content_language
from screening.web.campaign_pages import staff_required
from screening.web.case_forms import CloseForm, ContactForm, MoveForm, PlanForm, QueueFilterForm
from screening.web.referral_case import case_referral_context
from screening.web.risk_reasons import score_rows, tier_basis
from screening.web.scoped import paginate, visible_or_404

QUEUE_POLL = "30s"
PERIODS = (30, 90, 365)
DEFAULT_PERIOD = 90


# --- the queue ---------------------------------------------------------------------------------


def _queue_row(case: Case, now: dt.datetime, today: dt.date) -> dict[str, Any]:
    """What the queue says of a case: time to first contact while one is due, else the next
    follow-up (due today, missed, or planned), and whether a red alert is still open."""
    next_follow_up: dt.date | None = getattr(case, "next_follow_up", None)  # annotated by case_queue
    row: dict[str, Any] = {"case": case, "student": case.student, "open_alerts": getattr(case, "open_alerts", 0),
                           "due": case.first_contact_due_at, "next_follow_up": next_follow_up}
    if case.first_contact_due_at is not None:
        row["overdue"] = case.first_contact_due_at <= now
    elif next_follow_up is not None:
        row["follow_up_state"] = "missed" if next_follow_up < today else "due" if next_follow_up == today else "planned"
    return row


@staff_required
def case_queue(request: HttpRequest) -> HttpResponse:
    """The cases on the students the user covers, red first and then by time left, with filters
    and the count per tier. The page polls itself (htmx) and gets the list alone."""
    user = request.user
    campaigns = Campaign.objects.visible_to(user).exclude(status=Campaign.Status.DRAFT).order_by("-opens_at", "-id")
    form = QueueFilterForm(request.GET or None, classes=class_list(user=user), campaigns=campaigns)
    page = paginate(request, selectors.case_queue(user=user, **form.filters()))
    audit_students(actor=user, action=Action.LIST, students=[c.student for c in page.object_list])
    now, today = timezone.now(), timezone.localdate()
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form, "page": page, "rows": [_queue_row(c, now, today) for c in page.object_list],
        "counts": selectors.tier_counts(user=user), "poll": QUEUE_POLL, "query": request.GET.urlencode(),
        "filtered": any(v for k, v in query.items()),
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.boosted:
        return render(request, "web/cases/_queue.html", context)
    return render(request, "web/cases/queue.html", context)


# --- the timeline's words ------------------------------------------------------------------------


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def _when(value: Any) -> str:
    """An ISO date or time from an event's detail, as the reader's local day (and time)."""
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if parsed.tzinfo is None:
        return parsed.date().isoformat() if len(str(value)) <= 10 else parsed.strftime("%Y-%m-%d %H:%M")
    return timezone.localtime(parsed).strftime("%Y-%m-%d %H:%M")


def _minutes(detail: dict[str, Any]) -> str:
    return _("after %(minutes)s minutes") % {"minutes": detail.get("minutes", "?")}


def _plan_text(d: dict[str, Any]) -> str:
    return _("%(n)d follow-ups: %(dates)s") % {"n": len(d.get("dates", [])), "dates": ", ".join(d.get("dates", []))}


def _follow_up_done_text(d: dict[str, Any]) -> str:
    if d.get("on_time"):
        return _("due %(due)s, done on time") % {"due": _when(d.get("due"))}
    return _("due %(due)s, done late") % {"due": _when(d.get("due"))}


def _reopened_text(d: dict[str, Any]) -> str:
    return _("closed less than %(days)s days before") % {"days": d.get("within_days", "?")}


def _tier(d: dict[str, Any], key: str = "tier") -> str:
    return _label(Submission.Tier, d.get(key))


EVENT_TEXTS: dict[str, Callable[[dict[str, Any]], str]] = {
    CaseEvent.Kind.OPENED: lambda d: _("tier: %(tier)s") % {"tier": _tier(d)},
    CaseEvent.Kind.REOPENED: _reopened_text,
    CaseEvent.Kind.FLAGGED: lambda d: f"{_('tier: %(tier)s') % {'tier': _tier(d)}} · {_label(CaseFlag.Effect, d.get('effect'))}",
    CaseEvent.Kind.TIER_RAISED: lambda d: f"{_tier(d, 'from')} → {_tier(d, 'to')}",
    CaseEvent.Kind.ALERT_ACKNOWLEDGED: _minutes,
    CaseEvent.Kind.ALERT_ESCALATED_SCHOOL: _minutes,
    CaseEvent.Kind.ALERT_ESCALATED_HOSPITAL: _minutes,
    CaseEvent.Kind.PLAN: _plan_text,
    CaseEvent.Kind.FOLLOW_UP_DONE: _follow_up_done_text,
    CaseEvent.Kind.FOLLOW_UP_MISSED: lambda d: _("due %(due)s") % {"due": _when(d.get("due"))},
    CaseEvent.Kind.ESCALATED: lambda d: _("tier: %(tier)s, first contact was due %(due)s") % {
        "tier": _tier(d), "due": _when(d.get("due"))},
    CaseEvent.Kind.STATUS: lambda d: f"{_label(Case.Status, d.get('before'))} → {_label(Case.Status, d.get('after'))}",
    CaseEvent.Kind.CLOSED: lambda d: _label(Case.CloseReason, d.get("reason")),
}


def event_text(event: CaseEvent) -> str:
    """The event's detail in the reader's words: tiers, statuses, reasons and dates, never a note."""
    describe = EVENT_TEXTS.get(event.kind)
    return describe(event.detail or {}) if describe else ""


def timeline_rows(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timeline items (``selectors.student_timeline``) with the words of each event."""
    rows = []
    for item in items:
        if item["type"] == "event":
            item = {**item, "text": event_text(item["event"])}
        elif item["type"] == "referral":
            move = item["referral"]
            item = {**item, "from": _label(Referral.State, move.from_state) if move.from_state != move.to_state else "",
                    "to": _label(Referral.State, move.to_state)}
        rows.append(item)
    return rows


# --- one case ------------------------------------------------------------------------------------


def _case(request: HttpRequest, pk: int) -> Case:
    visible = selectors.case_list(user=request.user).select_related("student__school", "closed_by")
    return visible_or_404(request, visible, pk=pk)


def _pending(request: HttpRequest, case: Case) -> list[FollowUp]:
    """Follow-ups still to do (missed, then planned), earliest first: what a contact may fulfil."""
    return list(selectors.case_follow_ups(user=request.user, case=case)
                .filter(status__in=[FollowUp.Status.PLANNED, FollowUp.Status.MISSED]))


def _flags(request: HttpRequest, case: Case, lang: str) -> list[dict[str, Any]]:
    """The case's flags, newest first, each with the rules that set its tier and the risk model's
    estimates of its sitting (which features raised them)."""
    flags = (CaseFlag.objects.visible_to(request.user).filter(case=case)
             .select_related("submission__assignment__campaign", "risk_score__submission__assignment__campaign")
             .order_by("-at", "-id"))
    # A flag is a submission's own, or a risk score's (a re-score that raised the tier) on a submission.
    pairs = [(f, f.submission or (f.risk_score.submission if f.risk_score else None)) for f in flags]
    scores = score_rows(user=request.user, submissions=[s for _f, s in pairs if s is not None], lang=lang)
    rows = []
    for f, submission in pairs:
        found = scores.get(submission.pk, []) if submission else []
        # The model's fired rule says what its score row says; the row (with the tiers) is shown instead.
        rules = [r for r in submission.tier_rules if not found or r.get("id") != RISK_MODEL_RULE] if submission else []
        rows.append({"flag": f, "campaign": submission.assignment.campaign if submission else None,
                     "rules": rule_texts(rules, lang), "scores": found})
    return rows


def _render_case(request: HttpRequest, case: Case, *, status: int = 200, **bound: forms.Form) -> HttpResponse:
    """The case page, with any form the user just sent (and its errors) in place of a fresh one."""
    user = request.user
    audit_students(actor=user, action=Action.READ, students=[case.student])
    lang, now = content_language(), timezone.now()
    pending = _pending(request, case)
    alerts = [alert_row(a, lang, now) for a in selectors.case_alerts(user=user, case=case)]
    context = {
        "case": case, "student": case.student, "flags": _flags(request, case, lang), "alerts": alerts,
        "open_alerts": [a for a in alerts if a["open"]], "acknowledged_alerts": [a for a in alerts if not a["open"]],
        "follow_ups": selectors.case_follow_ups(user=user, case=case),
        "timeline": timeline_rows(selectors.student_timeline(user=user, student=case.student, case=case)),
        "overdue": case.first_contact_due_at is not None and case.first_contact_due_at <= now,
        "next_follow_up": next((f for f in pending if f.status == FollowUp.Status.PLANNED), None),
        "missed": [f for f in pending if f.status == FollowUp.Status.MISSED],
        "here": reverse("web:case", args=[case.pk]),
        "basis": tier_basis(user=user, school=case.student.school),
        **case_referral_context(request, case, bound),
    }
    if not case.is_open:  # its forms are not shown: a refusal (the case was closed meanwhile) goes on top
        context["refusals"] = [e for form in bound.values() for e in form.non_field_errors()]
    else:
        context |= {
            "contact_form": bound.get("contact_form") or ContactForm(pending=pending),
            "plan_form": bound.get("plan_form") or PlanForm(suggested=work.follow_up_suggest(case=case)),
            "close_form": bound.get("close_form") or CloseForm(),
            "move_error": bound.get("move_form") and bound["move_form"].non_field_errors(),
            "has_plan": any(f.status == FollowUp.Status.PLANNED for f in pending),
        }
    return render(request, "web/cases/detail.html", context, status=status)


@staff_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One case: the student, tier, status and limits, open red alerts, the forms, the follow-ups
    and the timeline. The escalation e-mails link here."""
    return _render_case(request, _case(request, pk))


@require_POST
@staff_required
def case_contact(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a contact. Sent twice with the same request key, it is recorded once."""
    case = _case(request, pk)
    form = ContactForm(request.POST, pending=_pending(request, case))
    refused = attempt(form, lambda: work.contact_record(actor=request.user, case=case, **form.service_arguments()))
    if refused:
        return _render_case(request, case, status=refused, contact_form=form)
    kind = form.cleaned_data["kind"]
    messages.success(request, _("The guardian communication was recorded.") if kind == Contact.Kind.GUARDIAN
                     else _("The contact was recorded."))
    return redirect(reverse("web:case", args=[case.pk]) + "#timeline")


@require_POST
@staff_required
def case_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """Save a follow-up plan: the suggested days as the user left them."""
    case = _case(request, pk)
    form = PlanForm(request.POST)
    refused = attempt(form, lambda: work.follow_up_plan_create(
        actor=request.user, case=case, dates=form.dates(), request_key=form.cleaned_data["request_key"]))
    if refused:
        return _render_case(request, case, status=refused, plan_form=form)
    messages.success(request, _("The follow-up plan was saved."))
    return redirect(reverse("web:case", args=[case.pk]) + "#follow-ups")


@require_POST
@staff_required
def case_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move the case between in contact and monitoring."""
    case = _case(request, pk)
    form = MoveForm(request.POST)
    refused = attempt(form, lambda: work.case_move(actor=request.user, case=case, status=form.cleaned_data["status"]))
    if refused:
        if not form.non_field_errors():
            form.add_error(None, _("Choose in contact or monitoring."))
        return _render_case(request, case, status=refused, move_form=form)
    messages.success(request, _("The case is now: %(status)s.") % {"status": _label(Case.Status, form.cleaned_data["status"])})
    return redirect("web:case", pk=case.pk)


@require_POST
@staff_required
def case_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close the case with a reason (refused while a red alert on it is unacknowledged)."""
    case = _case(request, pk)
    form = CloseForm(request.POST)
    refused = attempt(form, lambda: work.case_close(
        actor=request.user, case=case, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"]))
    if refused:
        return _render_case(request, case, status=refused, close_form=form)
    messages.success(request, _("The case was closed."))
    return redirect("web:case", pk=case.pk)


# --- escalations and measures ----------------------------------------------------------------------


def _percent(share: float | None) -> int | None:
    return None if share is None else round(100 * share)


def _measures(user: Any, since: dt.datetime) -> dict[str, Any]:
    """The school's measures over the period, as the reports count them."""
    first = selectors.first_contact_measures(user=user, since=since)
    interviews = selectors.interview_rate(user=user, since=since)
    adherence = selectors.follow_up_adherence(user=user, since=timezone.localtime(since).date())
    alerts = selectors.alert_acknowledgement(user=user, since=since)
    return {
        "first_contact": [{"m": m, "percent": _percent(m.share_within)} for m in first],
        "interviews": {**interviews, "percent": _percent(interviews["rate"])},
        "adherence": {**adherence, "percent": _percent(adherence["rate"])},
        "alerts": {**alerts, "percent": _percent(alerts["share_within"])},  # within ÷ decided, as defined
    }


def _period(request: HttpRequest) -> int:
    raw = request.GET.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in PERIODS else DEFAULT_PERIOD


def _escalations(user: Any, since: dt.datetime) -> QuerySet[CaseEvent]:
    return selectors.escalation_list(user=user).filter(at__gte=since).select_related("case__school")


@staff_required
def escalations(request: HttpRequest) -> HttpResponse:
    """Escalations of the period (90 days unless chosen) on the cases the user sees, newest
    first, and the measures: time to first contact per tier, interview rate, follow-up adherence
    and red-alert acknowledgement. Mainly for heads of centre; counsellors see their own share."""
    days = _period(request)
    since = timezone.now() - dt.timedelta(days=days)
    page = paginate(request, _escalations(request.user, since))
    audit_students(actor=request.user, action=Action.LIST, students=[e.case.student for e in page.object_list])
    rows = [{"event": e, "case": e.case, "student": e.case.student, "text": event_text(e),
             "recipients": len((e.detail or {}).get("to", []))} for e in page.object_list]
    context = {"page": page, "rows": rows, "days": days, "periods": PERIODS, "since": since,
               **_measures(request.user, since)}
    return render(request, "web/cases/escalations.html", context)
