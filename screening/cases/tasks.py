"""Background work of the counsellor workspace (Celery with Redis in production; in-process without
a broker, where ``manage.py run_timers`` calls the beat schedule). Safe to run twice."""

from __future__ import annotations

from celery import shared_task

from screening.cases.services import escalation


@shared_task(acks_late=True)
def run_escalations() -> dict[str, int]:
    """Every minute from beat: red alerts not acknowledged, first contacts overdue, missed follow-ups."""
    return escalation.escalations_run()


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def notify_case_event(event_id: int) -> int:
    """E-mail one escalation (once: a sent one is marked)."""
    return escalation.case_event_notify(event_id=event_id)
