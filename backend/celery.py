"""Celery: workers and beat with Redis in production; without a broker, tasks run in-process."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("xinqiao")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
