"""``manage.py run_timers`` in a process of its own, as ``./dev demo`` starts it: every task of the
beat schedule runs (a task only a worker would have registered once failed here unnoticed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_timer_of_the_beat_schedule_runs_in_a_fresh_process(tmp_path):
    env = {**os.environ, "XINQIAO_ENV": "development", "XINQIAO_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/timers.sqlite3", "XINQIAO_LOG_LEVEL": "INFO"}
    env.pop("CELERY_BROKER_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=tmp_path, timeout=300)
    done = subprocess.run([*manage, "run_timers", "--once"], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    from django.conf import settings

    for name in settings.CELERY_BEAT_SCHEDULE:
        assert f"timer {name}:" in done.stderr, done.stderr
    assert "ERROR" not in done.stderr and "Traceback" not in done.stderr
