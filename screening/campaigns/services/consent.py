"""Consent: guardian links, paper consent, the student's own consent, withdrawal and reminders.

Who must consent is decided in :mod:`screening.campaigns.rules`. Every decision is one
append-only ConsentRecord (who, when, how, which text: version and SHA-256 of exactly what was
shown, in which language) and the assignment's ``guardian`` / ``student_consent`` mirror the
latest one, in the same transaction. A guardian answers through a signed link that expires (never
after the campaign closes); a counsellor may instead record a paper form with a note. A refusal
or a withdrawal stops the student from being screened; a withdrawal after a submission is
recorded and shown to the counsellor (the case workflow respects it).

Where the campaign ``asks_research_use``, each party may also answer a separate, optional question:
may the answers be used for research without names. Its records carry ``purpose=research``, never
touch the assignment's mirror and never decide whether a student may be screened; who must agree
is :func:`screening.campaigns.rules.research_use_covered`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from screening.campaigns import rules
from screening.campaigns.models import Assignment, Campaign, ConsentRecord, GuardianInvitation
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound

TEXT_VERSION = "2026-11"  # bump whenever the consent templates' wording changes
RESEARCH_TEXT_VERSION = "2026-11-research"  # bump whenever consent_research.html's wording changes
LINK_SALT = "xinqiao.guardian-link"
Decision = ConsentRecord.Decision
Purpose = ConsentRecord.Purpose


# --- the text shown ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentText:
    party: str
    language: str
    version: str
    html: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.html.encode()).hexdigest()


def consent_text(*, party: str, assignment: Assignment, language: str) -> ConsentText:
    """The consent text for a party, rendered in a language: what is asked, who sees the results,
    how long they are kept, and how to refuse or withdraw. Its hash is what records keep."""
    campaign = assignment.campaign
    school = campaign.school
    with override(language):
        html = render_to_string(f"campaigns/consent_{party}.html", {
            "campaign": campaign, "school": school, "instruments": _instrument_names(campaign, language),
            "role": rules.guardian_role(assignment).value, "sees_results": campaign.students_see_results,
            "retention_years": settings.XINQIAO_RETENTION_YEARS,
        }).strip()
    return ConsentText(party=party, language=language, version=TEXT_VERSION, html=html)


def research_text(*, party: str, assignment: Assignment, language: str) -> ConsentText:
    """The separate question about research use, for a party, in a language (its own version and
    hash: answering it never changes the screening consent's text)."""
    with override(language):
        html = render_to_string("campaigns/consent_research.html", {
            "party": party, "campaign": assignment.campaign, "school": assignment.campaign.school,
        }).strip()
    return ConsentText(party=party, language=language, version=RESEARCH_TEXT_VERSION, html=html)


def _instrument_names(campaign: Campaign, language: str) -> list[str]:
    import scoring

    lang = "en" if language.startswith("en") else "zh-hans"
    return [scoring.instrument(code).name.get(lang, code) for code in campaign.instruments]


def _check_text(shown_sha256: str, text: ConsentText) -> None:
    """The client says which text it showed; a stale page must not record consent to new words."""
    if shown_sha256 and shown_sha256 != text.sha256:
        raise Conflict(_("The consent text has changed since it was shown. Please read it again."), code="consent_text_changed")


def _record(assignment: Assignment, *, party: str, decision: str, method: str, text: ConsentText | None,
            language: str, recorded_by: Any = None, note: str = "", by: str = "",
            purpose: str = Purpose.SCREENING) -> ConsentRecord:
    """Append the record, mirror it on the assignment (screening only), audit it. ``by`` names an
    actor without an account (the guardian, the student's link, the system) for the audit log."""
    record = ConsentRecord.objects.create(
        assignment=assignment, party=party, purpose=purpose, decision=decision, method=method,
        text_version=text.version if text else TEXT_VERSION, text_sha256=text.sha256 if text else "",
        language=language, recorded_by=recorded_by, note=note,
    )
    # The mirror says whether the student may be screened; a research answer never changes that.
    if purpose == Purpose.SCREENING:
        mirror = "guardian" if party == ConsentRecord.Party.GUARDIAN else "student_consent"
        setattr(assignment, mirror, decision)
        assignment.save(update_fields=[mirror])
    audit_record(actor=recorded_by, action=Action.CREATE, object_type="campaigns.ConsentRecord", object_id=record.pk,
                 student_public_id=assignment.student.public_id, school_id=assignment.student.school_id,
                 detail={"party": party, "decision": decision, "method": method, "purpose": purpose},
                 actor_username=None if recorded_by else (by or party))
    return record


def _is_own(actor: Any, assignment: Assignment) -> bool:
    from screening.campaigns.services.answering import is_own

    return is_own(actor, assignment)


def _locked(assignment: Assignment) -> Assignment:
    return (Assignment.objects.select_for_update(of=("self",)).select_related("campaign__school", "student")
            .get(pk=assignment.pk))


# --- research use (a separate, optional question) -----------------------------------------------


def research_decision(assignment: Assignment, party: str) -> str | None:
    """The party's latest answer about research use on this assignment (None: never answered)."""
    return (ConsentRecord.objects.filter(assignment=assignment, purpose=Purpose.RESEARCH, party=party)
            .order_by("-at", "-id").values_list("decision", flat=True).first())


def _research_not_asked() -> Conflict:
    return Conflict(_("This screening does not ask about research use."), code="research_not_asked")


def _record_research(locked: Assignment, *, party: str, agree: bool, method: str, language: str,
                     text_sha256: str = "", recorded_by: Any = None) -> ConsentRecord | None:
    """Record a party's answer about research use, inside the caller's transaction. Yes is
    *granted*; no is *withdrawn* after a yes, else *refused*. An answer that changes nothing
    (yes again, no again) writes nothing and returns None."""
    if not locked.campaign.asks_research_use:
        raise _research_not_asked()
    current = research_decision(locked, party)
    if agree:
        decision = None if current == Decision.GRANTED else Decision.GRANTED
    else:
        decision = Decision.WITHDRAWN if current == Decision.GRANTED else (Decision.REFUSED if current is None else None)
    if decision is None:
        return None
    text = research_text(party=party, assignment=locked, language=language)
    if agree:
        _check_text(text_sha256, text)
    return _record(locked, party=party, decision=decision, method=method, text=text, language=language,
                   recorded_by=recorded_by, purpose=Purpose.RESEARCH)


def student_research_consent(*, actor: Any, assignment: Assignment, agree: bool, language: str,
                             text_sha256: str = "") -> Assignment:
    """The student answers the research question on its own (also after submitting): yes once they
    have agreed to take part; no (a refusal, or withdrawing an earlier yes) at any time."""
    if not _is_own(actor, assignment):
        raise NotAllowed(_("Only the student can give their own consent."))
    with transaction.atomic():
        locked = _locked(assignment)
        if agree and locked.student_consent != Decision.GRANTED:
            from screening.campaigns.services.answering import refuse

            raise refuse(rules.Blocker.STUDENT_CONSENT)
        _record_research(locked, party=ConsentRecord.Party.STUDENT, agree=agree, method=ConsentRecord.Method.IN_APP,
                         language=language, text_sha256=text_sha256)
    return locked


# --- the student's own consent -----------------------------------------------------------------


def student_consent_give(*, actor: Any, assignment: Assignment, agree: bool, language: str,
                         text_sha256: str = "", research: bool | None = None,
                         research_sha256: str = "") -> Assignment:
    """The student agrees (or declines) on the first page. Agreeing again changes nothing.
    ``research`` is the answer to the separate research question asked beside it (None: not
    asked); it counts only with a yes to taking part, and only where the campaign asks it."""
    if not _is_own(actor, assignment):
        raise NotAllowed(_("Only the student can give their own consent."))
    with transaction.atomic():
        locked = _locked(assignment)
        # Declining is always possible; agreeing waits for the guardian's part where it is needed.
        blocker = rules.may_give_own_consent(locked) if agree else rules.window_blocker(locked)
        if blocker is not None:
            from screening.campaigns.services.answering import refuse

            raise refuse(blocker)
        decision = Decision.GRANTED if agree else Decision.REFUSED
        if locked.student_consent != decision:
            text = consent_text(party="student", assignment=locked, language=language)
            _check_text(text_sha256, text)
            _record(locked, party=ConsentRecord.Party.STUDENT, decision=decision,
                    method=ConsentRecord.Method.IN_APP, text=text, language=language)
        if agree and research is not None and locked.campaign.asks_research_use:
            _record_research(locked, party=ConsentRecord.Party.STUDENT, agree=research,
                             method=ConsentRecord.Method.IN_APP, language=language, text_sha256=research_sha256)
    return locked


def student_consent_withdraw(*, actor: Any, assignment: Assignment, language: str) -> Assignment:
    """The student withdraws: no further answering; a submission already made is kept and marked."""
    if not _is_own(actor, assignment):
        raise NotAllowed(_("Only the student can withdraw their own consent."))
    with transaction.atomic():
        locked = _locked(assignment)
        if locked.student_consent != Decision.GRANTED:
            return locked
        _record(locked, party=ConsentRecord.Party.STUDENT, decision=Decision.WITHDRAWN,
                method=ConsentRecord.Method.IN_APP, text=None, language=language)
    return locked


# --- paper consent ------------------------------------------------------------------------------

PAPER_DECISIONS = (Decision.GRANTED, Decision.REFUSED, Decision.WITHDRAWN)


def paper_consent_record(*, actor: Any, assignment: Assignment, decision: str, note: str,
                         language: str = "zh-hans", purpose: str = Purpose.SCREENING) -> ConsentRecord:
    """A counsellor records a guardian's signed paper form (or a refusal or withdrawal on paper).
    The note (e.g. where the form is filed) is required and encrypted at rest. With
    ``purpose="research"`` it records the guardian's answer about research use instead (the way
    to withdraw it once the link has expired)."""
    fields: dict[str, list[Any]] = {}
    if decision not in PAPER_DECISIONS:
        fields["decision"] = [gettext_lazy("Choose consented, refused or withdrew.")]
    if purpose not in Purpose.values:
        fields["purpose"] = [gettext_lazy("Choose screening or research use.")]
    if not (note or "").strip():
        fields["note"] = [gettext_lazy("Say where the signed form is kept, or how it was given.")]
    if fields:
        raise InvalidInput(fields=fields)
    if purpose == Purpose.RESEARCH:
        return _paper_research_record(actor=actor, assignment=assignment, decision=decision, note=note.strip(),
                                      language=language)
    with transaction.atomic():
        locked = _locked(assignment)
        if locked.status == Assignment.Status.SUBMITTED and decision == Decision.GRANTED:
            raise Conflict(_("This student has already submitted."), code="already_submitted")
        text = consent_text(party="guardian", assignment=locked, language=language)
        record = _record(locked, party=ConsentRecord.Party.GUARDIAN, decision=decision,
                         method=ConsentRecord.Method.PAPER, text=text, language=language, recorded_by=actor,
                         note=note.strip())
        GuardianInvitation.objects.filter(assignment=locked, answered_at__isnull=True).update(answered_at=timezone.now())
    return record


def _paper_research_record(*, actor: Any, assignment: Assignment, decision: str, note: str,
                           language: str) -> ConsentRecord:
    with transaction.atomic():
        locked = _locked(assignment)
        if not locked.campaign.asks_research_use:
            raise _research_not_asked()
        if decision == Decision.WITHDRAWN and research_decision(locked, ConsentRecord.Party.GUARDIAN) != Decision.GRANTED:
            raise Conflict(_("There is no consent to withdraw."), code="nothing_to_withdraw")
        return _record(locked, party=ConsentRecord.Party.GUARDIAN, decision=decision, method=ConsentRecord.Method.PAPER,
                       text=research_text(party="guardian", assignment=locked, language=language), language=language,
                       recorded_by=actor, note=note, purpose=Purpose.RESEARCH)


# --- guardian links -----------------------------------------------------------------------------


class GuardianChannel(Protocol):
    """How a link reaches a guardian. E-mail now; SMS or WeChat later, behind the same call."""

    def address(self, assignment: Assignment) -> str: ...

    def send(self, *, to: str, subject: str, body: str) -> None: ...


class EmailChannel:
    def address(self, assignment: Assignment) -> str:
        return (assignment.student.guardian_email or "").strip()

    def send(self, *, to: str, subject: str, body: str) -> None:
        send_mail(subject, body, None, [to])


CHANNELS: dict[str, GuardianChannel] = {"email": EmailChannel()}


def guardian_token(invitation: GuardianInvitation) -> str:
    """The signed part of a guardian's link: the invitation and its current nonce."""
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=LINK_SALT, compress=True)


