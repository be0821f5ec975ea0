"""Two devices at once, on PostgreSQL: a doubled submit leaves exactly one response, and drafts
saved at the same moment keep every answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from campaign_test_helpers import ASQ_NEGATIVE, ME, campaign_open, phq9_total, ready
from django.db import connection, connections
from rest_framework.test import APIClient

from screening.campaigns.models import Assignment, Result, Submission
from screening.directory.services import student_user_ensure

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="concurrent writers need PostgreSQL's row locks; SQLite serialises whole transactions"),
    pytest.mark.django_db(transaction=True),
]

ANSWERS = {"phq9": phq9_total(12), "asq": ASQ_NEGATIVE}


def at_once(calls: list[Callable[[APIClient], Any]], user: Any) -> list[Any]:
    """Run each call on its own thread and connection, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[APIClient], Any]) -> None:
        try:
            client = APIClient()
            client.force_authenticate(user=user)
            barrier.wait(timeout=30)
            results[i] = call(client)
        except BaseException as exc:  # reported on the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(r is not None for r in results)
    return results


def submit_call(assignment: Assignment, key: str, answers: dict[str, Any] = ANSWERS) -> Callable[[APIClient], Any]:
    return lambda client: client.post(f"{ME}{assignment.pk}/submit/", {"answers": answers}, format="json",
                                      HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def hamlet(cast):
    campaign = campaign_open(cast, instruments=["phq9", "asq"])
    assignment = ready(cast, campaign, cast.hamlet)
    return student_user_ensure(student=cast.hamlet), assignment


@pytest.mark.parametrize("round_", range(3))
def test_two_devices_submitting_with_different_keys_leave_one_submission(hamlet, round_):
    user, assignment = hamlet
    first, second = at_once([submit_call(assignment, "phone"), submit_call(assignment, "laptop")], user)
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["error"]["code"] == "already_submitted"
    winner = first if first.status_code == 201 else second
    assert Submission.objects.count() == 1 and Result.objects.count() == 2
    submission = Submission.objects.get()
    assert submission.response == winner.json()
    assert submission.idempotency_key == ("phone" if winner is first else "laptop")
    assert Assignment.objects.get(pk=assignment.pk).status == "submitted"


@pytest.mark.parametrize("round_", range(3))
def test_a_doubled_submit_with_one_key_gets_the_same_response_twice(hamlet, round_):
    user, assignment = hamlet
    first, second = at_once([submit_call(assignment, "tap"), submit_call(assignment, "tap")], user)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert first.content == second.content  # byte for byte: a replay is the first response
    replayed = [r.headers.get("Idempotent-Replayed") for r in (first, second)]
    assert sorted(replayed, key=str) == sorted([None, "true"], key=str)
    assert Submission.objects.count() == 1 and Result.objects.count() == 2


def test_the_same_key_with_different_bodies_at_once_keeps_the_first(hamlet):
    user, assignment = hamlet
    other = {"phq9": phq9_total(3), "asq": ASQ_NEGATIVE}
    first, second = at_once([submit_call(assignment, "k"), submit_call(assignment, "k", other)], user)
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["error"]["code"] == "idempotency_key_reused"
    kept = Submission.objects.get()
    assert kept.answers == (ANSWERS if first.status_code == 201 else other)


def test_many_devices_submitting_at_once_leave_one_submission(hamlet):
    user, assignment = hamlet
    responses = at_once([submit_call(assignment, f"device-{i}") for i in range(6)], user)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    assert Submission.objects.count() == 1 and Result.objects.count() == 2


def test_drafts_saved_at_once_from_two_devices_keep_both_answers(hamlet):
    user, assignment = hamlet

    def save(item: str, value: int) -> Callable[[APIClient], Any]:
        return lambda client: client.patch(f"{ME}{assignment.pk}/draft/", {"answers": {"phq9": {item: value}}},
                                           format="json")

    for round_ in range(3):
        items = [str(i) for i in range(1, 10)]
        responses = at_once([save(item, round_ % 4) for item in items], user)
        assert all(r.status_code == 200 for r in responses), [r.json() for r in responses]
        assert Assignment.objects.get(pk=assignment.pk).draft == {"phq9": {item: round_ % 4 for item in items}}


def test_two_devices_saving_different_questionnaires_keep_both(hamlet):
    user, assignment = hamlet
    phone = lambda client: client.patch(f"{ME}{assignment.pk}/draft/", {"answers": {"phq9": {"1": 2}}}, format="json")  # noqa: E731
    laptop = lambda client: client.patch(f"{ME}{assignment.pk}/draft/", {"answers": {"asq": {"1": False}}}, format="json")  # noqa: E731
    responses = at_once([phone, laptop], user)
    assert [r.status_code for r in responses] == [200, 200]
    assert Assignment.objects.get(pk=assignment.pk).draft == {"phq9": {"1": 2}, "asq": {"1": False}}
