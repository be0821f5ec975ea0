"""Pushing referrals to hospital systems: the FHIR Bundle holds the packet and nothing more; the
outbox is written with the change; a real local HTTP server stands in for the hospital (the
receiver example of docs/hospital-receiver.md) and, down for a day or failing, still gets every
message exactly once and in order; after 72 hours of failure the head of centre is told."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from screening.core.errors import NotAllowed
from screening.referrals import delivery
from screening.referrals.fhir import PUBLIC_ID_SYSTEM, referral_bundle
from screening.referrals.models import OutboxMessage, Referral, ReferralEvent
from screening.referrals.receiver_example import Handler, Inbox, make_server, receive, signature_ok
from screening.referrals.services import referrals
from tests.cases.case_helpers import case_of, flag
from tests.referrals.test_referral_rules import agreement, draft

pytestmark = pytest.mark.django_db

SECRET = "kangning-shared-secret-0123456789-abcdef"


class FakeHospital:
    """The hospital's system: the receiver example, plus knobs to fail requests and to go down."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.arrivals: list[str] = []  # every request's key, duplicates and failures included
        self.fail_next = 0  # answer 500 before looking at the request
        self.lose_answers = 0  # keep the message but answer 500, as if the answer were lost
        self.port = 0
        self._lock = threading.Lock()
        self._server: Any = None

    def start(self) -> None:
        hospital = self

        class Flaky(Handler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hospital._lock:
                    hospital.arrivals.append(self.headers.get("Idempotency-Key") or "")
                    fail, hospital.fail_next = hospital.fail_next > 0, max(0, hospital.fail_next - 1)
                if fail:
                    self._answer(500, {"error": "busy"})
                    return
                status, answer = receive(hospital.inbox, hospital.secret, self.headers, body)
                with hospital._lock:
                    lose, hospital.lose_answers = hospital.lose_answers > 0, max(0, hospital.lose_answers - 1)
                self._answer(500 if lose and status == 200 else status, answer)

        self.secret = SECRET
        self._server = make_server("127.0.0.1", self.port, SECRET, self.inbox, Flaky)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections until ``start`` (on the same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"


@pytest.fixture
def hospital() -> Any:
    fake = FakeHospital()
    fake.start()
    yield fake
    fake.stop()


def pushing(cast: Any, hospital: FakeHospital, **extra: Any) -> Any:
    return agreement(cast, endpoint_url=hospital.url, endpoint_secret=SECRET, **extra)


def sent_referral(cast: Any, student: Any, tier: str = "orange", **extra: Any) -> Referral:
    flag(cast, student, tier)
    return referrals.referral_send(actor=cast.alice, referral=draft(cast, case_of(student), **extra))


def sweep_until_quiet(time_machine: Any, *, every: dt.timedelta, limit: dt.timedelta) -> None:
    waited = dt.timedelta()
    while waited < limit and OutboxMessage.objects.filter(delivered_at__isnull=True, gave_up_at__isnull=True).exists():
        time_machine.shift(every)
        waited += every
        delivery.deliver_due()


# --- the Bundle ---------------------------------------------------------------------------------------


def test_the_bundle_holds_the_packet_as_valid_fhir_and_nothing_that_names_the_student(cast):
    agreement(cast)
    referral = sent_referral(cast, cast.hamlet)
    bundle = referral_bundle(referral)
    text = json.dumps(bundle, ensure_ascii=False)
    parsed = Bundle.model_validate_json(text)
    assert parsed.type == "collection"
    kinds = [e.resource.get_resource_type() for e in parsed.entry]
    assert kinds == ["Patient", "QuestionnaireResponse", "QuestionnaireResponse", "ServiceRequest", "Consent"]
    patient, asq, phq9, request, consent = (e.resource for e in parsed.entry)
    assert [(i.system, i.value) for i in patient.identifier] == [(PUBLIC_ID_SYSTEM, cast.hamlet.public_id)]
    assert patient.birthDate == str(cast.hamlet.birth_date.year) and patient.gender == "female"
    assert patient.name is None and patient.telecom is None and patient.address is None
    assert phq9.questionnaire == "http://loinc.org/q/44249-1"
    item9 = next(i for i in phq9.item if i.linkId == "44260-8")  # PHQ-9 item 9, in LOINC
    assert item9.answer[0].valueCoding.code == "LA6568-5"  # "not at all"
    assert asq.questionnaire.startswith("urn:xinqiao:instrument:asq")
    assert [c.code for c in request.code.coding] == ["183524004"]
    assert [c.code for c in request.category[0].coding] == ["3457005"]
    assert (request.intent, request.status, request.priority) == ("order", "active", "urgent")
    assert request.requester.display == cast.dongshan.name and request.performer[0].display == cast.kangning.name
    assert request.reasonCode[0].text == referral.reason
    assert consent.status == "active" and consent.scope.coding[0].code == "patient-privacy"
    assert "art. 29" in consent.policyRule.text and consent.patient.reference == parsed.entry[0].fullUrl
    for secret in (cast.hamlet.name, cast.hamlet.number, cast.ds_7_1.name, "13800000000", "guardian@example.org",
                   "监护人"):
        assert secret not in text


def test_only_the_fields_in_the_packet_go_out(cast):
    agreement(cast, packet=["public_id", "tier"])
    referral = sent_referral(cast, cast.hamlet, basis="emergency", consent=None,
                             emergency_justification="今晚有自伤计划，监护人联系不上")
    parsed = Bundle.model_validate(referral_bundle(referral))
    assert [e.resource.get_resource_type() for e in parsed.entry] == ["Patient", "ServiceRequest", "Consent"]
    patient, request, consent = (e.resource for e in parsed.entry)
    assert patient.birthDate is None and patient.gender is None
    assert request.reasonCode is None and request.note is None and request.supportingInfo is None
    assert "13(4)" in consent.policyRule.text
    assert referral.reason not in json.dumps(referral_bundle(referral), ensure_ascii=False)
    referrals.referral_cancel(actor=cast.alice, referral=referral, note="改去其他医院")
    referral.refresh_from_db()
    assert Bundle.model_validate(referral_bundle(referral)).entry[1].resource.status == "revoked"


# --- the outbox ---------------------------------------------------------------------------------------


def test_an_agreement_without_an_endpoint_queues_nothing(cast):
    agreement(cast)
    referral = sent_referral(cast, cast.hamlet)
    referrals.referral_cancel(actor=cast.alice, referral=referral, note="学生已转学")
    assert not OutboxMessage.objects.exists()


def test_sending_and_cancelling_queue_numbered_messages_and_a_draft_none(cast, hospital):
    pushing(cast, hospital)
    flag(cast, cast.hamlet, "orange")
    never_sent = draft(cast, case_of(cast.hamlet))
    referrals.referral_cancel(actor=cast.alice, referral=never_sent, note="填错了")
    assert not OutboxMessage.objects.exists()  # the hospital never saw the draft
    referral = referrals.referral_send(actor=cast.alice, referral=draft(cast, case_of(cast.hamlet)))
    referrals.referral_acknowledge(actor=cast.lily, referral=referral)  # the hospital's own move: no push
    referrals.referral_cancel(actor=cast.alice, referral=referral, note="学生已转学")
    queued = list(OutboxMessage.objects.filter(referral=referral).values_list("seq", "idempotency_key"))
    assert queued == [(1, f"xinqiao-ref-{referral.pk}-1"), (2, f"xinqiao-ref-{referral.pk}-2")]
    last = Bundle.model_validate_json(OutboxMessage.objects.get(seq=2).body)
    assert last.entry[-2].resource.status == "revoked"


def test_the_commit_delivers_at_once_without_a_broker(cast, hospital, django_capture_on_commit_callbacks):
    pushing(cast, hospital)
    flag(cast, cast.hamlet, "orange")
    referral = draft(cast, case_of(cast.hamlet))
    with django_capture_on_commit_callbacks(execute=True):
        referrals.referral_send(actor=cast.alice, referral=referral)
    assert hospital.inbox.keys == {f"xinqiao-ref-{referral.pk}-1"}
    message = OutboxMessage.objects.get()
    assert message.delivered_at is not None and message.attempts == 1 and message.last_error == ""


def test_two_workers_never_hold_the_same_message(cast, hospital):
    pushing(cast, hospital)
    sent_referral(cast, cast.hamlet)
    now = timezone.now()
    _token, first = delivery._claim(now, 10, None)
    assert [m.seq for m in first] == [1]
    assert delivery._claim(now, 10, None) == ("", [])  # leased by the first
    assert [m.seq for m in delivery._claim(now + delivery.LEASE + dt.timedelta(seconds=1), 10, None)[1]] == [1]


# --- delivery through a real HTTP server --------------------------------------------------------------


def test_a_hospital_down_for_a_day_gets_everything_once_and_in_order(cast, hospital, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    pushing(cast, hospital)
    hospital.stop()
    first = sent_referral(cast, cast.hamlet)
    referrals.referral_cancel(actor=cast.alice, referral=first, note="家长要求改去其他医院")
    second = sent_referral(cast, cast.hilda)
    delivery.deliver_due()
    for _quarter in range(24 * 4):  # a day of sweeps every 15 minutes against a closed port
        time_machine.shift(dt.timedelta(minutes=15))
        delivery.deliver_due()
    waiting = OutboxMessage.objects.get(referral=first, seq=2)
    assert waiting.attempts == 0  # behind seq 1 of its referral, never tried
    assert not OutboxMessage.objects.filter(delivered_at__isnull=False).exists()
    failing = OutboxMessage.objects.get(referral=first, seq=1)
    assert failing.attempts > 10 and failing.last_error == "ConnectionRefusedError" and failing.gave_up_at is None

    hospital.fail_next, hospital.lose_answers = 2, 1
    hospital.start()  # back on the same port, and flaky for a while
    sweep_until_quiet(time_machine, every=dt.timedelta(minutes=15), limit=dt.timedelta(hours=6))

    keys = [key for key, _bundle in hospital.inbox.messages]
    expected = {f"xinqiao-ref-{first.pk}-1", f"xinqiao-ref-{first.pk}-2", f"xinqiao-ref-{second.pk}-1"}
    assert sorted(keys) == sorted(expected)  # each kept exactly once
    assert len(hospital.arrivals) > len(keys)  # though some arrived more than once
    assert keys.index(f"xinqiao-ref-{first.pk}-1") < keys.index(f"xinqiao-ref-{first.pk}-2")
    statuses = {key: b.entry[-2].resource.status for key, b in hospital.inbox.messages}
    assert statuses[f"xinqiao-ref-{first.pk}-2"] == "revoked" and statuses[f"xinqiao-ref-{second.pk}-1"] == "active"
    assert all(isinstance(b, Bundle) for _key, b in hospital.inbox.messages)
    assert OutboxMessage.objects.filter(delivered_at__isnull=False).count() == 3
    assert not mail.outbox  # nothing was given up


def test_after_72_hours_of_failure_the_head_is_told_once(cast, hospital, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    cast.diana.email = "diana@example.org"
    cast.diana.save(update_fields=["email"])
    pushing(cast, hospital)
    hospital.stop()
    referral = sent_referral(cast, cast.hamlet)
    delivery.deliver_due()
    for _hour in range(71):
        time_machine.shift(dt.timedelta(hours=1))
        delivery.deliver_due()
    message = OutboxMessage.objects.get()
    assert message.gave_up_at is None and not mail.outbox  # still trying just before 72 hours
    for _hour in range(3):
        time_machine.shift(dt.timedelta(hours=1))
        delivery.deliver_due()
    message.refresh_from_db()
    assert message.gave_up_at is not None and message.alerted_at is not None
    assert message.gave_up_at - message.first_attempt_at >= dt.timedelta(hours=72)
    assert [m.to for m in mail.outbox] == [["diana@example.org"]]
    body = mail.outbox[0].body
    assert str(referral.pk) in body and cast.hamlet.name not in body and cast.hamlet.number not in body
    assert ReferralEvent.objects.filter(referral=referral, detail__delivery="gave_up").count() == 1
    time_machine.shift(dt.timedelta(hours=1))
    assert delivery.deliver_due()["alerted"] == 0 and len(mail.outbox) == 1  # told once


def test_what_delivery_gave_up_on_can_be_sent_again_by_the_school(cast, hospital, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    pushing(cast, hospital)
    hospital.stop()
    referral = sent_referral(cast, cast.hamlet)
    for _hour in range(76):
        delivery.deliver_due()
        time_machine.shift(dt.timedelta(hours=1))
    assert delivery.given_up(referral) == 1
    with pytest.raises(NotAllowed):
        delivery.outbox_resend(actor=cast.lily, referral=referral)  # the hospital's side may not
    hospital.start()  # the hospital's system works again
    assert delivery.outbox_resend(actor=cast.alice, referral=referral) == 1
    delivery.deliver_due()
    message = OutboxMessage.objects.get()
    assert message.delivered_at is not None and delivery.given_up(referral) == 0
    assert hospital.inbox.keys == {message.idempotency_key}  # the same key: kept once
    assert ReferralEvent.objects.filter(referral=referral, detail__delivery="resent").count() == 1


def test_the_page_and_the_api_offer_to_send_again(cast, hospital, api, client, time_machine):
    from django.urls import reverse

    time_machine.move_to(timezone.now(), tick=False)
    pushing(cast, hospital)
    hospital.stop()
    referral = sent_referral(cast, cast.hamlet)
    OutboxMessage.objects.update(gave_up_at=timezone.now(), alerted_at=timezone.now())
    assert delivery.given_up(referral) == 1, list(OutboxMessage.objects.values("delivered_at", "gave_up_at"))
    client.force_login(cast.alice)
    assert "Send to the hospital's system again" in client.get(reverse("web:referral", args=[referral.pk]),
                                                                    HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert api.as_(cast.lily).post(f"/api/v1/referrals/{referral.pk}/resend/").status_code == 403
    assert api.as_(cast.alice).post(f"/api/v1/referrals/{referral.pk}/resend/").status_code == 200
    assert delivery.given_up(referral) == 0


# --- the receiver example -----------------------------------------------------------------------------


def test_the_receiver_refuses_a_tampered_or_stale_signature(cast, hospital):
    pushing(cast, hospital)
    referral = sent_referral(cast, cast.hamlet)
    message = OutboxMessage.objects.get(referral=referral)
    assert delivery.post(hospital.url, "another-secret-0123456789-0123456789", "k-1", message.body) == "HTTP 401"
    tampered = message.body.replace('"urgent"', '"routine"')
    ts = "1700000000"
    signed = delivery.signature(SECRET, ts, message.body.encode())
    assert signature_ok(SECRET, ts, signed, message.body.encode(), now=1700000010)
    assert not signature_ok(SECRET, ts, signed, tampered.encode(), now=1700000010)  # body changed
    assert not signature_ok(SECRET, ts, signed, message.body.encode(), now=1700000000 + 3600)  # replayed later
    assert not hospital.inbox.messages
    assert delivery.post(hospital.url, SECRET, "k-1", message.body) == ""
    assert delivery.post(hospital.url, SECRET, "k-1", message.body) == ""  # a retry: 200, kept once
    assert [key for key, _b in hospital.inbox.messages] == ["k-1"]
