"""``manage.py risk_activate VERSION --by ADMIN``: make a candidate model the active one of its
scope (the one before is retired). The file's digest is checked first; the change is audited."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from screening.core.errors import DomainError
from screening.riskmodels import services
from screening.riskmodels.management.commands._common import actor, add_actor
from screening.riskmodels.models import RiskModel


class Command(BaseCommand):
    help = "Activate a candidate risk model for its scope."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version")
        add_actor(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        user = actor(options)
        model = RiskModel.objects.filter(version=options["version"]).first()
        if model is None:
            raise CommandError(f"no risk model has version {options['version']!r}")
        try:
            services.risk_model_activate(actor=user, model=model)
        except DomainError as e:
            raise CommandError(str(e.message)) from e
        self.stdout.write(self.style.SUCCESS(f"activated {model.version} for {model.scope_key}"))
