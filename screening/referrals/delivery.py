"""Pushing referrals to hospital systems through a durable outbox (DESIGN.md §3 step 10).

Where the agreement names an ``endpoint_url``, every school-side change of a sent referral (the
sending, a cancellation, the school's closing) writes an ``OutboxMessage`` in the same transaction
as the change (``outbox_enqueue``): the FHIR Bundle of the referral as it now stands
(``screening.referrals.fhir``). Nothing is lost when the process stops after the commit.

``deliver_due`` sends what is due, as a sweep every 15 seconds (``deliver_referral_messages`` on
Celery beat; ``manage.py run_timers`` without a broker) and once more right after each commit that
enqueued something (in-process without a broker, on a worker with one):

- POST to the endpoint with ``Content-Type: application/fhir+json``, ``Idempotency-Key``,
  ``X-Xinqiao-Timestamp`` (unix seconds) and ``X-Xinqiao-Signature: sha256=<hex HMAC-SHA256 of
  "<timestamp>.<body>" with the agreement's secret>``; redirects are not followed; a 2xx is
  delivery, anything else (a status, a refused connection, a timeout) a failure;
- a failure is retried with exponential back-off and full jitter (a random wait up to 30 s × 2^n,
  at most an hour), for 72 hours from the first attempt; then the message is given up, recorded on
  the referral's timeline, and the school's heads of centre are e-mailed (no personal data);
- per referral, a message goes only when every earlier one is delivered (or given up: each body is
  the referral's whole current state, so a later one supersedes it), so the hospital sees the
  changes in order;
- a retry carries the same idempotency key: the hospital keeps each message once however often it
  arrives (docs/hospital-receiver.md);
- messages are claimed with a conditional UPDATE that sets a lease (``locked_until``, with a token):
  two workers never send the same message at once, and a worker that dies leaves it to be taken up
  again when the lease ends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from screening.cases.services.escalation import school_heads
from screening.core.audit import Action, audit_record
from screening.referrals import states
from screening.referrals.fhir import referral_bundle
from screening.referrals.models import OutboxMessage, Referral, ReferralEvent

log = logging.getLogger("xinqiao.referrals.delivery")

BACKOFF_BASE = 30.0  # seconds
BACKOFF_CAP = 3600.0
GIVE_UP_AFTER = dt.timedelta(hours=72)
LEASE = dt.timedelta(minutes=5)  # longer than a batch takes: BATCH / THREADS × TIMEOUT
TIMEOUT = 10.0
BATCH = 100
THREADS = 8
BUDGET = 12.0  # seconds a sweep goes on batch after batch: under beat's 15-second interval
CONTENT_TYPE = "application/fhir+json"


# --- enqueueing ---------------------------------------------------------------------------------


def outbox_enqueue(referral: Referral) -> OutboxMessage | None:
    """Queue the referral's current Bundle for its hospital's endpoint, in the caller's
    transaction (the referral row is locked by the caller, which keeps ``seq`` in order). Nothing
    when the agreement names no endpoint. Delivery starts when the transaction commits."""
    if not referral.agreement.endpoint_url:
        return None
    last = OutboxMessage.objects.filter(referral=referral).order_by("-seq").values_list("seq", flat=True).first()
    seq = (last or 0) + 1
    now = timezone.now()
    message = OutboxMessage.objects.create(
        referral=referral, seq=seq, idempotency_key=f"xinqiao-ref-{referral.pk}-{seq}",
        body=json.dumps(referral_bundle(referral), ensure_ascii=False, separators=(",", ":")),
        created_at=now, next_attempt_at=now,
    )
    referral_id = referral.pk
    transaction.on_commit(lambda: _kick(referral_id), robust=True)
    return message


def outbox_resend(*, actor: Any, referral: Referral) -> int:
    """Try again the pushes of a referral that delivery gave up on (the hospital has fixed its
    system): their 72 hours start afresh, in order, with the same idempotency keys. School staff who
    cover the student only (the caller has the referral through the access policy); returns how
    many were put back."""
    from screening.core.errors import NotAllowed
    from screening.referrals.selectors import acting_side

    if acting_side(user=actor, referral=referral) != states.SCHOOL:
        raise NotAllowed(_("Only the school's staff can send a referral to the hospital's system again."))
    now = timezone.now()
    with transaction.atomic():
        count = OutboxMessage.objects.filter(referral=referral, delivered_at__isnull=True, gave_up_at__isnull=False).update(
            gave_up_at=None, alerted_at=None, attempts=0, first_attempt_at=None, next_attempt_at=now, last_error="",
            locked_until=None, lock_token="")
        if count:
            ReferralEvent.objects.create(referral=referral, from_state=referral.state, to_state=referral.state,
                                         side=ReferralEvent.Side.SCHOOL, actor=actor, at=now,
                                         detail={"delivery": "resent", "messages": count})
            audit_record(actor=actor, action=Action.UPDATE, object_type="referrals.Referral", object_id=referral.pk,
                         student_public_id=referral.student.public_id, school_id=referral.school_id,
                         detail={"delivery": "resent", "messages": count})
            referral_id = referral.pk
            transaction.on_commit(lambda: _kick(referral_id), robust=True)
    return count


def given_up(referral: Referral) -> int:
    """How many of the referral's pushes delivery gave up on (the page offers to send them again)."""
    return OutboxMessage.objects.filter(referral=referral, delivered_at__isnull=True, gave_up_at__isnull=False).count()