def guardian_link(invitation: GuardianInvitation) -> str:
    return settings.XINQIAO_PUBLIC_URL + reverse("web:guardian-consent", args=[guardian_token(invitation)])


class LinkExpired(Conflict):
    status = 410
    code = "link_expired"
    default_message = gettext_lazy("This link has expired. Please ask the school for a new one.")


def guardian_invitation_for_token(token: str, *, now: dt.datetime | None = None) -> GuardianInvitation:
    """The invitation a link names. A forged, altered or revoked link is 404; an expired one 410."""
    now = now or timezone.now()
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=dt.timedelta(days=settings.XINQIAO_GUARDIAN_LINK_DAYS + 30))
    except signing.SignatureExpired:
        raise LinkExpired() from None
    except signing.BadSignature:
        raise NotFound() from None
    invitation = (GuardianInvitation.objects.select_related("assignment__campaign__school", "assignment__student")
                  .filter(pk=data.get("i"), nonce=data.get("n")).first())
    if invitation is None:
        raise NotFound()
    if now >= invitation.expires_at:
        raise LinkExpired()
    return invitation


def _expiry(campaign: Campaign, now: dt.datetime) -> dt.datetime:
    return min(campaign.closes_at, now + dt.timedelta(days=settings.XINQIAO_GUARDIAN_LINK_DAYS))


