"""The e-mails of escalations. They say what is overdue, at which school and where to look; never a
student's name, answers or scores (DESIGN.md §4). Written in the platform's default language."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from screening.campaigns.models import Submission
from screening.cases.models import CaseEvent
from screening.core.models import User


def _texts(event: CaseEvent) -> tuple[str, str]:
    school = event.case.school
    minutes = event.detail.get("minutes", 0)
    link = settings.XINQIAO_PUBLIC_URL + reverse("web:case", args=[event.case_id])
    if event.kind == CaseEvent.Kind.ALERT_ESCALATED_SCHOOL:
        return _("Red alert not acknowledged"), _(
            "A red alert at %(school)s was raised %(minutes)s minutes ago and no counsellor has acknowledged it.\n"
            "Make sure the student is contacted now. Details in Xinqiao (sign in to see them):\n%(link)s\n"
        ) % {"school": school.name, "minutes": minutes, "link": link}
    if event.kind == CaseEvent.Kind.ALERT_ESCALATED_HOSPITAL:
        return _("Crisis escalation from a partner school"), _(
            "A red alert for a student at %(school)s has not been acknowledged by the school within %(minutes)s "
            "minutes. Under the school–hospital crisis agreement, please call the school's crisis line %(line)s now.\n"
        ) % {"school": school.name, "minutes": minutes, "line": school.crisis_line or "-"}
    tier = event.detail.get("tier", "")
    tier_label = Submission.Tier(tier).label if tier in Submission.Tier.values else tier
    return _("First contact overdue"), _(
        "A flagged student at %(school)s (tier: %(tier)s) has not been contacted within the time limit.\n"
        "Details in Xinqiao (sign in to see them):\n%(link)s\n"
    ) % {"school": school.name, "tier": tier_label, "link": link}


def escalation_mail(event: CaseEvent) -> int:
    """Send one escalation to the users named in it; returns how many e-mails went."""
    with override(settings.LANGUAGE_CODE):
        subject, body = _texts(event)
    addresses = list(User.objects.filter(pk__in=event.detail.get("to", []), is_active=True).exclude(email="")
                     .values_list("email", flat=True))
    if event.detail.get("agreement"):
        from screening.referrals.models import Agreement

        named = Agreement.objects.filter(pk=event.detail["agreement"]).values_list("crisis_contact_email", flat=True).first()
        if named and named not in addresses:
            addresses.append(named)
    return sum(send_mail(subject, body, None, [address]) for address in addresses)
