"""``manage.py demo_hospital_receiver``: the demo's stand-in for Kangning hospital's system.

It runs the receiver example that hospital IT is given (screening/referrals/receiver_example.py:
checks the signature and the timestamp, keeps each message once by its Idempotency-Key, parses the
FHIR R4B Bundle) on 127.0.0.1, and writes each Bundle it keeps to
``XINQIAO_DATA_DIR/demo-hospital-inbox/<key>.json``, so the demo shows what a hospital receives.
``./dev demo`` starts it; the demo agreement with Kangning names it as its endpoint. Refuses to run
in production.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from screening.demo.hospital import DEFAULT_PORT, demo_endpoint, demo_secret
from screening.referrals.receiver_example import Inbox, make_server


class FileInbox(Inbox):
    """Keeps what arrives as files, and says so on the console (no names: Bundles carry none)."""

    def __init__(self, write: Any) -> None:
        super().__init__()
        self.folder = settings.DATA_DIR / "demo-hospital-inbox"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write = write

    def store(self, key: str, bundle: Any) -> bool:
        kept = super().store(key, bundle)
        if kept:
            (self.folder / f"{key}.json").write_text(bundle.model_dump_json(indent=2), encoding="utf-8")
            kinds = ", ".join(entry.resource.get_resource_type() for entry in bundle.entry or [])
            self.write(f"demo hospital received {key}: {kinds}")
        return kept


class Command(BaseCommand):
    help = "Run the demo hospital's FHIR receiver (the receiver example) on 127.0.0.1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("demo_hospital_receiver is for the demo only (XINQIAO_ENV is production).")
        server = make_server("127.0.0.1", options["port"], demo_secret(), FileInbox(self.stdout.write))
        self.stdout.write(f"demo hospital receiver on {demo_endpoint(options['port'])}")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
