"""A student's own results, worded for a young reader (only where the campaign allows it).

Students never see their tier, a risk score or a staff band label ("symptoms in the moderate
range" is staff wording). Each questionnaire gets one plain sentence: whether the answers
suggest things have been hard lately (a tier rule fired on that questionnaire), or look like
what many students feel. Every result ends with where to talk to someone. No diagnosis, ever.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

import scoring
from screening.campaigns.models import Submission
from screening.campaigns.questionnaire import text_lang


def student_feedback(submission: Submission, language: str) -> dict[str, Any]:
    """``{"summary", "instruments": [{"code", "name", "message", "total"}], "talk"}`` in the active language."""
    lang = text_lang(language)
    fired = {r.get("instrument") for r in submission.tier_rules}
    rows = []
    for result in submission.results.all():
        name = scoring.instrument(result.instrument).name.get(lang, result.instrument)
        if not result.valid:
            message = _("Some questions were left out, so we could not add this one up. That is fine.")
        elif result.instrument in fired:
            message = _(
                "Your answers suggest things may have been hard for you lately. You are not alone, "
                "and talking with someone you trust, or your school counsellor, can really help."
            )
        else:
            message = _("Your answers look like what many students feel. Keep looking after yourself.")
        rows.append({"code": result.instrument, "name": name, "message": message, "total": result.total})
    needs_contact = submission.tier != Submission.Tier.GREEN
    summary = (
        _("Thank you for answering honestly. Your school counsellor may get in touch to see how you are doing.")
        if needs_contact
        else _("Thank you for answering honestly.")
    )
    talk = _("If you want to talk to someone, your school counsellor is there for you, and the 12356 hotline "
             "is open day and night.")
    return {"summary": summary, "instruments": rows, "talk": talk}
