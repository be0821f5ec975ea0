"""Referral pages, both sides (DESIGN.md §3 steps 9–11).

The school's side: from the case page, the consent to share and the referral (``case-consent``,
``case-refer``); the referral's page with its packet, timeline and the school's steps (send,
cancel). The hospital's side: the liaison's inbox (their home page) and the same referral page,
which for a liaison shows the packet only — never the student's name, number, class or guardian —
and the hospital's steps. Every read by a liaison is audited. Heads of centre record the school's
agreements; liaisons read their hospital's.

A referral out of the user's scope (a draft, to a liaison) answers 404. Each form posts to its own
address; accepted, it redirects (POST, redirect, GET); refused, the page is drawn again with the
service's messages on the form (400 bad input, 403 not this side's step, 409 the state does not
allow it). A form sent twice with the same request key records once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from screening.core.access import principal_of
from screening.core.audit import Action, audit_record, audit_students
from screening.core.errors import NotAllowed
from screening.directory.models import Hospital, School, Student
from screening.referrals import delivery, inbox, selectors, states
from screening.referrals.models import Referral
from screening.referrals.services import agreements as agreement_services
from screening.referrals.services import referrals as referral_services
from screening.web.alert_pages import rule_texts
from screening.web.campaign_forms import attempt, content_language, instrument_label
from screening.web.campaign_pages import staff_required
from screening.web.case_pages import _case, _render_case
from screening.web.referral_forms import (
    TIER_LABELS,
    AgreementForm,
    AttendanceForm,
    CancelForm,
    DeclineForm,
    KeyedForm,
    NoteForm,
    ReferralForm,
    ScheduleForm,
    SharingConsentForm,
    tier_labels,
)
from screening.web.scoped import admin_of, forbidden, school_admin_required, visible_or_404
from screening.web.student_file import band_label

S = Referral.State
GENDERS = dict(Student._meta.get_field("gender").choices or [])
KEPT_KEYS = 50
INBOX_SIZE = 200  # the newest; older ones stay on the hospital's side of the loop


def _first_time(request: HttpRequest, form: forms.Form) -> bool:
    """Has this form's request key not been used in this session yet? (Marks it used.)"""
    key = form.cleaned_data.get("request_key") if hasattr(form, "cleaned_data") else None
    if not key:
        return True
    used: list[str] = request.session.get("referral_keys", [])
    if key in used:
        return False
    request.session["referral_keys"] = [*used[-(KEPT_KEYS - 1):], key]
    return True


# --- the school's side: on the case ----------------------------------------------------------------


def _case_hospitals(request: HttpRequest, case: Any) -> Any:
    agreements = selectors.case_agreements(user=request.user, case=case)
    return Hospital.objects.visible_to(request.user).filter(pk__in=[a.hospital_id for a in agreements]).order_by("name")


