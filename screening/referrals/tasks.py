"""Background work of referrals (Celery with Redis in production; in-process without a broker,
where ``manage.py run_timers`` calls the beat schedule). Safe to run twice."""

from __future__ import annotations

from celery import shared_task

from screening.referrals import delivery, timers


@shared_task(acks_late=True)
def run_referral_timers() -> dict[str, int]:
    """Every minute from beat: referrals the hospital has not acknowledged or decided in time."""
    return timers.referral_timers_run()


@shared_task(acks_late=True)
def deliver_referral_messages(referral_id: int | None = None) -> dict[str, int]:
    """Every 15 seconds from beat, and after each commit that queued a push (then for that
    referral only): send the outbox messages that are due to the hospitals' systems."""
    return delivery.deliver_due(referral_id=referral_id)
