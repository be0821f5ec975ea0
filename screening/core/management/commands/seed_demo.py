"""``manage.py seed_demo``: build the demo city and print every demo login. Safe to run twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from screening.demo import campaigns, cases, directory, exports, referrals, riskmodel


class Command(BaseCommand):
    help = "Load the made-up demo city (schools, ~600 students, staff, hospitals) and print the demo logins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            # It resets every demo account's password to a published one and makes a superuser.
            raise CommandError(
                "seed_demo refuses to run in production (XINQIAO_ENV=production): it creates a superuser "
                "and sets published demo passwords."
            )
        # Demo e-mails (guardian links, alerts) are kept in memory, not printed: the links that
        # matter are printed below.
        with override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}):
            result = directory.seed()
            samples = [student for student, _code in result["samples"]]
            model = riskmodel.seed()  # before the answers, so that each sitting is scored
            campaign_rows = campaigns.seed(keep_pending=samples)
            case_counts = cases.seed()
            referral_counts = referrals.seed()
            export_states = exports.seed()
            links = campaigns.guardian_links(samples)
        base = options["base_url"].rstrip("/")
        w = self.stdout.write
        w(self.style.SUCCESS(f"Demo data ready: {result['students']} students (all names invented)."))
        for plan, record in result["imports"]:
            s = record.summary
            w(f"  roster {plan.code}: {s.get('rows', 0)} rows, {s.get('create', 0)} new, "
              f"{s.get('update', 0)} changed, {s.get('unchanged', 0)} unchanged")
        for line in campaigns.describe(campaign_rows):
            w(line)
        w(f"  cases at JC-DHJH: {case_counts['open']} open, {case_counts['closed']} closed")
        w(f"  agreements: {referral_counts['agreements']}; referrals: {referral_counts['referrals']} "
          "(one accepted and scheduled at Kangning hospital: kn_liaison records attendance and feedback)")
        w(f"  risk model {model.version} (active for every school; trained on synthetic data, not for clinical use): "
          f"{base}/risk-models/{model.pk}/")
        w("")
        w(f"Staff sign-in: {base}/login/   password for every demo account: {directory.DEMO_PASSWORD}")
        w(f"  {'admin':<22} platform admin ({base}/admin/)")
        for username, _role, place, _classes, desc in result["staff"]:
            w(f"  {username:<22} {desc}, {place}")
        w("")
        w(f"Student sign-in: {base}/student/login/   (school code / student number / access code)")
        for student, code in result["samples"]:
            minor = " (under 14)" if student.is_minor_under_14 else ""
            w(f"  {student.school.code:<10} {student.number:<14} {code}   age {student.age}{minor}")
        w("")
        w("Guardian consent links (no sign-in; the sample student above can answer once the guardian consents):")
        for student, link in links:
            w(f"  {student.school.code:<10} {student.number:<14} {link}")
        w("A red alert from the demo answers is waiting for dh_counsellor and dh_class_counsellor: "
          f"{base}/alerts/")
        w(f"  The counsellors' queue: {base}/cases/   Left unacknowledged, the alert escalates to dh_admin "
          "after 15 minutes and to the partner hospital's liaisons after 30 (the timers run beside the server); "
          f"dh_admin sees escalations and the school's numbers at {base}/cases/escalations/")
        w(f"Exports ({', '.join(f'{k}: {v}' for k, v in export_states.items())}): {base}/exports/")
        w("  dh_admin downloads the campaign report, the KPI workbook and a research extract; analyst the bureau "
          "aggregate (small cells withheld). A counsellor can only export their own school's campaigns.")
        w(f"API docs: {base}/api/docs/")
