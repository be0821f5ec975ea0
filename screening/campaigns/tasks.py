"""Background work of the screening workflow (Celery with Redis in production; in-process, at
commit, without a broker). Each task calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from screening.campaigns.services import alerts


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def notify_crisis_alert(alert_id: int) -> int:
    """E-mail a red alert's recipients (once: a sent alert is marked)."""
    return alerts.crisis_alert_notify(alert_id=alert_id)


@shared_task(acks_late=True)
def send_consent_reminders() -> int:
    """Remind guardians who have not answered (hourly from beat; each guardian at most every N days)."""
    from screening.campaigns.services import consent

    return consent.consent_reminders_send()
