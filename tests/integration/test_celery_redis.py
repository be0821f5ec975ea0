"""Production mode of the background work: a real Celery worker with Redis as broker and result
backend runs the workspace's timers and the referral delivery, exactly as ``celery -A backend
worker`` and beat do in production (README "Production shape"). The worker and the caller are
processes of their own sharing a database file, so nothing here is eager or in-process.

Needs Redis on 127.0.0.1:6379 (database 15 is used and emptied). Skipped without it, except under
CI (``CI=true``), where its absence fails the run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/15"


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def env(tmp_path):
    if not redis_up():
        reason = "Redis is not running on 127.0.0.1:6379"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (required under CI)")
        pytest.skip(reason)
    env = {**os.environ, "XINQIAO_ENV": "development", "XINQIAO_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/celery.sqlite3", "CELERY_BROKER_URL": BROKER,
           "CELERY_RESULT_BACKEND": BROKER}
    subprocess.run([sys.executable, "-c", f"import redis; redis.Redis.from_url({BROKER!r}).flushdb()"], env=env,
                   check=True, timeout=30)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"], env=env, cwd=ROOT,
                   check=True, timeout=300)
    return env


def test_a_real_worker_runs_the_timers_and_the_delivery_through_redis(env):
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backend", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        caller = (
            "import json\n"
            "from django.conf import settings\n"
            "from django.utils.module_loading import import_string\n"
            "assert not settings.CELERY_TASK_ALWAYS_EAGER\n"
            "out = {}\n"
            "for name, entry in settings.CELERY_BEAT_SCHEDULE.items():\n"
            "    out[name] = import_string(entry['task']).delay().get(timeout=60)\n"
            "print(json.dumps(out))\n"
        )
        deadline = time.monotonic() + 120
        done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", caller], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=max(10.0, deadline - time.monotonic()))
        assert done.returncode == 0, done.stderr
        results = json.loads(done.stdout.strip().splitlines()[-1])
        from django.conf import settings

        assert set(results) == set(settings.CELERY_BEAT_SCHEDULE)
        assert results["escalations"] == {"alerts_to_school": 0, "alerts_to_hospital": 0, "first_contact_overdue": 0,
                                          "follow_ups_missed": 0}
        assert results["referral-limits"] == {"acknowledge": 0, "decide": 0, "guardian_notice": 0}
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
