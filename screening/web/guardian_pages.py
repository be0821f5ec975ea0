"""The guardian's page, opened from a signed link without signing in.

It shows what the screening is, who sees the results, how long they are kept and how to refuse
or withdraw, in zh-Hans or en, with buttons that record the guardian's decision against the exact
text shown (its SHA-256 travels in the form). It names the school, the screening and the class,
never the student and never an answer. A forged or revoked link is a 404; an expired one a 410
that says to ask the school for a new link. No JavaScript needed.

Where the campaign asks it, the page also carries the separate, optional question about research
use without names: an unticked checkbox beside "I consent" the first time, and afterwards a small
form of its own (also for a guardian who is only told), where a yes can be withdrawn.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from screening.campaigns.models import Assignment, ConsentRecord, GuardianInvitation
from screening.campaigns.services.consent import (
    LinkExpired,
    consent_text,
    guardian_decide,
    guardian_invitation_for_token,
    guardian_research_decide,
    research_decision,
    research_text,
)
from screening.core.errors import DomainError, NotFound

Decision = ConsentRecord.Decision


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)


def _choices(invitation: GuardianInvitation) -> list[dict[str, Any]]:
    """The buttons this guardian has now, the first one the main one."""
    assignment = invitation.assignment
    state = assignment.guardian
    notice = invitation.purpose == GuardianInvitation.Purpose.NOTICE
    if state == Assignment.Guardian.GRANTED:
        return [{"decision": Decision.WITHDRAWN, "label": _("Withdraw consent")}]
    if state in (Assignment.Guardian.REFUSED, Assignment.Guardian.WITHDRAWN):
        if assignment.status in (Assignment.Status.SUBMITTED, Assignment.Status.MISSED):
            return []
        label = _("Withdraw my objection") if notice and state == Assignment.Guardian.REFUSED else _("I consent after all")
        return [{"decision": Decision.GRANTED, "label": label}]
    if assignment.status == Assignment.Status.MISSED:
        return []
    if notice:
        return [{"decision": Decision.REFUSED, "label": _("I object: my child should not take part")}]
    return [
        {"decision": Decision.GRANTED, "label": _("I consent")},
        {"decision": Decision.REFUSED, "label": _("I do not consent")},
    ]


def _research(invitation: GuardianInvitation, choices: list[dict[str, Any]], language: str) -> dict[str, Any] | None:
    """The research question on this page: where it goes (``in_form``: a checkbox beside "I
    consent", the first time; else a form of its own) and the guardian's answer so far."""
    assignment = invitation.assignment
    if not assignment.campaign.asks_research_use:
        return None
    state = research_decision(assignment, ConsentRecord.Party.GUARDIAN)
    in_form = state is None and any(c["decision"] == Decision.GRANTED for c in choices)
    # A yes can always be withdrawn; a new yes needs the screening not to be refused.
    may_agree = assignment.guardian not in (Assignment.Guardian.REFUSED, Assignment.Guardian.WITHDRAWN)
    return {"state": state, "in_form": in_form, "own_form": not in_form and (state == Decision.GRANTED or may_agree),
            "text": research_text(party="guardian", assignment=assignment, language=language)}


def _page(request: HttpRequest, token: str, invitation: GuardianInvitation, *, error: Any = None,
          status: int = 200) -> HttpResponse:
    assignment = invitation.assignment
    language = _language(request)
    text = consent_text(party="guardian", assignment=assignment, language=language)
    choices = _choices(invitation)
    return render(request, "web/guardian/consent.html", {
        "token": token, "invitation": invitation, "notice": invitation.purpose == GuardianInvitation.Purpose.NOTICE,
        "campaign": assignment.campaign, "school": assignment.campaign.school,
        "class_name": assignment.student.school_class.name, "state": assignment.guardian,
        "text": text, "language": language, "choices": choices, "error": error,
        "research": _research(invitation, choices, language),
    }, status=status)


def _with_language(request: HttpRequest, language: str) -> HttpResponse:
    """``?lang=en``: remember the language and show the link's own address, so that the layout's
    language switch (which returns to the current address) keeps working afterwards."""
    response = redirect(request.path)
    if language in dict(settings.LANGUAGES):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
                            samesite="Lax", secure=request.is_secure())
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def guardian_consent(request: HttpRequest, token: str) -> HttpResponse:
    """Show the text and record the guardian's decision (consent, refuse, withdraw)."""
    if request.method == "GET" and "lang" in request.GET:
        return _with_language(request, request.GET["lang"])
    try:
        invitation = guardian_invitation_for_token(token)
    except LinkExpired:
        return render(request, "web/guardian/expired.html", status=410)
    except NotFound:
        return render(request, "web/guardian/invalid.html", status=404)
    if request.method == "GET":
        return _page(request, token, invitation)
    shown = request.POST.get("language", "")
    language = shown if shown in dict(settings.LANGUAGES) else _language(request)
    decision = request.POST.get("decision", "")
    # The research checkbox: ticked is a yes, unticked a no, absent (not shown) no answer at all.
    research = request.POST.get("research") == "yes" if request.POST.get("research_asked") else None
    research_sha256 = request.POST.get("research_sha256", "")
    try:
        if request.POST.get("research_only"):
            guardian_research_decide(invitation=invitation, agree=bool(research), language=language,
                                     text_sha256=research_sha256)
        else:
            guardian_decide(invitation=invitation, decision=decision, language=language,
                            text_sha256=request.POST.get("sha256", ""), research=research,
                            research_sha256=research_sha256)
    except DomainError as exc:
        invitation.assignment.refresh_from_db()
        return _page(request, token, invitation, error=exc.message, status=exc.status)
    return redirect(request.path)
