"""Run the beat schedule (settings.CELERY_BEAT_SCHEDULE) in this process, for the embedded default
where there is no broker: ``./dev demo`` starts it beside the web server. With a broker, run
``celery -A backend beat`` and workers instead.

Each timer's deadline is stored in the database rows it acts on, so a restart loses nothing: the
first round after starting runs every task at once and catches up on whatever fell due meanwhile.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string

log = logging.getLogger("xinqiao.timers")


class Command(BaseCommand):
    help = "Run the scheduled tasks (escalations, reminders) in-process, without a broker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run every task once and stop.")

    def handle(self, *args: Any, **options: Any) -> None:
        beat: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE
        schedule = {name: (str(entry["task"]), float(entry["schedule"])) for name, entry in beat.items()}
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        next_run = dict.fromkeys(schedule, 0.0)
        while not stopping:
            now = time.monotonic()
            for name, (task, every) in schedule.items():
                if now >= next_run[name]:
                    next_run[name] = now + every
                    self._run(name, task)
            if options["once"]:
                return
            time.sleep(max(0.5, min(next_run.values()) - time.monotonic()))

    def _run(self, name: str, task: str) -> None:
        try:
            # By its import path, as beat names it: this process has no worker to register tasks.
            result = import_string(task).apply(throw=True).get()
        except Exception:  # a failing timer must not stop the others; it runs again next round
            log.exception("timer %s failed", name)
            return
        log.info("timer %s: %s", name, result)
