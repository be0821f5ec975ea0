"""Consent to research use: a separate, optional question beside the screening consent.

Who it covers (rules.research_use_covered, the one rule), how each party answers it (the
guardian's link, the student's first page and the API, paper forms), that a no never stops a
student being screened, and that a later withdrawal, of research use or of the screening, takes
a student out again.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from campaign_test_helpers import ME, STAFF, assignment_of, campaign_open, code_of, phq9_total, submit
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from screening.campaigns import rules
from screening.campaigns.models import Assignment, Campaign, ConsentRecord
from screening.campaigns.services import answering, consent
from screening.core.errors import Conflict
from screening.core.models import AuditEvent
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from tests.conftest import Cast, make_student

pytestmark = pytest.mark.django_db

ANSWERS = {"phq9": phq9_total(3), "asq": {"1": False, "2": False, "3": False, "4": False}}
RESEARCH = ConsentRecord.Purpose.RESEARCH


def research_campaign(cast: Cast, **extra: Any) -> Campaign:
    return campaign_open(cast, asks_research_use=True, **extra)


def guardian_answers(assignment: Assignment, *, research: bool | None, decision: str = "granted") -> None:
    invitation = consent.guardian_invitation_for_token(consent.guardian_token(assignment.invitations.get()))
    consent.guardian_decide(invitation=invitation, decision=decision, language="zh-hans", research=research)


def student_answers(student: Student, campaign: Campaign, *, research: bool | None) -> Assignment:
    return consent.student_consent_give(actor=student_user_ensure(student=student),
                                        assignment=assignment_of(campaign, student), agree=True, language="en",
                                        research=research)


def take_part(campaign: Campaign, student: Student, *, guardian: bool | None, own: bool | None) -> Assignment:
    """The guardian (where one is asked) and then the student consent to the screening, each
    answering the research question as given (None: not asked)."""
    assignment = assignment_of(campaign, student)
    if rules.guardian_role(assignment) is rules.GuardianRole.CONSENT:
        guardian_answers(assignment, research=guardian)
    return student_answers(student, campaign, research=own)


def covered(campaign: Campaign) -> set[str]:
    return set(rules.research_use_covered(campaign).values_list("student__public_id", flat=True))


def research_records(assignment: Assignment, party: str | None = None) -> list[str]:
    qs = ConsentRecord.objects.filter(assignment=assignment, purpose=RESEARCH).order_by("at", "id")
    if party:
        qs = qs.filter(party=party)
    return list(qs.values_list("decision", flat=True))


@pytest.fixture
def teen(cast: Cast) -> Student:
    return make_student(cast.ds_7_1, "D0101", "唐小青", 15)


@pytest.fixture
def adult(cast: Cast) -> Student:
    return make_student(cast.ds_7_2, "D0102", "艾成年", 19)


# --- the rule ------------------------------------------------------------------------------------


def test_a_minor_is_covered_only_when_guardian_and_student_both_say_yes(cast: Cast, teen: Student) -> None:
    campaign = research_campaign(cast)
    take_part(campaign, cast.hamlet, guardian=True, own=True)  # 12: covered
    take_part(campaign, cast.hilda, guardian=False, own=True)  # 13, guardian said no: out
    take_part(campaign, teen, guardian=True, own=False)  # 15, said no themself: out
    assert covered(campaign) == {cast.hamlet.public_id}


def test_a_student_of_14_to_17_needs_the_guardian_even_where_they_consent_to_screening_alone(
        cast: Cast, teen: Student) -> None:
    campaign = research_campaign(cast, consent_mode=Campaign.ConsentMode.GUARDIAN_NOTICE)
    assignment = take_part(campaign, teen, guardian=None, own=True)
    assert assignment.guardian == "notified" and covered(campaign) == set()  # told, not asked: not enough
    invitation = assignment.invitations.get()
    consent.guardian_research_decide(invitation=invitation, agree=True, language="zh-hans")
    assert covered(campaign) == {teen.public_id}


def test_an_adult_is_covered_by_their_own_yes(cast: Cast, adult: Student) -> None:
    campaign = research_campaign(cast)
    assert rules.guardian_role(assignment_of(campaign, adult)) is rules.GuardianRole.NONE
    take_part(campaign, adult, guardian=None, own=True)
    assert covered(campaign) == {adult.public_id}


def test_age_counts_on_the_campaign_opening_day(cast: Cast) -> None:
    opens_at = timezone.now() - dt.timedelta(hours=1)  # as campaign_open opens it
    cutoff = rules.born_on_or_before(timezone.localdate(opens_at), 18)
    nearly = make_student(cast.ds_7_1, "D0103", "差一天", 18)
    exactly = make_student(cast.ds_7_1, "D0104", "正好", 18)
    Student.objects.filter(pk=nearly.pk).update(birth_date=cutoff + dt.timedelta(days=1))
    Student.objects.filter(pk=exactly.pk).update(birth_date=cutoff)
    campaign = research_campaign(cast)
    for student in (nearly, exactly):
        take_part(campaign, student, guardian=None, own=True)  # no guardian says yes to research
    assert covered(campaign) == {exactly.public_id}  # 17 on the opening day: the guardian must agree too


@given(day=st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2099, 12, 31)),
       born=st.dates(min_value=dt.date(1980, 1, 1), max_value=dt.date(2099, 12, 31)),
       years=st.sampled_from([14, 18]))
def test_born_on_or_before_agrees_with_age_on(day: dt.date, born: dt.date, years: int) -> None:
    student = Student(birth_date=born)
    assert (student.age_on(day) >= years) == (born <= rules.born_on_or_before(day, years))


def test_a_later_no_undoes_a_yes_and_a_new_yes_counts_again(cast: Cast) -> None:
    campaign = research_campaign(cast)
    take_part(campaign, cast.hamlet, guardian=True, own=True)
    user = student_user_ensure(student=cast.hamlet)
    consent.student_research_consent(actor=user, assignment=assignment_of(campaign, cast.hamlet), agree=False,
                                     language="en")
    assert covered(campaign) == set()
    consent.student_research_consent(actor=user, assignment=assignment_of(campaign, cast.hamlet), agree=True,
                                     language="en")
    assert covered(campaign) == {cast.hamlet.public_id}
    assert research_records(assignment_of(campaign, cast.hamlet), "student") == ["granted", "withdrawn", "granted"]


def test_withdrawing_the_screening_consent_ends_research_use_too(cast: Cast, teen: Student) -> None:
    campaign = research_campaign(cast)
    take_part(campaign, cast.hamlet, guardian=True, own=True)
    take_part(campaign, teen, guardian=True, own=True)
    consent.student_consent_withdraw(actor=student_user_ensure(student=teen), assignment=assignment_of(campaign, teen),
                                     language="en")
    guardian_answers(assignment_of(campaign, cast.hamlet), research=None, decision="withdrawn")
    assert covered(campaign) == set()


def test_a_campaign_that_does_not_ask_covers_nobody_and_records_nothing(cast: Cast) -> None:
    campaign = campaign_open(cast)
    take_part(campaign, cast.hamlet, guardian=True, own=True)
    assert covered(campaign) == set()
    assert not ConsentRecord.objects.filter(purpose=RESEARCH).exists()


# --- recording it --------------------------------------------------------------------------------


def test_the_research_answer_is_its_own_record_and_never_the_screening_mirror(cast: Cast) -> None:
    campaign = research_campaign(cast)
    assignment = take_part(campaign, cast.hamlet, guardian=False, own=False)
    assert (assignment.guardian, assignment.student_consent) == ("granted", "granted")
    records = ConsentRecord.objects.filter(assignment=assignment, purpose=RESEARCH)
    assert sorted(records.values_list("party", "decision")) == [("guardian", "refused"), ("student", "refused")]
    student_record = records.get(party="student")
    text = consent.research_text(party="student", assignment=assignment, language="en")
    assert (student_record.text_version, student_record.text_sha256) == (consent.RESEARCH_TEXT_VERSION, text.sha256)
    assert text.sha256 != consent.consent_text(party="student", assignment=assignment, language="en").sha256
    audit = AuditEvent.objects.get(object_type="campaigns.ConsentRecord", object_id=str(student_record.pk))
    assert audit.detail["purpose"] == "research" and audit.student_public_id == cast.hamlet.public_id


def test_saying_no_to_research_never_stops_the_screening(cast: Cast) -> None:
    campaign = research_campaign(cast)
    assignment = take_part(campaign, cast.hamlet, guardian=False, own=False)
    assert rules.answer_blocker(assignment) is None
    outcome = answering.assignment_submit(actor=student_user_ensure(student=cast.hamlet), assignment_id=assignment.pk,
                                          answers=ANSWERS, idempotency_key="k1", language="en")
    assert outcome.created


def test_a_guardian_who_refused_the_screening_cannot_say_yes_to_research(cast: Cast) -> None:
    campaign = research_campaign(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    guardian_answers(assignment, research=None, decision="refused")
    with pytest.raises(Conflict):
        consent.guardian_research_decide(invitation=assignment.invitations.get(), agree=True, language="en")
    assert research_records(assignment) == []


def test_a_stale_research_text_is_refused(cast: Cast) -> None:
    campaign = research_campaign(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    invitation = consent.guardian_invitation_for_token(consent.guardian_token(assignment.invitations.get()))
    with pytest.raises(Conflict) as refused:
        consent.guardian_decide(invitation=invitation, decision="granted", language="en", research=True,
                                research_sha256="0" * 64)
    assert refused.value.code == "consent_text_changed"
    assert assignment_of(campaign, cast.hamlet).guardian == "asked"  # nothing half-written
    assert research_records(assignment) == []


# --- the guardian's page -------------------------------------------------------------------------


def link(assignment: Assignment) -> str:
    return reverse("web:guardian-consent", args=[consent.guardian_token(assignment.invitations.get())])


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


def test_guardian_page_checkbox_writes_the_research_record(client: Client, cast: Cast) -> None:
    campaign = research_campaign(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    url = link(assignment)
    client.cookies["django_language"] = "en"
    html = client.get(url).content.decode()
    box = re.search(r'<input type="checkbox" name="research"[^>]*>', html)
    assert box and "checked" not in box.group(0)  # optional, and unticked until the guardian ticks it
    assert "Research use (optional)" in html and "without names" in html
    response = client.post(url, {"decision": "granted", "sha256": hidden(html, "sha256"), "language": "en",
                                 "research_asked": "1", "research": "yes",
                                 "research_sha256": hidden(html, "research_sha256")})
    assert response.status_code == 302
    record = ConsentRecord.objects.get(assignment=assignment, purpose=RESEARCH)
    assert (record.party, record.decision, record.method) == ("guardian", "granted", "link")
    assert record.text_sha256 == consent.research_text(party="guardian", assignment=assignment, language="en").sha256
    assert assignment_of(campaign, cast.hamlet).guardian == "granted"

    # Later, on the same link: a yes can be withdrawn.
    html = client.get(url).content.decode()
    assert "Withdraw consent to research use" in html
    client.post(url, {"research_only": "1", "research_asked": "1", "research": "no", "language": "en"})
    assert research_records(assignment, "guardian") == ["granted", "withdrawn"]
    assert assignment_of(campaign, cast.hamlet).guardian == "granted"  # the screening consent stands


def test_guardian_page_unticked_box_is_a_refusal_and_can_be_changed_later(client: Client, cast: Cast) -> None:
    campaign = research_campaign(cast)
    assignment = assignment_of(campaign, cast.hamlet)
    url = link(assignment)
    html = client.get(url).content.decode()
    client.post(url, {"decision": "granted", "sha256": hidden(html, "sha256"), "language": hidden(html, "language"),
                      "research_asked": "1"})
    assert research_records(assignment, "guardian") == ["refused"]
    html = client.get(url).content.decode()
    client.post(url, {"research_only": "1", "research_asked": "1", "research": "yes",
                      "research_sha256": hidden(html, "research_sha256"), "language": hidden(html, "language")})
    assert research_records(assignment, "guardian") == ["refused", "granted"]


def test_guardian_page_has_no_research_question_where_the_campaign_does_not_ask(client: Client, cast: Cast) -> None:
    assignment = assignment_of(campaign_open(cast), cast.hamlet)
    html = client.get(link(assignment)).content.decode()
    assert 'name="research"' not in html


# --- the student's page and API ------------------------------------------------------------------


def test_student_first_page_checkbox_and_withdrawal_after_submitting(client: Client, cast: Cast,
                                                                     adult: Student) -> None:
    campaign = research_campaign(cast)
    assignment = assignment_of(campaign, adult)
    client.force_login(student_user_ensure(student=adult))
    client.cookies["django_language"] = "en"
    url = reverse("web:assignment-consent", args=[assignment.pk])
    html = client.get(url).content.decode()
    box = re.search(r'<input type="checkbox" name="research"[^>]*>', html)
    assert box and "checked" not in box.group(0)
    client.post(url, {"decision": "agree", "sha256": hidden(html, "sha256"), "language": "en", "research_asked": "1",
                      "research": "yes", "research_sha256": hidden(html, "research_sha256")})
    assert research_records(assignment, "student") == ["granted"]
    answering.assignment_submit(actor=student_user_ensure(student=adult), assignment_id=assignment.pk,
                                answers=ANSWERS, idempotency_key="k1", language="en")
    done = client.get(reverse("web:assignment-done", args=[assignment.pk])).content.decode()
    assert "Stop using my answers for research" in done
    response = client.post(reverse("web:assignment-research", args=[assignment.pk]),
                           {"research_asked": "1", "research": "no", "language": "en"})
    assert response.status_code == 302 and response["Location"].endswith("/done/")
    assert research_records(assignment, "student") == ["granted", "withdrawn"]
    assert covered(campaign) == set()


def test_someone_elses_research_answer_is_a_404(client: Client, cast: Cast) -> None:
    campaign = research_campaign(cast)
    client.force_login(student_user_ensure(student=cast.hilda))
    response = client.post(reverse("web:assignment-research", args=[assignment_of(campaign, cast.hamlet).pk]),
                           {"research_asked": "1", "research": "yes"})
    assert response.status_code == 404


def test_student_api_offers_the_research_text_and_records_the_answer(api: Any, cast: Cast, adult: Student) -> None:
    campaign = research_campaign(cast)
    assignment = assignment_of(campaign, adult)
    client = api.as_(adult)
    text = client.get(f"{ME}{assignment.pk}/consent/?lang=en").json()
    assert text["research"]["version"] == consent.RESEARCH_TEXT_VERSION and "Research" in text["research"]["html"]
    agreed = client.post(f"{ME}{assignment.pk}/consent/?lang=en",
                         {"agree": True, "text_sha256": text["sha256"], "research": True,
                          "research_sha256": text["research"]["sha256"]}, format="json")
    assert agreed.status_code == 200, agreed.json()
    assert agreed.json()["research_consent"] == "granted" and agreed.json()["asks_research_use"] is True
    assert submit(client, assignment_of(campaign, adult), ANSWERS).status_code == 201
    later = client.post(f"{ME}{assignment.pk}/consent/?lang=en", {"agree": True, "research": False}, format="json")
    assert later.status_code == 200 and later.json()["research_consent"] == "withdrawn"
    assert later.json()["student_consent"] == "granted"


def test_student_api_research_without_taking_part_is_refused(api: Any, cast: Cast, adult: Student) -> None:
    campaign = research_campaign(cast)
    assignment = assignment_of(campaign, adult)
    declined = api.as_(adult).post(f"{ME}{assignment.pk}/consent/", {"agree": False, "research": True}, format="json")
    assert declined.status_code == 200 and declined.json()["research_consent"] is None
    with pytest.raises(Conflict) as refused:
        consent.student_research_consent(actor=student_user_ensure(student=adult), assignment=assignment,
                                         agree=True, language="en")
    assert refused.value.code == "student_consent_needed"


# --- staff: campaign set-up and paper forms ------------------------------------------------------


def test_campaign_api_accepts_asks_research_use(api: Any, cast: Cast) -> None:
    now = timezone.now()
    response = api.as_(cast.diana).post("/api/v1/campaigns/", {
        "school": cast.dongshan.pk, "name": "研究", "instruments": ["phq9"], "target_grades": [7],
        "opens_at": now.isoformat(), "closes_at": (now + dt.timedelta(days=3)).isoformat(),
        "asks_research_use": True,
    }, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["asks_research_use"] is True
    assert Campaign.objects.get(pk=response.json()["id"]).asks_research_use


def test_campaign_form_offers_research_use_unticked(client: Client, cast: Cast) -> None:
    client.force_login(cast.diana)
    html = client.get(reverse("web:campaign-new")).content.decode()
    box = re.search(r'<input type="checkbox" name="asks_research_use"[^>]*>', html)
    assert box and "checked" not in box.group(0)


def test_paper_form_records_a_research_withdrawal(api: Any, cast: Cast) -> None:
    campaign = research_campaign(cast)
    assignment = take_part(campaign, cast.hamlet, guardian=True, own=True)
    response = api.as_(cast.alice).post(f"{STAFF}{assignment.pk}/paper-consent/",
                                        {"decision": "withdrawn", "note": "电话告知，已存档", "purpose": "research"},
                                        format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["purpose"] == "research"
    assert research_records(assignment, "guardian") == ["granted", "withdrawn"]
    assert assignment_of(campaign, cast.hamlet).guardian == "granted"
    assert covered(campaign) == set()
    again = api.as_(cast.alice).post(f"{STAFF}{assignment.pk}/paper-consent/",
                                     {"decision": "withdrawn", "note": "again", "purpose": "research"}, format="json")
    assert again.status_code == 409 and code_of(again) == "nothing_to_withdraw"


def test_a_guardian_who_is_only_told_can_still_say_yes_to_research_on_the_page(client: Client, cast: Cast,
                                                                               teen: Student) -> None:
    campaign = research_campaign(cast, consent_mode=Campaign.ConsentMode.GUARDIAN_NOTICE)
    assignment = assignment_of(campaign, teen)
    url = link(assignment)
    html = client.get(url).content.decode()
    assert 'name="research_only"' in html and 'value="refused"' in html  # "I object", and research on its own
    client.post(url, {"research_only": "1", "research_asked": "1", "research": "yes",
                      "research_sha256": hidden(html, "research_sha256"), "language": hidden(html, "language")})
    assert research_records(assignment, "guardian") == ["granted"]
    assert assignment_of(campaign, teen).guardian == "notified"
