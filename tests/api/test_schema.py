"""The published API schema tells the truth: property tests over every operation, as a school admin.

Schemathesis generates requests from /api/schema/ and sends them through the WSGI app in the
test's own transaction; every answer must be a documented status with a body of the documented
shape, and nothing may be a 500. The API docs page must work offline.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.wsgi import application
from screening.campaigns.services import campaign_create
from screening.core.models import AuditEvent
from screening.directory.services import roster_preview

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

EXPECTED_PATHS = {
    "/api/v1/auth/token/", "/api/v1/auth/logout/", "/api/v1/me/",
    "/api/v1/regions/", "/api/v1/regions/{id}/", "/api/v1/schools/", "/api/v1/schools/{id}/",
    "/api/v1/hospitals/", "/api/v1/hospitals/{id}/", "/api/v1/classes/", "/api/v1/classes/{id}/",
    "/api/v1/classes/{id}/access-sheet/", "/api/v1/students/", "/api/v1/students/{public_id}/",
    "/api/v1/students/{public_id}/access-code/", "/api/v1/memberships/", "/api/v1/memberships/{id}/",
    "/api/v1/roster-imports/", "/api/v1/roster-imports/{id}/", "/api/v1/roster-imports/{id}/apply/",
    "/api/v1/audit-events/", "/api/v1/audit-events/{id}/", "/api/v1/audit-events/export/",
    "/api/v1/campaigns/", "/api/v1/campaigns/{id}/", "/api/v1/campaigns/{id}/launch/", "/api/v1/campaigns/{id}/close/",
    "/api/v1/campaigns/{id}/completion/", "/api/v1/campaigns/{id}/invite-guardians/",
    "/api/v1/assignments/", "/api/v1/assignments/{id}/", "/api/v1/assignments/{id}/consents/",
    "/api/v1/assignments/{id}/paper-consent/", "/api/v1/alerts/", "/api/v1/alerts/{id}/",
    "/api/v1/me/assignments/", "/api/v1/me/assignments/{id}/", "/api/v1/me/assignments/{id}/consent/",
    "/api/v1/me/assignments/{id}/questionnaire/", "/api/v1/me/assignments/{id}/draft/",
    "/api/v1/me/assignments/{id}/submit/", "/api/v1/me/assignments/{id}/result/",
    "/api/v1/alerts/{id}/acknowledge/", "/api/v1/cases/", "/api/v1/cases/counts/", "/api/v1/cases/{id}/",
    "/api/v1/cases/{id}/contacts/", "/api/v1/cases/{id}/follow-ups/", "/api/v1/cases/{id}/plan/",
    "/api/v1/cases/{id}/move/", "/api/v1/cases/{id}/close/", "/api/v1/cases/{id}/timeline/",
    "/api/v1/escalations/", "/api/v1/escalations/{id}/", "/api/v1/kpis/", "/api/v1/kpis/{id}/",
    "/api/v1/risk-models/", "/api/v1/risk-models/{id}/", "/api/v1/risk-models/{id}/activate/",
    "/api/v1/risk-models/{id}/retire/", "/api/v1/risk-models/{id}/roc.svg", "/api/v1/risk-models/{id}/calibration.svg",
    "/api/v1/risk-scores/", "/api/v1/risk-scores/{id}/",
    "/api/v1/agreements/", "/api/v1/agreements/{id}/", "/api/v1/sharing-consents/", "/api/v1/sharing-consents/{id}/",
    "/api/v1/referrals/", "/api/v1/referrals/{id}/", "/api/v1/referrals/{id}/send/", "/api/v1/referrals/{id}/cancel/",
    "/api/v1/referrals/{id}/acknowledge/", "/api/v1/referrals/{id}/accept/", "/api/v1/referrals/{id}/decline/",
    "/api/v1/referrals/{id}/schedule/", "/api/v1/referrals/{id}/attendance/", "/api/v1/referrals/{id}/close/",
    "/api/v1/referrals/{id}/events/",
    "/api/v1/exports/", "/api/v1/exports/{id}/", "/api/v1/exports/{id}/download/",
}


@pytest.fixture
def wsgi_in_test_transaction():
    """Django closes the connection around each WSGI request, which would end the test's
    transaction; its own test client does the same as here."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def diana_token(cast: Any, wsgi_in_test_transaction: None) -> str:
    return Token.objects.create(user=cast.diana).key


