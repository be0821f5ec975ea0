"""E-mails about referrals. They say what happened, at which school and where to look; never a
student's name, answers or scores (DESIGN.md §4)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.utils.translation import gettext as _
from django.utils.translation import override

from screening.cases.services.escalation import school_heads
from screening.referrals.models import Referral


def emergency_referral_told(referral_id: int) -> int:
    """Tell the school's heads of centre that a referral went on the emergency basis (PIPL art.
    13(4)): they review the justification and see that the guardian is told afterwards."""
    referral = Referral.objects.select_related("school", "hospital").filter(pk=referral_id).first()
    if referral is None:
        return 0
    with override(settings.LANGUAGE_CODE):
        subject = _("Referral sent on the emergency basis")
        body = _(
            "A counsellor at %(school)s referred a student to %(hospital)s without a prior consent to share, on the "
            "emergency basis. Review the written justification and make sure the guardian is told.\n"
            "Details in Xinqiao (sign in to see them).\n"
        ) % {"school": referral.school.name, "hospital": referral.hospital.name}
    heads = school_heads(referral.school_id).exclude(email="")
    return sum(send_mail(subject, body, None, [u.email]) for u in heads)
