"""State changes of the screening workflow, one module per part (STYLE.md "Where things live"):

- :mod:`.campaigns`: create, launch and close a campaign; assignments for eligible students.
- :mod:`.consent`: guardian links, paper consent, the student's own consent, withdrawal, reminders.
- :mod:`.answering`: the sitting's plan (stepped screening), drafts, and the idempotent submit that
  scores, tiers and raises the crisis alert in one transaction.
- :mod:`.alerts`: crisis resources and the red-tier alert to the counsellors who cover a student.
"""

from screening.campaigns.services.campaigns import (
    campaign_assignments_sync,
    campaign_close,
    campaign_create,
    campaign_launch,
    eligible_students,
)

__all__ = [
    "campaign_assignments_sync",
    "campaign_close",
    "campaign_create",
    "campaign_launch",
    "eligible_students",
]
