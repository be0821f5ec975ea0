"""The counsellor workspace pages: the queue (order, filters, counts, its polled partial), a case
(acknowledge, contact, plan, move, close, with the service's refusals on the form), the alert
pages' acknowledgement, the escalations with the measures, and the student's file.

Only staff who cover the student see a case (404 otherwise, and it is absent from their queue);
every student shown is audited."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from screening.campaigns.models import CrisisAlert
from screening.cases.models import Case, CaseEvent, Contact, FollowUp
from screening.cases.services import escalation, work
from screening.core.models import AuditEvent
from screening.directory.models import Student
from screening.directory.services import student_user_ensure
from tests.cases.case_helpers import campaign_for, case_of, flag
from tests.conftest import Cast, make_student

pytestmark = pytest.mark.django_db

QUEUE = reverse("web:cases")


def sign_in(client: Client, who: Any, language: str = "en") -> Client:
    client.cookies["django_language"] = language
    client.force_login(student_user_ensure(student=who) if isinstance(who, Student) else who)
    return client


def html_of(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.content.decode())


def queue_names(html: str) -> list[str]:
    """The students' names in the queue's rows, top to bottom."""
    return re.findall(r'<tr class="case-row[^"]*" data-case="\d+">.*?<a href="/cases/\d+/">([^<]+)</a>', html, re.S)


def contact_data(form_html: str = "", **overrides: Any) -> dict[str, Any]:
    data = {
        "request_key": "key-1", "kind": "student", "at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "method": "face_to_face", "participants": ["student"], "outcome": "confirmed_need", "note": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def speaks_of_risk_and_need(html: str) -> bool:
    """No word of diagnosis in the page's main part, other than to say a result is not one."""
    main = html.split("<footer")[0].lower().replace("not a diagnosis", "")
    return "diagnos" not in main


def a_third_student(cast: Cast) -> Student:
    return make_student(cast.ds_7_1, "D0003", "赵小华", 13)


# --- the queue -----------------------------------------------------------------------------------


def test_the_queue_puts_red_first_then_the_least_time_left_and_counts_each_tier(client: Client, cast: Cast) -> None:
    third = a_third_student(cast)
    flag(cast, cast.hamlet, "yellow")
    flag(cast, third, "yellow")
    flag(cast, cast.hilda, "red")
    # The third student's first contact falls due sooner than hamlet's.
    Case.objects.filter(student=third).update(first_contact_due_at=timezone.now() + dt.timedelta(hours=2))

    html = html_of(sign_in(client, cast.alice).get(QUEUE))

    assert queue_names(html) == ["何小丽", "赵小华", "韩小明"]
    counts = dict(re.findall(r'data-tier-count="(\w+)">(\d+)<', html))
    assert counts == {"red": "1", "orange": "0", "yellow": "2"}
    assert "tier-badge tier-red" in html and "Open red alert" in html
    assert "left to first contact" in html
    assert "初一(2)班" in html  # the class under the name


def test_an_overdue_first_contact_is_shown_in_red_and_can_be_filtered(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hilda, "orange")
    Case.objects.filter(student=cast.hamlet).update(first_contact_due_at=timezone.now() - dt.timedelta(hours=3))
    sign_in(client, cast.alice)

    html = html_of(client.get(QUEUE))
    assert 'class="overdue">first contact overdue by' in html

    assert queue_names(html_of(client.get(QUEUE, {"overdue": "on"}))) == ["韩小明"]