def _send(invitation: GuardianInvitation, *, reminder: bool) -> None:
    assignment = invitation.assignment
    channel = CHANNELS[invitation.channel]
    to = channel.address(assignment)
    if not to:
        return
    with override(settings.LANGUAGE_CODE):
        school = assignment.campaign.school.name
        if invitation.purpose == GuardianInvitation.Purpose.CONSENT:
            subject = (_("Reminder: %(school)s asks for your consent to a wellbeing screening") if reminder
                       else _("%(school)s asks for your consent to a wellbeing screening")) % {"school": school}
        else:
            subject = _("%(school)s: a wellbeing screening for your child") % {"school": school}
        body = render_to_string("campaigns/guardian_email.txt", {
            "school": school, "purpose": invitation.purpose, "link": guardian_link(invitation),
            "expires_at": invitation.expires_at, "reminder": reminder,
        })
    channel.send(to=to, subject=subject, body=body)


def guardian_invite(*, actor: Any, assignment: Assignment, channel: str = "email",
                    now: dt.datetime | None = None) -> GuardianInvitation | None:
    """Ask the guardian (consent) or tell them (notice), once per assignment; sending again
    issues a fresh link and revokes the old one. None when no guardian is involved or the school
    has no address for them (then a paper consent is the way)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(assignment)
        role = rules.guardian_role(locked)
        if role is rules.GuardianRole.NONE or locked.status in (Assignment.Status.SUBMITTED, Assignment.Status.MISSED):
            return None
        if locked.guardian in (Decision.GRANTED, Decision.REFUSED, Decision.WITHDRAWN):
            return None  # already answered: nothing to ask
        if not CHANNELS[channel].address(locked):
            return None
        purpose = GuardianInvitation.Purpose.CONSENT if role is rules.GuardianRole.CONSENT else GuardianInvitation.Purpose.NOTICE
        invitation, _created = GuardianInvitation.objects.update_or_create(
            assignment=locked,
            defaults={"purpose": purpose, "channel": channel, "nonce": secrets.token_hex(8), "sent_at": now,
                      "last_sent_at": now, "expires_at": _expiry(locked.campaign, now), "reminders_sent": 0,
                      "answered_at": None},
        )
        invitation.assignment = locked
        if purpose == GuardianInvitation.Purpose.CONSENT:
            if locked.guardian != Assignment.Guardian.ASKED:
                locked.guardian = Assignment.Guardian.ASKED
                locked.save(update_fields=["guardian"])
        else:
            _record(locked, party=ConsentRecord.Party.GUARDIAN, decision=Decision.NOTIFIED,
                    method=ConsentRecord.Method.EMAIL, language=settings.LANGUAGE_CODE, recorded_by=actor, by="system",
                    text=consent_text(party="guardian", assignment=locked, language=settings.LANGUAGE_CODE))
        transaction.on_commit(lambda: _send(invitation, reminder=False))
    return invitation


def campaign_guardians_invite(*, actor: Any, campaign: Campaign) -> int:
    """Invite every guardian of the campaign who has not been asked yet. Returns how many."""
    sent = 0
    waiting = (Assignment.objects.filter(campaign=campaign, guardian=Assignment.Guardian.NOT_ASKED,
                                         status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS])
               .select_related("campaign__school", "student"))
    for assignment in waiting:
        if guardian_invite(actor=actor, assignment=assignment) is not None:
            sent += 1
    return sent


def guardian_decide(*, invitation: GuardianInvitation, decision: str, language: str,
                    text_sha256: str = "", research: bool | None = None, research_sha256: str = "") -> ConsentRecord:
    """A guardian answers through their link: consent, refuse, or withdraw an earlier consent.
    ``research`` is the answer to the separate research question asked beside a consent (None:
    not asked); it counts only with a consent, and only where the campaign asks it."""
    if decision not in PAPER_DECISIONS:
        raise InvalidInput(fields={"decision": [gettext_lazy("Choose consent, refuse or withdraw.")]})
    with transaction.atomic():
        locked = _locked(invitation.assignment)
        current = locked.guardian
        if decision == Decision.WITHDRAWN and current != Decision.GRANTED:
            raise Conflict(_("There is no consent to withdraw."), code="nothing_to_withdraw")
        if decision == Decision.GRANTED and current == Decision.GRANTED:
            return locked.consents.filter(party=ConsentRecord.Party.GUARDIAN,  # type: ignore[return-value]
                                          purpose=Purpose.SCREENING).last()
        if decision == Decision.GRANTED and locked.status == Assignment.Status.MISSED:
            raise Conflict(_("This screening has closed."), code="campaign_closed")
        text = consent_text(party="guardian", assignment=locked, language=language)
        _check_text(text_sha256, text)
        record = _record(locked, party=ConsentRecord.Party.GUARDIAN, decision=decision,
                         method=ConsentRecord.Method.LINK, text=text, language=language)
        if decision == Decision.GRANTED and research is not None and locked.campaign.asks_research_use:
            _record_research(locked, party=ConsentRecord.Party.GUARDIAN, agree=research,
                             method=ConsentRecord.Method.LINK, language=language, text_sha256=research_sha256)
        GuardianInvitation.objects.filter(pk=invitation.pk).update(answered_at=timezone.now())
    return record


def guardian_research_decide(*, invitation: GuardianInvitation, agree: bool, language: str,
                             text_sha256: str = "") -> ConsentRecord | None:
    """A guardian answers the research question on its own through their link (a guardian who is
    only told, or one who answered the screening earlier): yes unless they refused or withdrew
    the screening itself; no (a refusal, or withdrawing an earlier yes) at any time. Returns the
    new record, or None when the answer changes nothing."""
    with transaction.atomic():
        locked = _locked(invitation.assignment)
        if agree and locked.guardian in (Decision.REFUSED, Decision.WITHDRAWN):
            raise Conflict(_("Research use needs the screening to go ahead."), code="guardian_refused")
        return _record_research(locked, party=ConsentRecord.Party.GUARDIAN, agree=agree,
                                method=ConsentRecord.Method.LINK, language=language, text_sha256=text_sha256)


def consent_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Remind guardians asked for consent who have not answered: every N days, at most M times,
    only while the campaign is open. Returns how many reminders were sent."""
    now = now or timezone.now()
    due = (GuardianInvitation.objects
           .filter(purpose=GuardianInvitation.Purpose.CONSENT, answered_at__isnull=True,
                   assignment__guardian=Assignment.Guardian.ASKED,
                   assignment__status__in=[Assignment.Status.PENDING, Assignment.Status.IN_PROGRESS],
                   assignment__campaign__status=Campaign.Status.LAUNCHED, assignment__campaign__closes_at__gt=now,
                   reminders_sent__lt=settings.XINQIAO_CONSENT_REMINDERS_MAX,
                   last_sent_at__lte=now - dt.timedelta(days=settings.XINQIAO_CONSENT_REMINDER_DAYS))
           .select_related("assignment__campaign__school", "assignment__student"))
    sent = 0
    for invitation in due:
        if not CHANNELS[invitation.channel].address(invitation.assignment):
            continue  # the address was removed from the roster: nothing to send, nothing to count
        with transaction.atomic():
            claimed = GuardianInvitation.objects.filter(
                pk=invitation.pk, reminders_sent=invitation.reminders_sent, answered_at__isnull=True,
            ).update(reminders_sent=invitation.reminders_sent + 1, last_sent_at=now,
                     expires_at=_expiry(invitation.assignment.campaign, now))
            if not claimed:
                continue  # another worker sent it
            invitation.refresh_from_db()
            transaction.on_commit(lambda inv=invitation: _send(inv, reminder=True))  # type: ignore[misc]
            sent += 1
    return sent
