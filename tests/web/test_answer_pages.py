"""The student's pages: consent first, one questionnaire a page, drafts that follow the student to
another device, review, an idempotent submit, the crisis page, and results only where allowed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from screening.campaigns.models import Assignment, Campaign, ConsentRecord, CrisisAlert, Submission
from screening.campaigns.services.campaigns import campaign_close, campaign_create, campaign_launch
from screening.campaigns.services.consent import paper_consent_record, student_consent_give
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
NO_ASQ = {"item-1": "no", "item-2": "no", "item-3": "no", "item-4": "no"}


def launch(cast: Cast, *, instruments: tuple[str, ...] = ("asq",), **options: Any) -> Campaign:
    now = timezone.now()
    campaign = campaign_create(
        actor=cast.diana, school=cast.dongshan, name="春季心理筛查", instruments=list(instruments),
        opens_at=now - dt.timedelta(minutes=5), closes_at=now + dt.timedelta(days=14), target_classes=[cast.ds_7_1],
        **options,
    )
    campaign_launch(actor=cast.diana, campaign=campaign)
    return campaign


def assignment_of(cast: Cast, campaign: Campaign, *, guardian: bool = True, own: bool = False) -> Assignment:
    """Hamlet's assignment, with his guardian's paper consent (recorded by alice) and, if asked, his own."""
    student = cast.hamlet
    user = student_user_ensure(student=student)
    assignment = Assignment.objects.select_related("campaign", "student").get(campaign=campaign, student=student)
    if guardian:
        paper_consent_record(actor=cast.alice, assignment=assignment, decision="granted", note="signed form, 7-1 folder")
    if own:
        student_consent_give(actor=user, assignment=assignment, agree=True,
                             language="zh-hans")
    assignment.refresh_from_db()
    return assignment


def sign_in(client: Client, student: Student, language: str = "en") -> Client:
    client.cookies["django_language"] = language
    client.force_login(student_user_ensure(student=student))
    return client


def url(name: str, assignment: Assignment, *args: Any) -> str:
    return reverse(f"web:{name}", args=[assignment.pk, *args])


def ready(cast: Cast, client: Client, language: str = "en", **options: Any) -> Assignment:
    assignment = assignment_of(cast, launch(cast, **options), own=True)
    sign_in(client, cast.hamlet, language)
    return assignment


def checked(html: str, code: str, item: str) -> str | None:
    """Which option of a question is checked on a page, by its key."""
    for match in re.finditer(rf'<input type="radio" id="i-{code}-{item}-(\w+)"[^>]*>', html):
        if " checked" in match.group(0):
            return match.group(1)
    return None


def hidden(html: str, code: str, item: str) -> bool:
    tag = re.search(rf'<div id="q-{code}-{item}"[^>]*>', html)
    assert tag, f"question {item} is not on the page"
    return " hidden" in tag.group(0)


def review_key(client: Client, assignment: Assignment) -> str:
    html = client.get(url("assignment-review", assignment)).content.decode()
    match = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html)
    assert match, "the review page carries no idempotency key"
    return match.group(1)


# --- consent first ---------------------------------------------------------------------------------


def test_a_student_reads_and_agrees_on_the_first_page_before_any_question(client: Client, cast: Cast) -> None:
    assignment = assignment_of(cast, launch(cast))
    sign_in(client, cast.hamlet)
    start = client.get(url("assignment", assignment))
    assert start.status_code == 302 and start["Location"] == url("assignment-consent", assignment)
    assert client.get(url("assignment-step", assignment, 1))["Location"] == url("assignment-consent", assignment)

    html = client.get(url("assignment-consent", assignment)).content.decode()
    assert "Ask Suicide-Screening Questions (ASQ)" in html
    assert "you can stop at any time" in html.lower()
    assert "a counsellor is told straight away" in html
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]

    agreed = client.post(url("assignment-consent", assignment), {"decision": "agree", "sha256": sha, "language": "en"})
    assert agreed.status_code == 302
    record = ConsentRecord.objects.get(assignment=assignment, party="student")
    assert (record.decision, record.method, record.text_sha256, record.language) == ("granted", "in_app", sha, "en")
    assert client.get(agreed["Location"])["Location"] == url("assignment-step", assignment, 1)


def test_a_student_may_decline_and_is_never_shown_a_question(client: Client, cast: Cast) -> None:
    assignment = assignment_of(cast, launch(cast))
    sign_in(client, cast.hamlet)
    client.post(url("assignment-consent", assignment), {"decision": "decline"})
    assignment.refresh_from_db()
    assert assignment.student_consent == "refused"
    assert client.get(url("assignment-step", assignment, 1))["Location"] == url("assignment-consent", assignment)
    html = client.get(url("assignment-consent", assignment)).content.decode()
    assert "You chose not to take part" in html and 'value="agree"' in html


def test_a_consent_text_changed_since_it_was_shown_is_refused(client: Client, cast: Cast) -> None:
    assignment = assignment_of(cast, launch(cast))
    sign_in(client, cast.hamlet)
    response = client.post(url("assignment-consent", assignment), {"decision": "agree", "sha256": "0" * 64})
    assert response.status_code == 409
    assert "Please read it again" in response.content.decode()
    assert not ConsentRecord.objects.filter(assignment=assignment, party="student").exists()


def test_without_the_guardians_consent_the_student_waits_on_a_friendly_page(client: Client, cast: Cast) -> None:
    assignment = assignment_of(cast, launch(cast), guardian=False)
    sign_in(client, cast.hamlet)
    start = client.get(url("assignment", assignment))
    assert start.status_code == 200
    assert "We are waiting for your guardian&#x27;s consent." in start.content.decode()
    assert client.get(url("assignment-consent", assignment)).status_code == 200  # the same friendly page
    assert client.get(url("assignment-step", assignment, 1)).status_code == 409
    assert client.post(url("assignment-submit", assignment), {"idempotency_key": "k1"}).status_code == 409
    assert not Submission.objects.exists()


def test_a_closed_campaign_says_so_and_refuses_a_submit(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client)
    campaign_close(actor=cast.diana, campaign=assignment.campaign)
    assert "This questionnaire has closed." in client.get(url("assignment", assignment)).content.decode()
    response = client.post(url("assignment-submit", assignment), {"idempotency_key": "k1"})
    assert response.status_code == 409 and "This questionnaire has closed." in response.content.decode()
    saved = client.post(url("assignment-draft", assignment), {"code": "asq", "item-1": "no"}, **HX)
    assert "save-error" in saved.content.decode()


# --- only one's own ---------------------------------------------------------------------------------


@pytest.mark.parametrize("outsider", ["cordelia", "hilda"])
def test_another_students_assignment_is_not_found(client: Client, cast: Cast, outsider: str) -> None:
    assignment = assignment_of(cast, launch(cast), own=True)
    sign_in(client, getattr(cast, outsider))
    for name, args in [("assignment", ()), ("assignment-consent", ()), ("assignment-step", (1,)),
                       ("assignment-review", ()), ("assignment-done", ())]:
        assert client.get(url(name, assignment, *args)).status_code == 404, name
    assert client.post(url("assignment-draft", assignment), {"code": "asq", "item-1": "yes"}, **HX).status_code == 404
    assert client.post(url("assignment-submit", assignment), {"idempotency_key": "k"}).status_code == 404
    assignment.refresh_from_db()
    assert assignment.draft == {} and not Submission.objects.exists()


def test_staff_have_no_questionnaire_to_answer(client: Client, cast: Cast) -> None:
    assignment = assignment_of(cast, launch(cast), own=True)
    client.force_login(cast.diana)
    assert client.get(url("assignment-step", assignment, 1)).status_code == 404


# --- answering, drafts and resuming ------------------------------------------------------------------


def test_a_page_is_one_questionnaire_of_labelled_radios_with_progress(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client, instruments=("phqa", "asq"))
    html = client.get(url("assignment-step", assignment, 1)).content.decode()
    assert "Part 1 of 2" in html and '<progress max="2" value="1"' in html
    assert html.count("<fieldset>") == 12 and html.count("<legend>") == 12
    assert 'for="i-phqa-1-0"' in html and 'id="i-phqa-1-0" name="item-1" value="0"' in html
    assert f'hx-post="{url("assignment-draft", assignment)}"' in html and 'hx-trigger="change"' in html


def test_each_change_saves_the_draft_and_another_device_resumes_with_it(cast: Cast) -> None:
    first = Client()
    assignment = ready(cast, first)
    page = first.get(url("assignment-step", assignment, 1)).content.decode()
    assert hidden(page, "asq", "5")  # asked only after a positive screen

    saved = first.post(url("assignment-draft", assignment), {"code": "asq", "item-1": "yes", "item-2": "no"}, **HX)
    body = saved.content.decode()
    assert saved.status_code == 200 and "Saved" in body
    assert 'id="q-asq-5"' in body and 'hx-swap-oob="true"' in body and not hidden(body, "asq", "5")
    assignment.refresh_from_db()
    assert assignment.draft == {"asq": {"1": True, "2": False}} and assignment.status == "in_progress"

    again = first.post(url("assignment-draft", assignment), {"code": "asq", "item-1": "yes", "item-2": "declined"}, **HX)
    assert 'id="q-asq-5"' not in again.content.decode()  # nothing changed visibility: no swap

    other = sign_in(Client(), cast.hamlet)
    assert other.get(url("assignment", assignment))["Location"] == url("assignment-step", assignment, 1)
    resumed = other.get(url("assignment-step", assignment, 1)).content.decode()
    assert checked(resumed, "asq", "1") == "yes" and checked(resumed, "asq", "2") == "declined"
    assert checked(resumed, "asq", "3") is None and not hidden(resumed, "asq", "5")


def test_an_answer_that_is_no_option_is_refused_and_not_saved(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client)
    response = client.post(url("assignment-step", assignment, 1), {"code": "asq", "item-1": "maybe"})
    assert response.status_code == 400 and "This answer is not one of the options." in response.content.decode()
    assignment.refresh_from_db()
    assert assignment.draft == {}


def test_without_javascript_next_shows_a_question_that_has_come_to_apply(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client)
    again = client.post(url("assignment-step", assignment, 1), {**NO_ASQ, "item-4": "yes", "go": "next"})
    assert again.status_code == 200
    html = again.content.decode()
    assert not hidden(html, "asq", "5") and "One more question now applies to you" in html
    assert checked(html, "asq", "4") == "yes"
    done = client.post(url("assignment-step", assignment, 1), {**NO_ASQ, "item-4": "yes", "item-5": "no"})
    assert done["Location"] == url("assignment-review", assignment)


def test_next_and_back_move_between_questionnaires(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client, instruments=("gad7", "asq"))
    nxt = client.post(url("assignment-step", assignment, 1), {"item-1": "2", "go": "next"})
    assert nxt["Location"] == url("assignment-step", assignment, 2)
    back = client.post(url("assignment-step", assignment, 2), {"item-1": "no", "go": "back"})
    assert back["Location"] == url("assignment-step", assignment, 1)
    assignment.refresh_from_db()
    assert assignment.draft == {"gad7": {"1": 2}, "asq": {"1": False}}
    assert client.get(url("assignment-step", assignment, 9))["Location"] == url("assignment-review", assignment)


def test_stepped_screening_adds_the_phq9_page_and_lengthens_the_progress(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client, instruments=("phq2", "asq"), stepped=True)
    saved = client.post(url("assignment-draft", assignment), {"code": "phq2", "item-1": "2", "item-2": "1"}, **HX)
    assert "Part 1 of 3" in saved.content.decode()
    html = client.get(url("assignment-step", assignment, 2)).content.decode()
    assert "PHQ-9" in html and "Part 2 of 3" in html
    assert checked(html, "phq9", "1") == "2"  # carried over from the PHQ-2


def test_review_lists_unanswered_questions_with_links_back(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client, instruments=("gad7", "asq"))
    client.post(url("assignment-step", assignment, 1), {f"item-{i}": "1" for i in range(1, 7)})
    html = client.get(url("assignment-review", assignment)).content.decode()
    assert "You have left 6 questions unanswered." in html
    assert f'{url("assignment-step", assignment, 1)}#q-gad7-7' in html
    assert f'{url("assignment-step", assignment, 2)}#q-asq-1' in html
    assert "#q-asq-5" not in html  # it does not apply


# --- submit, crisis, results -------------------------------------------------------------------------


def test_an_acute_asq_answer_shows_the_crisis_page_in_the_submit_response(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client)
    client.post(url("assignment-step", assignment, 1), {**NO_ASQ, "item-1": "yes", "item-5": "yes"})
    key = review_key(client, assignment)
    response = client.post(url("assignment-submit", assignment), {"idempotency_key": key})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="tel:0755-1111111"' in html and 'href="tel:12356"' in html and 'href="tel:110"' in html
    assert "A school counsellor has been told and will be in touch with you soon." in html
    assert "<script" not in html.split("</head>")[1]  # nothing on the page needs JavaScript
    submission = Submission.objects.get(assignment=assignment)
    assert submission.crisis and submission.tier == "red" and submission.language == "en"
    assert CrisisAlert.objects.filter(submission=submission).exists()

    done = client.get(url("assignment-done", assignment)).content.decode()
    assert 'href="tel:12356"' in done and "will be in touch with you soon" in done


def test_a_doubled_submit_with_the_same_key_submits_once(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client)
    client.post(url("assignment-step", assignment, 1), {**NO_ASQ, "item-1": "yes", "item-5": "yes"})
    key = review_key(client, assignment)
    first = client.post(url("assignment-submit", assignment), {"idempotency_key": key})
    second = client.post(url("assignment-submit", assignment), {"idempotency_key": key})
    assert first.status_code == second.status_code == 200
    assert 'href="tel:12356"' in second.content.decode()  # the same answer, again
    assert Submission.objects.filter(assignment=assignment).count() == 1
    assert CrisisAlert.objects.count() == 1
    stale = client.post(url("assignment-submit", assignment), {"idempotency_key": "another-device"})
    assert stale["Location"] == url("assignment-done", assignment)
    assert Submission.objects.count() == 1


def test_a_plain_submit_thanks_the_student_without_results_unless_allowed(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client)
    client.post(url("assignment-step", assignment, 1), NO_ASQ)
    response = client.post(url("assignment-submit", assignment), {"idempotency_key": review_key(client, assignment)})
    assert response["Location"] == url("assignment-done", assignment)
    html = client.get(response["Location"]).content.decode()
    assert "Thank you for taking the time" in html and "Your results" not in html
    assert "tel:110" not in html  # no crisis block, only the usual help
    assert client.get(url("assignment", assignment))["Location"] == url("assignment-done", assignment)
    assert client.get(url("assignment-step", assignment, 1))["Location"] == url("assignment-done", assignment)


def test_results_are_shown_in_plain_words_where_the_campaign_allows(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client, instruments=("gad7",), students_see_results=True)
    client.post(url("assignment-step", assignment, 1), {f"item-{i}": "0" for i in range(1, 8)})
    client.post(url("assignment-submit", assignment), {"idempotency_key": review_key(client, assignment)})
    html = client.get(url("assignment-done", assignment)).content.decode()
    assert "Your results" in html and "Your answers look like what many students feel." in html
    assert "green" not in html.lower()  # never the tier


# --- home and languages -------------------------------------------------------------------------------


def test_home_lists_open_questionnaires_with_start_then_continue(client: Client, cast: Cast) -> None:
    assignment = ready(cast, client)
    home = client.get("/home/").content.decode()
    assert "春季心理筛查" in home and url("assignment", assignment) in home and ">Start<" in home
    client.post(url("assignment-draft", assignment), {"code": "asq", "item-1": "no"}, **HX)
    assert ">Continue<" in client.get("/home/").content.decode()


@pytest.mark.parametrize("language,html_lang,wording", [
    ("en", 'lang="en"', "In the past few weeks, have you wished you were dead?"),
    ("zh-hans", 'lang="zh-Hans"', "下一页"),
])
def test_pages_render_in_english_and_chinese(client: Client, cast: Cast, language: str, html_lang: str,
                                             wording: str) -> None:
    assignment = ready(cast, client, language)
    for name, args in [("assignment-consent", ()), ("assignment-step", (1,)), ("assignment-review", ())]:
        html = client.get(url(name, assignment, *args)).content.decode()
        assert html_lang in html, name
    step = client.get(url("assignment-step", assignment, 1)).content.decode()
    assert wording in step
    consent = client.get(url("assignment-consent", assignment)).content.decode()
    name = "自杀风险筛查问题（ASQ）" if language == "zh-hans" else "Ask Suicide-Screening Questions (ASQ)"
    assert name in consent


def test_a_signed_out_visitor_is_sent_to_the_students_sign_in(client: Client, cast: Cast) -> None:
    assignment = assignment_of(cast, launch(cast), own=True)
    response = client.get(url("assignment-step", assignment, 1))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:student-login"))