def _kick(referral_id: int) -> None:
    from screening.referrals.tasks import deliver_referral_messages

    deliver_referral_messages.delay(referral_id)


# --- sending ------------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>`` under the agreement's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # a redirect is a failure, never followed
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, secret: str, key: str, body: str, *, timeout: float = TIMEOUT) -> str:
    """POST one message, signed. Returns "" when the endpoint answered 2xx, else a short reason
    (status or exception class; never content)."""
    data = body.encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=data, method="POST", headers={  # noqa: S310 (https or 127.0.0.1, checked)
        "Content-Type": CONTENT_TYPE, "Idempotency-Key": key, "X-Xinqiao-Timestamp": timestamp,
        "X-Xinqiao-Signature": signature(secret, timestamp, data), "User-Agent": "xinqiao-referrals/1",
    })
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    except urllib.error.URLError as e:
        return type(e.reason).__name__ if isinstance(e.reason, BaseException) else "URLError"
    except Exception as e:  # a sweep must survive whatever the network does
        return type(e).__name__
    return "" if 200 <= status < 300 else f"HTTP {status}"


def backoff(attempts: int) -> dt.timedelta:
    """Full jitter: a random wait up to min(cap, base × 2^(attempts − 1)), at least a second."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempts - 1, 20))
    return dt.timedelta(seconds=max(1.0, random.uniform(0, ceiling)))  # noqa: S311 (jitter, not a secret)


# --- the sweep ----------------------------------------------------------------------------------


def deliver_due(now: dt.datetime | None = None, *, referral_id: int | None = None, batch: int = BATCH,
                threads: int = THREADS, budget: float = BUDGET) -> dict[str, int]:
    """Send every message that is due and first in line for its referral (only ``referral_id``'s,
    when given), batch after batch for up to ``budget`` seconds; record deliveries, schedule
    retries, give up after 72 hours and alert. Safe to run in several workers at once. Returns
    counts."""
    counts = {"delivered": 0, "failed": 0, "gave_up": 0, "alerted": 0}
    started = time.monotonic()
    while time.monotonic() - started < budget:
        token, claimed = _claim(now or timezone.now(), batch, referral_id)
        if not claimed:
            break
        outcomes = _send_all(claimed, threads)
        delivered = [m.pk for m, error in outcomes if not error]
        _record_delivered(delivered, token, now or timezone.now())
        counts["delivered"] += len(delivered)
        for message, error in outcomes:
            if error:  # retried no sooner than a second later: the loop moves on to other messages
                gave_up = _record_failure(message, error, token, now or timezone.now())
                counts["gave_up" if gave_up else "failed"] += 1
    counts["alerted"] = _alert_given_up(now or timezone.now())
    return counts


def _claim(now: dt.datetime, batch: int, referral_id: int | None) -> tuple[str, list[OutboxMessage]]:
    pending = Q(delivered_at__isnull=True, gave_up_at__isnull=True)
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    earlier = OutboxMessage.objects.filter(pending, referral=OuterRef("referral"), seq__lt=OuterRef("seq"))
    due = OutboxMessage.objects.filter(pending, free, next_attempt_at__lte=now).filter(~Exists(earlier))
    if referral_id is not None:
        due = due.filter(referral_id=referral_id)
    ids = list(due.order_by("next_attempt_at", "id").values_list("pk", flat=True)[:batch])
    if not ids:
        return "", []
    token = uuid.uuid4().hex
    # The conditional UPDATE is the claim: a row another worker leased meanwhile no longer matches.
    OutboxMessage.objects.filter(pending, free, pk__in=ids).update(locked_until=now + LEASE, lock_token=token)
    claimed = OutboxMessage.objects.filter(pk__in=ids, lock_token=token).select_related("referral__agreement")
    return token, list(claimed)


def _send_all(messages: list[OutboxMessage], threads: int) -> list[tuple[OutboxMessage, str]]:
    def send(message: OutboxMessage) -> str:
        agreement = message.referral.agreement
        if not agreement.endpoint_url:
            return "no endpoint"
        return post(agreement.endpoint_url, agreement.endpoint_secret, message.idempotency_key, message.body)

    # The threads only talk HTTP; every database write stays in this thread.
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(messages)))) as pool:
        return list(zip(messages, pool.map(send, messages), strict=True))


def _record_delivered(ids: Iterable[int], token: str, now: dt.datetime) -> None:
    OutboxMessage.objects.filter(pk__in=list(ids), lock_token=token).update(
        delivered_at=now, attempts=F("attempts") + 1, first_attempt_at=Coalesce("first_attempt_at", Value(now)),
        locked_until=None, lock_token="", last_error="",
    )


def _record_failure(message: OutboxMessage, error: str, token: str, now: dt.datetime) -> bool:
    """Schedule the retry, or give up when 72 hours have passed since the first attempt. True when
    given up."""
    first = message.first_attempt_at or now
    attempts = message.attempts + 1
    give_up = now - first >= GIVE_UP_AFTER
    log.warning("referral message %s attempt %d failed: %s", message.idempotency_key, attempts, error)
    with transaction.atomic():
        changed = OutboxMessage.objects.filter(pk=message.pk, lock_token=token, delivered_at__isnull=True).update(
            attempts=attempts, first_attempt_at=first, last_error=error[:200], locked_until=None, lock_token="",
            next_attempt_at=now + backoff(attempts), gave_up_at=now if give_up else None,
        )
        if changed and give_up:
            referral = message.referral
            ReferralEvent.objects.create(referral=referral, from_state=referral.state, to_state=referral.state,
                                         side=ReferralEvent.Side.SYSTEM, at=now,
                                         detail={"delivery": "gave_up", "seq": message.seq, "error": error[:200]})
            audit_record(actor=None, action=Action.UPDATE, object_type="referrals.OutboxMessage", object_id=message.pk,
                         school_id=referral.school_id, detail={"delivery": "gave_up", "referral": referral.pk},
                         actor_username="system")
    return bool(changed) and give_up


def _alert_given_up(now: dt.datetime) -> int:
    """Tell the heads of centre about each message given up, once (claimed like the timers)."""
    told = 0
    waiting = OutboxMessage.objects.filter(gave_up_at__isnull=False, alerted_at__isnull=True)
    for message in waiting.select_related("referral__school", "referral__hospital", "referral__agreement")[:100]:
        if OutboxMessage.objects.filter(pk=message.pk, alerted_at__isnull=True).update(alerted_at=now):
            _tell_heads(message.referral)
            told += 1
    return told


def _tell_heads(referral: Referral) -> int:
    with override(settings.LANGUAGE_CODE):
        subject = _("Referral not delivered to the hospital's system")
        body = _(
            "A referral from %(school)s to %(hospital)s (number %(id)s) could not be delivered to the hospital's "
            "system for 72 hours, and Xinqiao has stopped trying. The hospital's liaisons still see it in Xinqiao; "
            "please call the hospital (%(line)s) so that they look at it, and ask their IT to check the "
            "endpoint.\n"
        ) % {"school": referral.school.name, "hospital": referral.hospital.name, "id": referral.pk,
             "line": referral.agreement.crisis_line}
    heads = school_heads(referral.school_id).exclude(email="")
    return sum(send_mail(subject, body, None, [u.email]) for u in heads)