def test_the_queue_filters_by_class_tier_status_and_campaign(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    hilda_campaign = campaign_for(cast, cast.hilda)
    flag(cast, cast.hilda, "orange", campaign=hilda_campaign)
    sign_in(client, cast.alice)

    assert queue_names(html_of(client.get(QUEUE, {"school_class": cast.ds_7_1.pk}))) == ["韩小明"]
    assert queue_names(html_of(client.get(QUEUE, {"tier": "orange"}))) == ["何小丽"]
    assert queue_names(html_of(client.get(QUEUE, {"campaign": hilda_campaign.pk}))) == ["何小丽"]
    work.contact_record(actor=cast.alice, case=case_of(cast.hamlet), at=timezone.now(), method="phone",
                        participants=["student"], outcome="no_current_need")
    assert queue_names(html_of(client.get(QUEUE, {"status": "in_contact"}))) == ["韩小明"]
    # The counts stay those of every open case, whatever the filter.
    filtered = html_of(client.get(QUEUE, {"tier": "orange"}))
    assert dict(re.findall(r'data-tier-count="(\w+)">(\d+)<', filtered)) == {"red": "0", "orange": "1", "yellow": "1"}


def test_the_queue_offers_only_the_users_classes_and_shows_a_follow_up_state(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    work.contact_record(actor=cast.carol, case=case, at=timezone.now(), method="phone", participants=["student"],
                        outcome="confirmed_need")
    today = timezone.localdate()
    work.follow_up_plan_create(actor=cast.carol, case=case, dates=[today])
    html = html_of(sign_in(client, cast.carol).get(QUEUE))
    assert "follow-up due today" in html
    assert f'value="{cast.ds_7_1.pk}"' in html and f'value="{cast.ds_7_2.pk}"' not in html
    FollowUp.objects.filter(case=case).update(due_on=today - dt.timedelta(days=2), status="missed")
    assert 'class="overdue">follow-up missed' in html_of(client.get(QUEUE))


def test_the_queue_refreshes_itself_with_an_htmx_partial(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    sign_in(client, cast.alice)

    full = html_of(client.get(QUEUE, {"tier": "yellow"}))
    assert "<html" in full and 'hx-trigger="every 30s"' in full
    assert 'hx-get="/cases/?tier=yellow"' in full  # the poll keeps the filters

    partial = html_of(client.get(QUEUE, {"tier": "yellow"}, headers={"HX-Request": "true"}))
    assert "<html" not in partial and partial.lstrip().startswith('<div id="case-queue"')
    assert 'hx-trigger="every 30s"' in partial and "韩小明" in partial


def test_every_student_in_the_queue_is_audited(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hilda, "yellow")
    html_of(sign_in(client, cast.alice).get(QUEUE))
    listed = set(AuditEvent.objects.filter(action="list", actor_username="alice").values_list("student_public_id", flat=True))
    assert listed == {cast.hamlet.public_id, cast.hilda.public_id}


def test_a_class_limited_counsellor_neither_lists_nor_opens_a_case_outside_her_classes(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    flag(cast, cast.hilda, "orange")  # class 7-2; carol covers 7-1 only
    hilda_case = case_of(cast.hilda)
    sign_in(client, cast.carol)

    html = html_of(client.get(QUEUE))
    assert queue_names(html) == ["韩小明"] and "何小丽" not in html
    assert dict(re.findall(r'data-tier-count="(\w+)">(\d+)<', html))["orange"] == "0"
    assert client.get(reverse("web:case", args=[hilda_case.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="denied", object_type="cases.Case", actor_username="carol").exists()
    posted = client.post(reverse("web:case-contact", args=[hilda_case.pk]), contact_data())
    assert posted.status_code == 404 and not Contact.objects.exists()
    assert client.post(reverse("web:case-close", args=[hilda_case.pk]), {"reason": "no_current_need"}).status_code == 404
    assert case_of(cast.hilda).status == "open"


def test_another_schools_counsellor_gets_404(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    sign_in(client, cast.bob)
    assert client.get(reverse("web:case", args=[case_of(cast.hamlet).pk])).status_code == 404
    assert "韩小明" not in html_of(client.get(QUEUE))


@pytest.mark.parametrize("who", ["lily", "olga", "nobody", "hamlet"])
def test_liaisons_analysts_students_and_users_without_a_role_get_no_workspace(client: Client, cast: Cast, who: str) -> None:
    flag(cast, cast.hamlet, "red")
    case = case_of(cast.hamlet)
    alert = CrisisAlert.objects.get()
    sign_in(client, getattr(cast, who))
    for url in (QUEUE, reverse("web:case", args=[case.pk]), reverse("web:escalations")):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("web:alert-acknowledge", args=[alert.pk])).status_code == 403
    assert client.post(reverse("web:case-contact", args=[case.pk]), contact_data()).status_code == 403
    assert CrisisAlert.objects.get().acknowledged_at is None and not Contact.objects.exists()


def test_a_signed_out_reader_of_the_emailed_link_is_asked_to_sign_in(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    response = client.get(reverse("web:case", args=[case_of(cast.hamlet).pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_staff_navigation_and_home_lead_to_the_cases(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "orange")
    html = html_of(sign_in(client, cast.alice).get(reverse("web:home")))
    assert f'href="{QUEUE}"' in html and "Open cases: 0 red, 1 orange, 0 yellow." in html
    assert reverse("web:escalations") not in html.split("</nav>")[0]  # the head's page is not in her menu
    head = html_of(sign_in(Client(), cast.diana).get(reverse("web:home")))
    assert reverse("web:escalations") in head.split("</nav>")[0]


# --- one case --------------------------------------------------------------------------------------


def test_the_case_page_shows_the_case_and_audits_the_read(client: Client, cast: Cast) -> None:
    submission = flag(cast, cast.hamlet, "orange")
    case = case_of(cast.hamlet)
    html = html_of(sign_in(client, cast.alice).get(reverse("web:case", args=[case.pk])))

    assert "韩小明" in html and "初一(1)班" in html and "tier-badge tier-orange" in html
    assert "waiting for first contact" in html
    assert timezone.localtime(case.first_contact_due_at).strftime("%Y-%m-%d %H:%M") in html
    assert escape(submission.tier_rules[0]["description"]["en"]) in html
    assert "case opened" in html  # the timeline
    assert reverse("web:student", args=[cast.hamlet.public_id]) in html
    assert speaks_of_risk_and_need(html)
    read = AuditEvent.objects.get(action="read", actor_username="alice")
    assert read.student_public_id == cast.hamlet.public_id


def test_the_red_alert_is_acknowledged_once_from_the_case_page(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    case = case_of(cast.hamlet)
    alert = CrisisAlert.objects.get()
    here = reverse("web:case", args=[case.pk])
    sign_in(client, cast.alice)
    html = html_of(client.get(here))
    assert reverse("web:alert-acknowledge", args=[alert.pk]) in html and "Acknowledge" in html

    response = client.post(reverse("web:alert-acknowledge", args=[alert.pk]), {"next": here}, follow=True)
    assert response.redirect_chain[-1][0] == here
    alert.refresh_from_db()
    assert alert.acknowledged_by == cast.alice
    first_at = alert.acknowledged_at
    html = response.content.decode()
    assert "You acknowledged the red alert." in html and "Acknowledged by alice" in html
    assert reverse("web:alert-acknowledge", args=[alert.pk]) not in html

    again = sign_in(Client(), cast.diana).post(reverse("web:alert-acknowledge", args=[alert.pk]), {"next": here}, follow=True)
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.acknowledged_at) == (cast.alice, first_at)
    assert "already acknowledged by alice" in again.content.decode()
    assert CaseEvent.objects.filter(kind="alert_acknowledged").count() == 1


def test_the_acknowledge_button_does_not_follow_a_foreign_next(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    alert = CrisisAlert.objects.get()
    response = sign_in(client, cast.alice).post(reverse("web:alert-acknowledge", args=[alert.pk]),
                                                {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("web:alert", args=[alert.pk])


def test_a_contact_is_recorded_with_its_note_and_moves_the_case(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "orange")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    form = html_of(client.get(reverse("web:case", args=[case.pk])))
    key = re.search(r'name="request_key" value="([0-9a-f]{32})" [^>]*id="contact-request_key"', form)
    assert key, "the contact form carries a request key"

    data = contact_data(request_key=key.group(1), participants=["student", "class_teacher"], note="谈话顺利，约下周再见")
    response = client.post(reverse("web:case-contact", args=[case.pk]), data)

    assert response.status_code == 302 and response["Location"].startswith(reverse("web:case", args=[case.pk]))
    contact = Contact.objects.get()
    assert (contact.recorded_by, contact.participants, contact.note) == (cast.alice, ["student", "class_teacher"], "谈话顺利，约下周再见")
    case.refresh_from_db()
    assert case.status == "in_contact" and case.first_contact_at is not None
    page = html_of(client.get(response["Location"]))
    assert "The contact was recorded." in page and "谈话顺利，约下周再见" in page and "class teacher" in page


def test_contact_errors_are_shown_on_the_form_and_nothing_is_recorded(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    url = reverse("web:case-contact", args=[case.pk])
    future = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(url, contact_data(participants=None, outcome="", at=future))
    html = response.content.decode()
    assert response.status_code == 400
    assert "Choose who took part" in html and "Choose the outcome of the contact." in html
    assert "A contact cannot be in the future." in html
    assert 'value="key-1"' in html  # the same form, to send again once corrected

    guardian = client.post(url, contact_data(kind="guardian", participants=["student"], outcome=""))
    assert guardian.status_code == 400
    assert "Guardian communication needs the guardian among those who took part." in guardian.content.decode()

    shape = client.post(url, contact_data(at="not a time", method="fax"))
    assert shape.status_code == 400 and "Select a valid choice." in shape.content.decode()
    assert not Contact.objects.exists()


def test_guardian_communication_is_its_own_kind_on_the_timeline(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    response = client.post(reverse("web:case-contact", args=[case.pk]),
                           contact_data(kind="guardian", method="phone", participants=["guardian"], outcome="",
                                        note="与母亲通话"))
    assert response.status_code == 302
    assert Contact.objects.get().kind == "guardian"
    case.refresh_from_db()
    assert case.status == "open"  # guardian communication is not a first contact with the student
    html = html_of(client.get(reverse("web:case", args=[case.pk])))
    assert "guardian communication" in html and "与母亲通话" in html


def test_a_doubled_contact_form_records_one_contact(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    url = reverse("web:case-contact", args=[case.pk])
    data = contact_data(request_key="double-submit", note="once")
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302
    assert Contact.objects.count() == 1
    assert CaseEvent.objects.filter(kind="contact").count() == 1


def test_a_contact_fulfils_the_preselected_follow_up(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", participants=["student"],
                        outcome="confirmed_need")
    today = timezone.localdate()
    plan = work.follow_up_plan_create(actor=cast.alice, case=case, dates=[today + dt.timedelta(days=1), today + dt.timedelta(days=8)])
    first = plan.follow_ups.order_by("due_on").first()
    sign_in(client, cast.alice)
    html = html_of(client.get(reverse("web:case", args=[case.pk])))
    assert re.search(rf'<option value="{first.pk}" selected>', html)

    data = contact_data(request_key="fu-1", follow_up=str(first.pk))
    assert client.post(reverse("web:case-contact", args=[case.pk]), data).status_code == 302
    first.refresh_from_db()
    assert first.status == "done" and Contact.objects.get(request_key="fu-1").follow_up == first
    # Sent again, the follow-up it did is no longer to do: still one contact, no error.
    assert client.post(reverse("web:case-contact", args=[case.pk]), data).status_code == 302
    assert Contact.objects.filter(request_key="fu-1").count() == 1


def test_the_plan_form_is_prefilled_with_the_tiers_rhythm_and_saves_the_edits(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    case = case_of(cast.hamlet)
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="face_to_face",
                        participants=["student"], outcome="confirmed_need")
    suggested = work.follow_up_suggest(case=case)
    sign_in(client, cast.alice)

    html = html_of(client.get(reverse("web:case", args=[case.pk])))
    shown = re.findall(r'<input type="date" name="date_\d+" value="([\d-]+)"', html)
    assert shown == [d.isoformat() for d in suggested]
    key = re.search(r'name="request_key" value="([0-9a-f]{32})" [^>]*id="plan-request_key"', html)
    assert key

    data: dict[str, Any] = {f"date_{i + 1}": d.isoformat() for i, d in enumerate(suggested)}
    data["date_2"] = ""  # removed
    changed = suggested[-1] + dt.timedelta(days=5)
    data[f"date_{len(suggested)}"] = changed.isoformat()  # moved
    data.update({f"date_{len(suggested) + 1}": "", f"date_{len(suggested) + 2}": "", "request_key": key.group(1)})
    response = client.post(reverse("web:case-plan", args=[case.pk]), data)

    assert response.status_code == 302
    expected = [suggested[0], *suggested[2:-1], changed]
    assert list(FollowUp.objects.filter(case=case).values_list("due_on", flat=True)) == expected
    case.refresh_from_db()
    assert case.status == "monitoring"
    assert client.post(reverse("web:case-plan", args=[case.pk]), data).status_code == 302  # sent twice: one plan
    assert case.plans.count() == 1


def test_a_plan_in_the_past_or_without_dates_is_refused_on_the_form(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    url = reverse("web:case-plan", args=[case.pk])
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    past = client.post(url, {"request_key": "p1", "date_1": yesterday.isoformat(), "date_2": ""})
    assert past.status_code == 400 and "Follow-ups cannot be planned in the past." in past.content.decode()
    assert f'value="{yesterday.isoformat()}"' in past.content.decode()  # kept for correcting
    empty = client.post(url, {"request_key": "p2", "date_1": ""})
    assert empty.status_code == 400 and "Plan at least one follow-up." in empty.content.decode()
    assert not FollowUp.objects.exists()


def test_a_case_moves_between_in_contact_and_monitoring(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    url = reverse("web:case-move", args=[case.pk])
    refused = client.post(url, {"status": "monitoring"})
    assert refused.status_code == 409 and "Record a contact with the student first." in refused.content.decode()
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", participants=["student"],
                        outcome="confirmed_need")
    assert client.post(url, {"status": "monitoring"}).status_code == 302
    assert case_of(cast.hamlet).status == "monitoring"
    assert "Move back to in contact" in html_of(client.get(reverse("web:case", args=[case.pk])))


def test_a_case_is_closed_with_a_reason(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    url = reverse("web:case-close", args=[case.pk])

    missing = client.post(url, {"reason": "", "note": ""})
    assert missing.status_code == 400 and "Choose why the case is closed." in missing.content.decode()
    other = client.post(url, {"reason": "other", "note": " "})
    assert other.status_code == 400 and "Say why the case is closed." in other.content.decode()

    response = client.post(url, {"reason": "no_current_need", "note": "面谈后无当前需要"}, follow=True)
    case.refresh_from_db()
    assert (case.status, case.close_reason, case.closed_by, case.close_note) == ("closed", "no_current_need", cast.alice, "面谈后无当前需要")
    html = response.content.decode()
    assert "The case was closed." in html and "no current need after interview" in html
    assert 'id="contact-heading"' not in html  # a closed case has no forms
    assert "面谈后无当前需要" in html


def test_closing_with_an_unacknowledged_red_alert_says_so(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice)
    response = client.post(reverse("web:case-close", args=[case.pk]), {"reason": "no_current_need"})
    assert response.status_code == 409
    assert "Acknowledge the red alert on this case before closing it." in response.content.decode()
    assert case_of(cast.hamlet).status == "open"


def test_a_closed_case_refuses_a_late_contact_on_the_form(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    work.case_close(actor=cast.alice, case=case, reason="no_current_need")
    response = sign_in(client, cast.alice).post(reverse("web:case-contact", args=[case.pk]), contact_data())
    assert response.status_code == 409 and "This case is closed." in response.content.decode()


# --- the alert pages ---------------------------------------------------------------------------------


def test_the_alert_pages_acknowledge_and_link_the_case(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    alert = CrisisAlert.objects.get()
    case = case_of(cast.hamlet)
    sign_in(client, cast.carol)
    listing = html_of(client.get(reverse("web:alerts")))
    assert reverse("web:alert-acknowledge", args=[alert.pk]) in listing
    assert reverse("web:case", args=[case.pk]) in listing
    detail = html_of(client.get(reverse("web:alert", args=[alert.pk])))
    assert reverse("web:case", args=[case.pk]) in detail and "Acknowledge by" in detail

    response = client.post(reverse("web:alert-acknowledge", args=[alert.pk]), {"next": reverse("web:alerts")})
    assert response["Location"] == reverse("web:alerts")
    listing = html_of(client.get(reverse("web:alerts")))
    assert "Acknowledged by carol" in listing and reverse("web:alert-acknowledge", args=[alert.pk]) not in listing


def test_the_alert_page_shows_the_escalation(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    alert = CrisisAlert.objects.get()
    escalation.escalations_run(now=alert.hospital_due_at + dt.timedelta(minutes=1))
    html = html_of(sign_in(client, cast.alice).get(reverse("web:alert", args=[alert.pk])))
    assert "Escalated to the head of centre at" in html and "Escalated to the partner hospital at" in html


def test_another_schools_counsellor_cannot_acknowledge(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    alert = CrisisAlert.objects.get()
    assert sign_in(client, cast.bob).post(reverse("web:alert-acknowledge", args=[alert.pk])).status_code == 404
    assert CrisisAlert.objects.get().acknowledged_at is None


# --- escalations and measures ------------------------------------------------------------------------


def test_the_head_of_centre_sees_escalations_and_the_measures(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    flag(cast, cast.cordelia, "red")  # Xishan: none of Dongshan's business
    # Nobody acknowledged hamlet's alert within its 15 minutes: the sweep sends it to diana.
    now = timezone.now()
    CrisisAlert.objects.filter(student=cast.hamlet).update(
        created_at=now - dt.timedelta(minutes=20), acknowledge_due_at=now - dt.timedelta(minutes=5))
    alert = CrisisAlert.objects.get(student=cast.hamlet)
    escalation.escalations_run(now=now)
    work.alert_acknowledge(actor=cast.alice, alert=alert)
    work.contact_record(actor=cast.alice, case=case_of(cast.hamlet), at=timezone.now(), method="face_to_face",
                        participants=["student"], outcome="confirmed_need")

    html = html_of(sign_in(client, cast.diana).get(reverse("web:escalations")))

    assert "red alert escalated to the head of centre" in html and "韩小明" in html and "陈可儿" not in html
    assert "alert acknowledged at" in html
    assert re.search(r'data-measure="interviews">.*?100%', html, re.S)  # hamlet was seen face to face
    assert re.search(r'data-measure="alerts">.*?0%.*?1 raised, 1 acknowledged; 0 of the 1 decided within the limit',
                     html, re.S)
    row = re.search(r'<tr data-tier="red">(.*?)</tr>', html, re.S)
    assert row and re.findall(r'<td class="num">(\d+)', row.group(1))[:2] == ["1", "1"]
    assert "last 90 days" in html
    assert AuditEvent.objects.filter(action="list", actor_username="diana", student_public_id=cast.hamlet.public_id).exists()


def test_the_escalations_period_can_be_chosen(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "red")
    alert = CrisisAlert.objects.get()
    escalation.escalations_run(now=alert.acknowledge_due_at + dt.timedelta(minutes=1))
    CaseEvent.objects.filter(kind="alert_escalated_school").update(at=timezone.now() - dt.timedelta(days=60))
    sign_in(client, cast.diana)
    assert "No escalations in this period." in html_of(client.get(reverse("web:escalations"), {"days": "30"}))
    assert "韩小明" in html_of(client.get(reverse("web:escalations"), {"days": "90"}))
    assert "last 90 days</option>" in html_of(client.get(reverse("web:escalations"), {"days": "7"}))


# --- the student's file ------------------------------------------------------------------------------


def test_the_students_file_shows_trends_tiers_cases_consents_and_one_timeline(client: Client, cast: Cast) -> None:
    first = flag(cast, cast.hamlet, "yellow")
    second = flag(cast, cast.hamlet, "orange")
    case = case_of(cast.hamlet)
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="face_to_face",
                        participants=["student"], outcome="confirmed_need", note="学生谈到考试压力")
    work.contact_record(actor=cast.alice, case=case, at=timezone.now(), method="phone", kind="guardian",
                        participants=["guardian"], note="已告知家长")
    work.follow_up_plan_create(actor=cast.alice, case=case, dates=[timezone.localdate() + dt.timedelta(days=3)])

    html = html_of(sign_in(client, cast.alice).get(reverse("web:student", args=[cast.hamlet.public_id])))

    svg = re.search(r'<figure class="trend-figure" data-instrument="phq9">.*?(<svg.*?</svg>)', html, re.S)
    assert svg, "a PHQ-9 trend chart"
    assert "<polyline" in svg.group(1) and svg.group(1).count("<circle") == 2
    assert "tier-badge tier-yellow" in html and "tier-badge tier-orange" in html
    assert escape(first.tier_rules[0]["description"]["en"]) in html
    assert escape(second.tier_rules[0]["description"]["en"]) in html
    assert reverse("web:case", args=[case.pk]) in html
    assert "学生谈到考试压力" in html and "已告知家长" in html and "guardian communication" in html
    assert "follow-up plan made" in html and "planned" in html
    assert "consented" in html  # the guardian's and the student's consents
    assert speaks_of_risk_and_need(html)
    # The timeline is newest first: the plan comes before the contacts, the case's opening last.
    assert html.index("follow-up plan made") < html.index("学生谈到考试压力") < html.index("case opened")
    assert AuditEvent.objects.filter(action="read", actor_username="alice", student_public_id=cast.hamlet.public_id).exists()


def test_a_class_limited_counsellor_sees_no_file_outside_her_classes(client: Client, cast: Cast) -> None:
    flag(cast, cast.hilda, "yellow")
    response = sign_in(client, cast.carol).get(reverse("web:student", args=[cast.hilda.public_id]))
    assert response.status_code == 404


def test_the_contact_note_is_stored_encrypted(client: Client, cast: Cast) -> None:
    flag(cast, cast.hamlet, "yellow")
    case = case_of(cast.hamlet)
    sign_in(client, cast.alice).post(reverse("web:case-contact", args=[case.pk]), contact_data(note="不应以明文保存"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT note FROM cases_contact")
        (stored,) = cursor.fetchone()
    assert "不应以明文保存" not in stored and Contact.objects.get().note == "不应以明文保存"