@require_POST
@staff_required
def case_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the separate consent to share with a hospital (the guardian's under 14)."""
    case = _case(request, pk)
    form = SharingConsentForm(request.POST, hospitals=_case_hospitals(request, case))
    if form.is_valid() and not _first_time(request, form):
        return redirect(reverse("web:case", args=[case.pk]) + "#refer")
    refused = attempt(form, lambda: agreement_services.sharing_consent_record(
        actor=request.user, student=case.student, hospital=form.cleaned_data["hospital"],
        party=form.cleaned_data["party"], method=form.cleaned_data["method"], given_at=form.cleaned_data["given_at"],
        note=form.cleaned_data.get("note") or ""))
    if refused:
        return _render_case(request, case, status=refused, consent_form=form)
    messages.success(request, _("The consent to share was recorded."))
    return redirect(reverse("web:case", args=[case.pk]) + "#refer")


@require_POST
@staff_required
def case_refer(request: HttpRequest, pk: int) -> HttpResponse:
    """Draft a referral of the case to a hospital; its page follows, where it is sent."""
    case = _case(request, pk)
    hospitals = _case_hospitals(request, case)
    form = ReferralForm(request.POST, hospitals=hospitals,
                        consents=selectors.sharing_consents(user=request.user, student=case.student))
    if form.is_valid() and not _first_time(request, form):
        live = referral_services.live_referral(case.student_id)
        return redirect("web:referral", pk=live.pk) if live else redirect("web:case", pk=case.pk)
    made: list[Referral] = []

    def create() -> None:
        d = form.cleaned_data
        made.append(referral_services.referral_create(
            actor=request.user, case=case, hospital=d["hospital"], reason=d["reason"], basis=d["basis"],
            consent=d.get("consent"), emergency_justification=d.get("emergency_justification") or "",
            request_key=d.get("request_key") or ""))

    refused = attempt(form, create)
    if refused:
        return _render_case(request, case, status=refused, referral_form=form)
    messages.success(request, _("The referral was drafted. Check it, then send it to the hospital."))
    return redirect("web:referral", pk=made[0].pk)


# --- one referral, both sides ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A button on the referral page: the states it leads to, its form, and the service call."""

    targets: frozenset[str]
    form: type[forms.Form]
    call: Callable[[Any, Referral, dict[str, Any]], Any]
    label: Any


STEPS: dict[str, Step] = {
    "send": Step(frozenset({S.SENT}), KeyedForm,
                 lambda u, r, d: referral_services.referral_send(actor=u, referral=r), gettext_lazy("Send to the hospital")),
    "acknowledge": Step(frozenset({S.ACKNOWLEDGED}), NoteForm,
                        lambda u, r, d: referral_services.referral_acknowledge(actor=u, referral=r, note=d["note"]),
                        gettext_lazy("Acknowledge receipt")),
    "accept": Step(frozenset({S.ACCEPTED}), NoteForm,
                   lambda u, r, d: referral_services.referral_accept(actor=u, referral=r, note=d["note"]), gettext_lazy("Accept")),
    "decline": Step(frozenset({S.DECLINED}), DeclineForm,
                    lambda u, r, d: referral_services.referral_decline(actor=u, referral=r, reason=d["reason"],
                                                                       text=d.get("text") or ""), gettext_lazy("Decline")),
    "schedule": Step(frozenset({S.SCHEDULED}), ScheduleForm,
                     lambda u, r, d: referral_services.referral_schedule(actor=u, referral=r, at=d["at"], place=d["place"],
                                                                         bring=d.get("bring") or ""), gettext_lazy("Schedule")),
    "attendance": Step(frozenset({S.ATTENDED, S.NO_SHOW}), AttendanceForm,
                       lambda u, r, d: referral_services.referral_attendance(
                           actor=u, referral=r, attended=d["attended"], recommendation=d.get("recommendation") or "",
                           advice=d.get("advice") or ""), gettext_lazy("Record attendance")),
    "close": Step(frozenset({S.CLOSED}), NoteForm,
                  lambda u, r, d: referral_services.referral_close(actor=u, referral=r, note=d.get("note") or ""),
                  gettext_lazy("Close the referral")),
    "cancel": Step(frozenset({S.CANCELLED}), CancelForm,
                   lambda u, r, d: referral_services.referral_cancel(actor=u, referral=r, note=d["note"]),
                   gettext_lazy("Cancel the referral")),
}


def steps_for(state: str, side: str) -> list[str]:
    """The steps ``side`` may take on a referral in ``state`` (``states.moves_from``). The hospital
    may accept or decline a referral it has not acknowledged yet: the service acknowledges first."""
    targets = set(states.moves_from(state, side))
    if side == states.HOSPITAL and state == S.SENT:
        targets |= set(states.moves_from(S.ACKNOWLEDGED, side))
    return [name for name, step in STEPS.items() if step.targets & targets]


def _referral(request: HttpRequest, pk: int) -> Referral:
    return visible_or_404(request, inbox.referral_list(user=request.user).select_related("created_by"), pk=pk)


def _audit_read(request: HttpRequest, referral: Referral, side: str) -> None:
    if side == states.HOSPITAL:  # the liaison reads the packet: the public id, never the name
        audit_record(actor=request.user, action=Action.READ, object_type="referrals.Referral", object_id=referral.pk,
                     student_public_id=referral.student.public_id, school_id=referral.school_id)
    else:
        audit_students(actor=request.user, action=Action.READ, students=[referral.student])


def _packet_rows(packet: dict[str, Any], referral: Referral) -> dict[str, Any]:
    """The packet in the reader's words (tier, gender, the rules' texts, results with their bands),
    with the reason for the referral, which the hospital always reads."""
    lang = content_language()
    shown: dict[str, Any] = {**packet, "reason": referral.reason}
    if "tier" in packet:
        shown["tier_label"] = TIER_LABELS.get(packet["tier"], packet["tier"])
    if "gender" in packet:
        shown["gender"] = GENDERS.get(packet["gender"], packet["gender"])
    if "reasons" in packet:
        shown["rules"] = rule_texts(packet["reasons"], lang)
    if "results" in packet:
        shown["results"] = [{"name": instrument_label(r["instrument"], lang), "total": r.get("total"),
                             "band": band_label(r["instrument"], r.get("profile"), r["band"], lang) if r.get("band") else ""}
                            for r in packet["results"]]
    return shown


def _render_referral(request: HttpRequest, referral: Referral, *, status: int = 200,
                     bound: dict[str, forms.Form] | None = None) -> HttpResponse:
    side = selectors.referral_side(user=request.user, referral=referral)
    acting = selectors.acting_side(user=request.user, referral=referral)
    _audit_read(request, referral, side)
    bound = bound or {}
    steps = [{"name": name, "label": STEPS[name].label,
              "form": bound.get(name) or STEPS[name].form(**_form_kwargs(name))}
             for name in (steps_for(referral.state, acting) if acting else [])]
    now = timezone.now()
    due = inbox.referral_due(referral)
    context = {
        "referral": referral, "side": side, "hospital_side": side == states.HOSPITAL,
        "packet": _packet_rows(selectors.referral_packet(referral=referral), referral),
        "events": [{"event": e, "from": _state_label(e.from_state), "to": _state_label(e.to_state)}
                   for e in selectors.referral_events(user=request.user, referral=referral)],
        "steps": steps, "due": due, "overdue": due is not None and due <= now,
        "tier_label": TIER_LABELS.get(referral.tier, referral.tier),
        "given_up": delivery.given_up(referral) if acting == states.SCHOOL else 0,
    }
    return render(request, "web/referrals/detail.html", context, status=status)


def _state_label(state: str) -> str:
    try:
        return str(S(state).label)
    except ValueError:
        return state


def _form_kwargs(name: str) -> dict[str, Any]:
    return {"step": name} if STEPS[name].form in (NoteForm, CancelForm) else {}


@login_required
def referral_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One referral: state, packet, the timeline both sides read, and the user's side's steps."""
    return _render_referral(request, _referral(request, pk))


@require_POST
@login_required
def referral_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    """Take one step on a referral; the service decides whether this side may, in this state."""
    spec = STEPS.get(step)
    if spec is None:
        raise Http404
    referral = _referral(request, pk)
    form = spec.form(request.POST, **_form_kwargs(step))
    if form.is_valid() and not _first_time(request, form):
        return redirect("web:referral", pk=referral.pk)
    refused = attempt(form, lambda: spec.call(request.user, referral, form.cleaned_data))
    if refused:
        referral.refresh_from_db()
        return _render_referral(request, referral, status=refused, bound={step: form})
    referral.refresh_from_db()
    messages.success(request, _("The referral is now: %(state)s.") % {"state": referral.get_state_display()})
    return redirect("web:referral", pk=referral.pk)


@require_POST
@login_required
def referral_resend(request: HttpRequest, pk: int) -> HttpResponse:
    """Send again the pushes to the hospital's system that delivery gave up on."""
    referral = _referral(request, pk)
    try:
        count = delivery.outbox_resend(actor=request.user, referral=referral)
    except NotAllowed:
        return forbidden(request)
    messages.success(request, _("%(n)d message(s) will be sent to the hospital's system again.") % {"n": count})
    return redirect("web:referral", pk=referral.pk)


# --- the hospital's inbox ------------------------------------------------------------------------------


def liaison_home(request: HttpRequest) -> HttpResponse:
    """The liaison's home: referrals to their hospitals once sent, newest first, with the tier,
    state and the hospital's next time limit (overdue in red). Each row is audited by public id."""
    from screening.directory.selectors import hospital_list_own

    received = list(inbox.referral_inbox(user=request.user)[:INBOX_SIZE])
    audit_students(actor=request.user, action=Action.LIST, students=[r.student for r in received],
                   object_type="referrals.Referral")
    now = timezone.now()
    rows = []
    for r in received:
        due = inbox.referral_due(r)
        rows.append({"referral": r, "due": due, "overdue": due is not None and due <= now,
                     "tier_label": TIER_LABELS.get(r.tier, r.tier)})
    return render(request, "web/home_liaison.html", {"hospitals": hospital_list_own(user=request.user), "rows": rows})


# --- agreements ------------------------------------------------------------------------------------------


@login_required
def agreement_list(request: HttpRequest) -> HttpResponse:
    """The agreements the user may read, with their validity and a warning 30 days before one
    ends. Heads of centre change their school's; liaisons read their hospital's."""
    principal = principal_of(request.user)
    if not (principal.staff_school_ids or principal.hospital_ids):
        return forbidden(request)
    today = timezone.localdate()
    rows = [{"agreement": a, "validity": inbox.agreement_validity(a, today), "tiers": tier_labels(a.tiers),
             "can_edit": admin_of(request, a)} for a in inbox.agreement_list(user=request.user)]
    return render(request, "web/referrals/agreements.html",
                  {"rows": rows, "can_create": bool(principal.admin_school_ids)})


def _agreement_form(request: HttpRequest, agreement: Any = None) -> AgreementForm:
    principal = principal_of(request.user)
    schools = School.objects.visible_to(request.user).filter(pk__in=principal.admin_school_ids).order_by("name")
    hospitals = Hospital.objects.visible_to(request.user).order_by("name")
    data = request.POST if request.method == "POST" else None
    return AgreementForm(data, schools=schools, hospitals=hospitals, agreement=agreement)


def _agreement_save(request: HttpRequest, agreement: Any = None) -> HttpResponse:
    form = _agreement_form(request, agreement)
    status = 200
    if request.method == "POST":
        refused = attempt(form, lambda: agreement_services.agreement_save(actor=request.user,
                                                                           **form.service_arguments()))
        if not refused:
            messages.success(request, _("The agreement was saved."))
            return redirect("web:agreements")
        status = refused
    return render(request, "web/referrals/agreement_form.html", {"form": form, "agreement": agreement}, status=status)


@require_http_methods(["GET", "POST"])
@school_admin_required
def agreement_new(request: HttpRequest) -> HttpResponse:
    """Record an agreement the school signed with a hospital."""
    return _agreement_save(request)


@require_http_methods(["GET", "POST"])
@school_admin_required
def agreement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change an agreement of the head's school (the shared secret is never shown again)."""
    agreement = visible_or_404(request, inbox.agreement_list(user=request.user), pk=pk)
    if not admin_of(request, agreement):
        return forbidden(request)
    return _agreement_save(request, agreement)
