"""Every read of identifiable student data through the API is in the audit log (DESIGN.md §4)."""

from __future__ import annotations

from screening.core.models import AuditEvent


def test_listing_students_logs_one_list_entry_per_student_returned(cast, api):
    before = AuditEvent.objects.count()
    response = api.as_(cast.alice).get("/api/v1/students/")
    returned = {row["public_id"] for row in response.json()["results"]}

    entries = AuditEvent.objects.order_by("id")[before:]
    listed = [e for e in entries if e.action == "list"]
    assert sorted(e.student_public_id for e in listed) == sorted(returned)
    assert returned == {cast.hamlet.public_id, cast.hilda.public_id}
    assert {(e.actor_username, e.role, e.school_id) for e in listed} == {("alice", "counsellor", cast.dongshan.pk)}


def test_a_second_page_logs_only_the_students_on_that_page(cast, api):
    before = AuditEvent.objects.count()
    response = api.as_(cast.diana).get("/api/v1/students/?page_size=1&page=2")
    shown = [row["public_id"] for row in response.json()["results"]]

    assert len(shown) == 1
    assert [e.student_public_id for e in AuditEvent.objects.order_by("id")[before:] if e.action == "list"] == shown


def test_opening_a_student_logs_one_read_entry(cast, api):
    before = AuditEvent.objects.count()
    api.as_(cast.alice).get(f"/api/v1/students/{cast.hilda.public_id}/")

    new = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.action, e.student_public_id, e.actor_username) for e in new] == [
        ("read", cast.hilda.public_id, "alice")
    ]


def test_a_filtered_list_that_returns_nobody_logs_nothing(cast, api):
    before = AuditEvent.objects.count()
    api.as_(cast.alice).get("/api/v1/students/?q=no-such-student")
    assert AuditEvent.objects.count() == before


def test_reference_data_reads_are_not_logged_as_student_reads(cast, api):
    before = AuditEvent.objects.count()
    api.as_(cast.alice).get("/api/v1/classes/")
    api.as_(cast.alice).get("/api/v1/schools/")
    assert AuditEvent.objects.count() == before


def test_listing_cases_logs_one_list_entry_per_case_returned(cast, api):
    from tests.cases.case_helpers import flag

    flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hilda, "orange")
    before = AuditEvent.objects.count()
    response = api.as_(cast.carol).get("/api/v1/cases/")
    returned = [row["student"] for row in response.json()["results"]]

    entries = list(AuditEvent.objects.order_by("id")[before:])
    assert returned == [cast.hamlet.public_id]
    assert [(e.action, e.student_public_id, e.actor_username) for e in entries] == [
        ("list", cast.hamlet.public_id, "carol")
    ]


def test_opening_a_case_logs_one_read_entry(cast, api):
    from screening.cases.models import Case
    from tests.cases.case_helpers import flag

    flag(cast, cast.hilda, "yellow")
    before = AuditEvent.objects.count()
    api.as_(cast.diana).get(f"/api/v1/cases/{Case.objects.get().pk}/")
    assert [(e.action, e.student_public_id, e.school_id) for e in AuditEvent.objects.order_by("id")[before:]] == [
        ("read", cast.hilda.public_id, cast.dongshan.pk)
    ]


def test_listing_risk_scores_logs_one_list_entry_per_student_scored(cast, api, tmp_path, settings):
    from tests.cases.case_helpers import flag
    from tests.riskmodels.risk_helpers import register

    settings.DATA_DIR = tmp_path
    register(cast, activate=True)
    flag(cast, cast.hamlet, "yellow", exact=False)
    flag(cast, cast.hilda, "orange", exact=False)
    before = AuditEvent.objects.count()
    response = api.as_(cast.carol).get("/api/v1/risk-scores/")
    returned = [row["student"] for row in response.json()["results"]]

    assert returned == [cast.hamlet.public_id]
    assert [(e.action, e.student_public_id, e.actor_username) for e in AuditEvent.objects.order_by("id")[before:]] == [
        ("list", cast.hamlet.public_id, "carol")
    ]


def test_reading_risk_model_cards_is_not_a_student_read(cast, api, tmp_path, settings):
    from tests.riskmodels.risk_helpers import register

    settings.DATA_DIR = tmp_path
    model = register(cast, school=cast.dongshan)
    before = AuditEvent.objects.count()
    api.as_(cast.diana).get("/api/v1/risk-models/")
    api.get(f"/api/v1/risk-models/{model.pk}/")
    api.get(f"/api/v1/risk-models/{model.pk}/roc.svg")
    assert AuditEvent.objects.count() == before


def test_listing_and_opening_referrals_logs_each_student_read(cast, api):
    from tests.cases.case_helpers import flag
    from tests.referrals.referral_helpers import referral_of

    flag(cast, cast.hilda, "red")
    _agreement, _consent, referral = referral_of(cast, cast.hilda)
    before = AuditEvent.objects.count()
    api.as_(cast.diana).get("/api/v1/referrals/")
    api.get(f"/api/v1/referrals/{referral.pk}/")
    api.as_(cast.carol).get(f"/api/v1/referrals/{referral.pk}/")  # not hers: a denied attempt, no read
    assert [(e.action, e.student_public_id, e.actor_username) for e in AuditEvent.objects.order_by("id")[before:]] == [
        ("list", cast.hilda.public_id, "diana"), ("read", cast.hilda.public_id, "diana"),
        ("denied", cast.hilda.public_id, "carol")]


def test_reading_agreements_is_not_a_student_read(cast, api):
    from tests.cases.case_helpers import flag
    from tests.referrals.referral_helpers import referral_of

    flag(cast, cast.hilda, "red")
    agreement, _consent, _referral = referral_of(cast, cast.hilda, send=True)
    before = AuditEvent.objects.count()
    api.as_(cast.lily).get("/api/v1/agreements/")
    api.get(f"/api/v1/agreements/{agreement.pk}/")
    assert AuditEvent.objects.count() == before