def test_the_schema_documents_every_endpoint():
    assert EXPECTED_PATHS <= set(schema.raw_schema["paths"])


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented_and_never_500(case, diana_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {diana_token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )


def cast_ids(cast: Any) -> dict[str, dict[str, Any]]:
    """Ids diana can see, by path, so detail operations reach real objects and not only 404."""
    from screening.cases.models import Case, CaseEvent
    from screening.cases.services.escalation import escalations_run
    from screening.directory.models import Membership
    from screening.riskmodels.models import RiskScore
    from tests.riskmodels.risk_helpers import register

    event = AuditEvent.objects.create(action="read", school_id=cast.dongshan.pk, actor_username="alice")
    assignment = launched_assignment(cast)
    model = register(cast, activate=True, school=cast.dongshan)  # scores hilda's sitting below
    alert = red_alert(cast)
    escalations_run(now=timezone.now() + dt.timedelta(hours=2))  # the alert and the first contact, overdue
    from tests.referrals.referral_helpers import referral_of

    agreement, consent, referral = referral_of(cast, cast.hilda)
    return {
        "exports": {"id": str(done_export(cast).public_id)},
        "agreements": {"id": agreement.pk},
        "sharing-consents": {"id": consent.pk},
        "referrals": {"id": referral.pk},
        "assignments": {"id": assignment.pk},
        "me": {"id": assignment.pk},
        "alerts": {"id": alert.pk},
        "cases": {"id": Case.objects.get(student=cast.hilda).pk},
        "escalations": {"id": CaseEvent.objects.filter(kind="escalated").get().pk},
        "kpis": {"id": cast.dongshan.pk},
        "risk-models": {"id": model.pk},
        "risk-scores": {"id": RiskScore.objects.get(submission=alert.submission).pk},
        "regions": {"id": cast.east.pk},
        "schools": {"id": cast.dongshan.pk},
        "hospitals": {"id": cast.kangning.pk},
        "classes": {"id": cast.ds_7_1.pk},
        "students": {"public_id": cast.hamlet.public_id},
        "memberships": {"id": Membership.objects.get(user=cast.alice).pk},
        "roster-imports": {"id": roster_preview(actor=cast.diana, school=cast.dongshan, filename="r.csv",
                                                content=ROSTER).pk},
        "audit-events": {"id": event.pk},
        "campaigns": {"id": campaign_create(
            actor=cast.diana, school=cast.dongshan, name="schema", instruments=["phq9"], target_classes=[cast.ds_7_1],
            opens_at=timezone.now(), closes_at=timezone.now() + dt.timedelta(days=7),
        ).pk},
    }


def done_export(cast: Any) -> Any:
    """A done export job of diana's, its file kept (in the test's storage, see visible_ids)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from exports.kinds import XLSX
    from exports.models import ExportJob

    job = ExportJob.objects.create(kind="kpis", params={"school": cast.dongshan.pk, "region": None}, language="en",
                                   requested_by=cast.diana, status="done", filename="schema.xlsx", content_type=XLSX,
                                   expires_at=timezone.now() + dt.timedelta(hours=1))
    job.file = default_storage.save(f"exports/{job.public_id}/schema.xlsx", ContentFile(b"PK\x03\x04"))
    job.save(update_fields=["file"])
    return job


def launched_assignment(cast: Any) -> Any:
    """hamlet's assignment in a launched PHQ-9 + ASQ campaign, with guardian consent on paper."""
    from screening.campaigns.models import Assignment
    from screening.campaigns.services import campaign_launch, consent

    campaign = campaign_create(
        actor=cast.diana, school=cast.dongshan, name="schema-open", instruments=["phq9", "asq"],
        target_classes=[cast.ds_7_1], opens_at=timezone.now() - dt.timedelta(hours=1),
        closes_at=timezone.now() + dt.timedelta(days=7), students_see_results=True,
    )
    campaign_launch(actor=cast.diana, campaign=campaign)
    assignment = Assignment.objects.get(campaign=campaign, student=cast.hamlet)
    consent.paper_consent_record(actor=cast.alice, assignment=assignment, decision="granted", note="on file")
    return assignment


def red_alert(cast: Any) -> Any:
    """A red alert on hilda (ASQ acute), raised through the real submit."""
    from screening.campaigns.models import Assignment
    from screening.campaigns.services import answering, campaign_launch, consent
    from screening.directory.services import student_user_ensure

    campaign = campaign_create(
        actor=cast.diana, school=cast.dongshan, name="schema-red", instruments=["asq"],
        target_classes=[cast.hilda.school_class], opens_at=timezone.now() - dt.timedelta(hours=1),
        closes_at=timezone.now() + dt.timedelta(days=7),
    )
    campaign_launch(actor=cast.diana, campaign=campaign)
    assignment = Assignment.objects.get(campaign=campaign, student=cast.hilda)
    consent.paper_consent_record(actor=cast.alice, assignment=assignment, decision="granted", note="on file")
    user = student_user_ensure(student=cast.hilda)
    assignment.refresh_from_db()
    consent.student_consent_give(actor=user, assignment=assignment, agree=True, language="en")
    assignment.refresh_from_db()
    answers = {"asq": {"1": True, "2": False, "3": False, "4": False, "5": True}}
    outcome = answering.assignment_submit(actor=user, assignment_id=assignment.pk, answers=answers,
                                          idempotency_key="schema", language="en")
    return outcome.submission.alert


@pytest.fixture
def hamlets_assignment(cast: Any, wsgi_in_test_transaction: None) -> tuple[Any, str]:
    from screening.directory.services import student_user_ensure

    assignment = launched_assignment(cast)
    return assignment, Token.objects.create(user=student_user_ensure(student=cast.hamlet)).key


@schema.include(path_regex=r"^/api/v1/me/assignments/").parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_a_students_operations_answer_as_documented(case, hamlets_assignment):
    assignment, token = hamlets_assignment
    if "{id}" in case.path:
        case.path_parameters = {"id": assignment.pk}
    case.call_and_validate(
        headers={"Authorization": f"Token {token}", "Idempotency-Key": "schemathesis"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )


ROSTER = "学号,姓名,性别,出生日期,年级,班级\nD0900,王同学,男,2013-03-04,7,初一(3)班\n".encode()


@pytest.fixture
def visible_ids(cast: Any, tmp_path: Any, settings: Any) -> dict[str, dict[str, Any]]:
    """Made once per test: hypothesis runs every example of a test in the same transaction."""
    settings.DATA_DIR = tmp_path  # where the risk model's file is written
    settings.STORAGES = {**settings.STORAGES, "default": {  # where the export job's file is kept
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path / "media"}}}
    return cast_ids(cast)


@schema.include(path_regex=r"\{").parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_operations_on_visible_objects_answer_as_documented(case, cast, diana_token, visible_ids):
    resource = case.path.split("/")[3]
    case.path_parameters = visible_ids[resource]
    if isinstance(case.body, dict) and "school_class" in case.body:
        case.body["school_class"] = cast.ds_7_2.pk
    case.call_and_validate(
        headers={"Authorization": f"Token {diana_token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )


def test_api_docs_page_loads_without_any_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(https?://[^"'\s>]+)""", html)
    assert external == []
    assert not re.search(r"https?://(?:cdn|unpkg|fonts\.googleapis)", html)


def test_docs_page_assets_are_served_locally(client):
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+\.(?:js|css))["']""", html)
    assert assets, "the docs page references no script or style at all"
    for asset in assets:
        assert asset.startswith("/static/"), asset
