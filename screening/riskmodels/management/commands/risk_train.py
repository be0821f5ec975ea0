"""``manage.py risk_train``: train a risk model for a school, a region or everyone, over a date
range, from counsellors' confirmed outcomes (or a synthetic cohort for demos and tests), compare
both kinds on the same folds, and register it as a candidate (``--activate`` makes it active).

Refuses with a message when there are fewer than 200 labelled sittings or fewer than 30 confirmed
needs. Everything is audited under the platform admin named by ``--by``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.risk.train import TooFewLabels
from screening.riskmodels import services, training
from screening.riskmodels.management.commands._common import actor, add_actor, add_scope, day, scope


class Command(BaseCommand):
    help = "Train a risk model from confirmed interview outcomes and register it as a candidate."

    def add_arguments(self, parser: CommandParser) -> None:
        add_actor(parser)
        add_scope(parser)
        parser.add_argument("--since", type=day, help="First day of submissions to learn from (YYYY-MM-DD).")
        parser.add_argument("--until", type=day, help="Last day of submissions to learn from (YYYY-MM-DD).")
        parser.add_argument("--kind", choices=["logistic", "boosting"], default="logistic")
        parser.add_argument("--demographics", action="store_true",
                            help="Also use age band and gender (a recorded choice; the per-group report shows its effect).")
        parser.add_argument("--synthetic", type=int, metavar="N",
                            help="Learn from N synthetic sittings instead (demo and tests; never for real use).")
        parser.add_argument("--instruments", default="phq9,gad7,asq",
                            help="With --synthetic: the questionnaires of the synthetic sittings (comma-separated codes).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--activate", action="store_true", help="Activate the model for its scope once trained.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = actor(options)
        school, region = scope(options)
        if options["synthetic"]:
            codes = tuple(c.strip() for c in options["instruments"].split(",") if c.strip())
            try:
                data = training.labelled_synthetic(options["synthetic"], options["seed"], instruments=codes)
            except ValueError as e:
                raise CommandError(f"--instruments: {e}") from e
        else:
            data = training.labelled_from_outcomes(actor=user, school=school, region=region,
                                                   since=options["since"], until=options["until"])
        try:
            model = training.risk_model_train(actor=user, data=data, synthetic=bool(options["synthetic"]),
                                              kind=options["kind"], demographics=options["demographics"],
                                              school=school, region=region, seed=options["seed"])
        except TooFewLabels as e:
            raise CommandError(str(e)) from e
        self._summary(model)
        if options["activate"]:
            services.risk_model_activate(actor=user, model=model)
            self.stdout.write(self.style.SUCCESS(f"activated {model.version} for {model.scope_key}"))

    def _summary(self, model: Any) -> None:
        card, w = model.card, self.stdout.write
        metrics = card.get("metrics", {})
        auc = metrics.get("roc_auc") or {}
        w(self.style.SUCCESS(f"candidate {model.version} ({model.get_kind_display()}, scope {model.scope_key})"))
        w(f"  labelled {model.labelled}, confirmed needs {model.positives}; "
          f"ROC AUC {auc.get('value', float('nan')):.3f} [{auc.get('low', float('nan')):.3f}, {auc.get('high', float('nan')):.3f}], "
          f"calibration error {metrics.get('calibration_error', float('nan')):.3f}")
        for group in card.get("flagged_groups", []):
            w(self.style.WARNING(f"  group flagged: {group}"))
        if model.synthetic:
            w(self.style.WARNING("  trained on synthetic data; not for clinical use"))
