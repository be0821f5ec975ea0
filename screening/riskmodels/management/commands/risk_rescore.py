"""``manage.py risk_rescore --campaign ID --by ADMIN``: score a campaign's sittings with the
school's active model, beside the earlier scores (no history changes); raised tiers open or update
cases as usual. Audited."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from screening.campaigns.models import Campaign
from screening.core.errors import DomainError
from screening.riskmodels.management.commands._common import actor, add_actor
from screening.riskmodels.rescore import campaign_rescore


class Command(BaseCommand):
    help = "Re-score a campaign with the newly activated risk model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", type=int, required=True, metavar="ID")
        add_actor(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        user = actor(options)
        campaign = Campaign.objects.visible_to(user).select_related("school").filter(pk=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"--campaign {options['campaign']}: no such campaign.")
        try:
            counts = campaign_rescore(actor=user, campaign=campaign)
        except DomainError as e:
            raise CommandError(str(e.message)) from e
        self.stdout.write(self.style.SUCCESS(
            f"{campaign.name}: model {counts['model']}; {counts['scored']} scored, {counts['already']} already scored, "
            f"{counts['raised']} tiers raised"))
