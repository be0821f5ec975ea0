"""Server-rendered pages: what each role sees, what is refused, and what is written to the audit log."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from screening.core.models import AuditEvent
from screening.directory.models import RosterImport, Student
from screening.directory.services import student_user_ensure
from tests.conftest import ACCESS_CODE, STAFF_PASSWORD, Cast, make_student

pytestmark = pytest.mark.django_db

HOME = "/home/"


def sign_in(client: Client, who: Any, language: str = "en") -> Client:
    client.cookies["django_language"] = language
    client.force_login(student_user_ensure(student=who) if isinstance(who, Student) else who)
    return client


def page(client: Client, url: str, **params: Any) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- home per role, in both languages --------------------------------------------------------------

HOMES: dict[str, tuple[list[str], list[str]]] = {
    # who: (must show, must not show)
    "hamlet": (["韩小明", "东山初级中学", "初一(1)班", "12356"], ["何小丽", "陈可儿", "D0002"]),
    "alice": (["韩小明", "何小丽"], ["陈可儿", "X0001"]),
    "diana": (["韩小明", "何小丽", reverse("web:roster-upload"), reverse("web:audit-log")], ["陈可儿"]),
    "lily": (["康宁医院", "0755-3333333"], ["安定医院", "韩小明", "陈可儿"]),
    "olga": (["东山初级中学", 'data-school="DSJH">&lt;10<'], ["西山高级中学", "韩小明"]),
    "root": ([reverse("admin:index"), reverse("api-docs")], ["韩小明"]),
    "nobody": ([], ["韩小明", "陈可儿", "康宁医院"]),
}
ENGLISH = {
    "hamlet": "No screenings are open for you right now.",
    "alice": "Students",
    "diana": "Roster import",
    "lily": "Referrals to your hospital",
    "olga": "Active students",
    "root": "API documentation",
    "nobody": "your account has no role yet",
}


@pytest.mark.parametrize("language,html_lang", [("zh-hans", 'lang="zh-Hans"'), ("en", 'lang="en"')])
@pytest.mark.parametrize("who", sorted(HOMES))
def test_each_role_has_a_home_in_both_languages(client: Client, cast: Cast, who: str, language: str, html_lang: str) -> None:
    html = page(sign_in(client, getattr(cast, who), language), HOME)
    assert html_lang in html
    shown, hidden = HOMES[who]
    for text in shown:
        assert text in html, text
    for text in hidden:
        assert text not in html, text
    if language == "en":
        assert ENGLISH[who] in html


def test_language_follows_accept_language_header(client: Client, cast: Cast) -> None:
    client.force_login(cast.alice)
    html = client.get(HOME, headers={"accept-language": "en"}).content.decode()
    assert 'lang="en"' in html


def test_language_switch_sets_the_cookie(client: Client, cast: Cast) -> None:
    sign_in(client, cast.alice, "zh-hans")
    response = client.post("/i18n/setlang/", {"language": "en", "next": HOME})
    assert response.status_code == 302
    assert client.cookies["django_language"].value == "en"
    assert 'lang="en"' in page(client, HOME)


def test_signed_out_home_asks_for_sign_in(client: Client, cast: Cast) -> None:
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:staff-login"))


def test_student_home_is_audited_as_their_own_read(client: Client, cast: Cast) -> None:
    page(sign_in(client, cast.hamlet), HOME)
    assert AuditEvent.objects.filter(action="read", student_public_id=cast.hamlet.public_id).count() == 1


# --- the counsellor's list and the student page ----------------------------------------------------


def test_counsellor_lists_students_of_her_school_only(client: Client, cast: Cast) -> None:
    html = page(sign_in(client, cast.alice), reverse("web:students"))
    assert cast.hamlet.public_id in html and cast.hilda.public_id in html
    assert cast.cordelia.public_id not in html and "陈可儿" not in html


def test_class_limited_counsellor_sees_only_her_class(client: Client, cast: Cast) -> None:
    html = page(sign_in(client, cast.carol), reverse("web:students"))
    assert "韩小明" in html
    assert "何小丽" not in html and "陈可儿" not in html
    assert cast.ds_7_2.name not in html  # nor is the other class offered as a filter


def test_list_is_audited_row_by_row(client: Client, cast: Cast) -> None:
    page(sign_in(client, cast.alice), reverse("web:students"))
    listed = set(AuditEvent.objects.filter(action="list", actor_username="alice").values_list("student_public_id", flat=True))
    assert listed == {cast.hamlet.public_id, cast.hilda.public_id}


def test_class_filter_and_search(client: Client, cast: Cast) -> None:
    sign_in(client, cast.alice)
    html = page(client, reverse("web:students"), school_class=cast.ds_7_2.pk)
    assert "何小丽" in html and "韩小明" not in html
    response = client.post(reverse("web:students"), {"q": "D0001"})  # a search is a POST (no names in URLs)
    html = response.content.decode()
    assert response.status_code == 200
    assert "韩小明" in html and "何小丽" not in html
    # only the rows shown are audited
    assert AuditEvent.objects.filter(action="list", student_public_id=cast.hamlet.public_id).count() == 1


def test_class_filter_ignores_a_class_outside_scope(client: Client, cast: Cast) -> None:
    html = page(sign_in(client, cast.carol), reverse("web:students"), school_class=cast.xs_10_1.pk)
    assert "陈可儿" not in html


def test_htmx_refresh_returns_only_the_results(client: Client, cast: Cast) -> None:
    sign_in(client, cast.alice)
    response = client.post(reverse("web:students"), {"q": "何"}, headers={"hx-request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="student-results"' in html
    assert "何小丽" in html and "韩小明" not in html


def test_list_is_paginated_by_fifty(client: Client, cast: Cast) -> None:
    for n in range(55):
        make_student(cast.ds_7_1, f"P{n:03d}", f"学生{n:03d}", 12)
    sign_in(client, cast.alice)
    first = page(client, reverse("web:students"))
    assert "Page 1 of 2" in first and "?page=2" in first
    assert AuditEvent.objects.filter(action="list").count() == 50
    second = page(client, reverse("web:students"), page=2)
    assert "Page 2 of 2" in second
    assert AuditEvent.objects.filter(action="list").count() == 57


def test_student_page_shows_profile_and_is_audited(client: Client, cast: Cast) -> None:
    html = page(sign_in(client, cast.alice), reverse("web:student", args=[cast.hamlet.public_id]))
    for text in ("D0001", "韩小明", "初一(1)班", "12", "female", "监护人", "13800000000", "guardian@example.org"):
        assert text in html, text
    event = AuditEvent.objects.get(action="read", actor_username="alice")
    assert event.student_public_id == cast.hamlet.public_id
    assert event.school_id == cast.dongshan.pk


def test_out_of_scope_student_is_404_like_a_missing_one_and_audited(client: Client, cast: Cast) -> None:
    sign_in(client, cast.alice)
    hidden = client.get(reverse("web:student", args=[cast.cordelia.public_id]))
    missing = client.get(reverse("web:student", args=["SNOSUCHSTUDENT"]))
    assert hidden.status_code == missing.status_code == 404
    assert "陈可儿" not in hidden.content.decode()
    assert hidden.templates[0].name == missing.templates[0].name == "web/404.html"
    denied = AuditEvent.objects.filter(action="denied")
    assert [(e.student_public_id, e.actor_username, e.school_id) for e in denied] == [
        (cast.cordelia.public_id, "alice", cast.xishan.pk)
    ]
    assert not AuditEvent.objects.filter(action="read").exists()


def test_class_limited_counsellor_cannot_open_another_class(client: Client, cast: Cast) -> None:
    sign_in(client, cast.carol)
    assert client.get(reverse("web:student", args=[cast.hilda.public_id])).status_code == 404
    assert AuditEvent.objects.filter(action="denied", student_public_id=cast.hilda.public_id).exists()


@pytest.mark.parametrize("who", ["hamlet", "lily", "olga", "nobody"])
def test_roles_without_student_records_get_no_student_pages(client: Client, cast: Cast, who: str) -> None:
    sign_in(client, getattr(cast, who))
    assert client.get(reverse("web:students")).status_code == 403
    assert client.get(reverse("web:student", args=[cast.hilda.public_id])).status_code == 404
    assert not AuditEvent.objects.filter(action__in=["list", "read"], student_public_id=cast.hilda.public_id).exists()


# --- school admin pages: refused to everyone else ---------------------------------------------------


@pytest.mark.parametrize("url", ["web:roster-upload", "web:classes", "web:audit-log"])
@pytest.mark.parametrize("who", ["alice", "carol", "hamlet", "lily", "olga", "nobody"])
def test_admin_pages_refuse_everyone_but_heads_of_centre(client: Client, cast: Cast, url: str, who: str) -> None:
    assert sign_in(client, getattr(cast, who)).get(reverse(url)).status_code == 403


def test_counsellor_cannot_issue_codes(client: Client, cast: Cast) -> None:
    sign_in(client, cast.alice)
    before = Student.objects.get(pk=cast.hamlet.pk).access_code_hash
    assert client.post(reverse("web:student-access-code", args=[cast.hamlet.public_id])).status_code == 403
    assert client.post(reverse("web:class-access-sheet", args=[cast.ds_7_1.pk])).status_code == 403
    assert Student.objects.get(pk=cast.hamlet.pk).access_code_hash == before


def test_other_schools_class_is_404_for_an_admin(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    before = Student.objects.get(pk=cast.cordelia.pk).access_code_hash
    assert client.post(reverse("web:class-access-sheet", args=[cast.xs_10_1.pk])).status_code == 404
    assert client.post(reverse("web:student-access-code", args=[cast.cordelia.public_id])).status_code == 404
    assert Student.objects.get(pk=cast.cordelia.pk).access_code_hash == before
    assert AuditEvent.objects.filter(action="denied", student_public_id=cast.cordelia.public_id).exists()


def test_access_code_pages_need_post(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    assert client.get(reverse("web:class-access-sheet", args=[cast.ds_7_1.pk])).status_code == 405
    assert client.get(reverse("web:student-access-code", args=[cast.hamlet.public_id])).status_code == 405


# --- roster import ------------------------------------------------------------------------------------

GOOD_CSV = (
    "学号,姓名,性别,出生日期,年级,班级,监护人姓名,监护人电话,监护人邮箱\n"
    "R0001,林一,女,2013-03-04,7,初一(3)班,林父,13900000001,lin@example.org\n"
    "R0002,王二,男,2013-05-06,7,初一(3)班,王母,13900000002,\n"
    "R0003,张三,,2012-09-10,8,初二(1)班,,,\n"
)
BAD_CSV = (
    "学号,姓名,性别,出生日期,年级,班级\n"
    "R0001,林一,女,2013-13-04,7,初一(3)班\n"
    "R0001,王二,x,2013-05-06,15,初一(3)班\n"
)


def upload(client: Client, name: str, text: str, **extra: Any) -> Any:
    file = io.BytesIO(text.encode())
    file.name = name
    return client.post(reverse("web:roster-upload"), {"file": file, **extra}, follow=True)


def summary_of(html: str) -> dict[str, int]:
    import re

    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def test_bad_roster_shows_problems_and_applies_nothing(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    before = Student.objects.count()
    response = upload(client, "roster.csv", BAD_CSV)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not a date; use a date cell or YYYY-MM-DD." in html
    assert "The student number also appears in row 2." in html
    assert "The grade must be a whole number from 1 to 12." in html
    assert "出生日期" in html  # the column as written in the file
    assert "/apply/" not in html  # no Apply button
    record = RosterImport.objects.get()
    assert record.status == "invalid"
    applied = client.post(reverse("web:roster-apply", args=[record.pk]), follow=True)
    assert "This roster has problems" in applied.content.decode()
    assert Student.objects.count() == before
    assert RosterImport.objects.get().status == "invalid"


def test_roster_upload_refuses_other_file_types(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    response = upload(client, "roster.txt", GOOD_CSV)
    assert "Upload an .xlsx or .csv file." in response.content.decode()
    assert not RosterImport.objects.exists()


def test_good_roster_previews_applies_and_reapplies_as_nothing(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    preview = upload(client, "roster.csv", GOOD_CSV, school_year="")
    assert summary_of(preview.content.decode()) == {"rows": 3, "create": 3, "update": 0, "unchanged": 0, "new_classes": 2}
    assert not Student.objects.filter(number__startswith="R").exists()  # a preview changes nothing
    record = RosterImport.objects.get()
    applied = client.post(reverse("web:roster-apply", args=[record.pk]), follow=True)
    assert "The roster was applied." in applied.content.decode()
    assert set(Student.objects.filter(school=cast.dongshan, number__startswith="R").values_list("name", flat=True)) == {"林一", "王二", "张三"}
    assert "初一(3)班" in page(client, reverse("web:classes"))

    again = upload(client, "roster.csv", GOOD_CSV)
    assert summary_of(again.content.decode()) == {"rows": 3, "create": 0, "update": 0, "unchanged": 3, "new_classes": 0}
    second = RosterImport.objects.exclude(pk=record.pk).get()
    client.post(reverse("web:roster-apply", args=[second.pk]))
    assert Student.objects.filter(number__startswith="R").count() == 3
    assert summary_of(page(client, reverse("web:roster-preview", args=[second.pk])))["unchanged"] == 3


def test_other_schools_roster_import_is_404(client: Client, cast: Cast) -> None:
    upload(sign_in(client, cast.diana), "roster.csv", GOOD_CSV)
    record = RosterImport.objects.get()
    other = Client()
    sign_in(other, cast.edgar)
    assert other.get(reverse("web:roster-preview", args=[record.pk])).status_code == 404
    assert other.post(reverse("web:roster-apply", args=[record.pk])).status_code == 404
    assert RosterImport.objects.get().status == "preview"


# --- access codes -------------------------------------------------------------------------------------


def student_sign_in(school_code: str, number: str, code: str) -> Any:
    client = Client()
    return client, client.post(
        reverse("web:student-login"), {"school_code": school_code, "number": number, "access_code": code}
    )


def test_class_sheet_is_a_real_workbook_whose_codes_work(client: Client, cast: Cast) -> None:
    make_student(cast.ds_7_1, "D0003", "韩小红", 12)
    sign_in(client, cast.diana)
    html = page(client, reverse("web:classes"))
    assert "replaces its previous codes" in html
    response = client.post(reverse("web:class-access-sheet", args=[cast.ds_7_1.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "attachment" in response["Content-Disposition"] and "韩" not in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = [r for r in book.worksheets[0].iter_rows(values_only=True) if r and r[0] in ("D0001", "D0003")]
    codes = {r[0]: r[3] for r in rows}
    assert set(codes) == {"D0001", "D0003"}
    assert all(r[2] == "DSJH" for r in rows)
    assert "D0002" not in str(list(book.worksheets[0].iter_rows(values_only=True)))  # hilda is in 7-2

    _student_client, old = student_sign_in("DSJH", "D0001", ACCESS_CODE)
    assert old.status_code == 200  # the printed sheet replaced the old code
    student_client, signed_in = student_sign_in("DSJH", "D0001", codes["D0001"])
    assert signed_in.status_code == 302 and signed_in["Location"] == HOME
    assert "韩小明" in page(student_client, HOME)
    assert AuditEvent.objects.filter(action="export", object_type="access_code_sheet").count() == 2


def test_new_access_code_for_one_student_is_shown_once_and_works(client: Client, cast: Cast) -> None:
    sign_in(client, cast.diana)
    assert "New access code" in page(client, reverse("web:student", args=[cast.hamlet.public_id]))
    response = client.post(reverse("web:student-access-code", args=[cast.hamlet.public_id]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    code = response.context["code"]
    assert code in response.content.decode()
    _c, signed_in = student_sign_in("DSJH", "D0001", code)
    assert signed_in.status_code == 302


def test_counsellor_does_not_see_the_new_code_button(client: Client, cast: Cast) -> None:
    html = page(sign_in(client, cast.alice), reverse("web:student", args=[cast.hamlet.public_id]))
    assert "New access code" not in html


# --- sign-in and lockout ----------------------------------------------------------------------------------


def test_staff_sign_in_and_out(client: Client, cast: Cast) -> None:
    response = client.post(reverse("web:staff-login"), {"username": "alice", "password": STAFF_PASSWORD})
    assert response.status_code == 302 and response["Location"] == HOME
    assert client.post(reverse("web:logout")).status_code == 302
    assert client.get(HOME).status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_elsewhere(client: Client, cast: Cast) -> None:
    target = reverse("web:students")
    response = client.post(
        reverse("web:staff-login") + f"?next={target}", {"username": "alice", "password": STAFF_PASSWORD, "next": target}
    )
    assert response["Location"] == target
    other = Client()
    response = other.post(reverse("web:staff-login"), {"username": "alice", "password": STAFF_PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == HOME


def test_wrong_password_says_so(client: Client, cast: Cast) -> None:
    response = client.post(reverse("web:staff-login"), {"username": "alice", "password": "wrong"}, headers={"accept-language": "en"})
    assert response.status_code == 200
    assert "The sign-in details are not correct." in response.content.decode()


def test_lockout_after_five_failures(client: Client, cast: Cast) -> None:
    statuses = [
        client.post(reverse("web:staff-login"), {"username": "alice", "password": "wrong-password"}).status_code
        for _ in range(5)
    ]
    # The fifth failure reaches the limit and is already answered with the lockout notice.
    assert statuses == [200, 200, 200, 200, 429]
    locked = client.post(reverse("web:staff-login"), {"username": "alice", "password": STAFF_PASSWORD})
    assert locked.status_code == 429
    assert "web/locked_out.html" in [t.name for t in locked.templates]
    assert "_auth_user_id" not in client.session


def test_student_lockout_after_five_failures(client: Client, cast: Cast) -> None:
    login = reverse("web:student-login")
    for _ in range(5):
        client.post(login, {"school_code": "DSJH", "number": "D0001", "access_code": "WRONG-WRONG"})
    locked = client.post(login, {"school_code": "DSJH", "number": "D0001", "access_code": ACCESS_CODE})
    assert locked.status_code == 429
    # another student of the same school, behind the same address, is not locked out
    assert client.post(login, {"school_code": "DSJH", "number": "D0002", "access_code": ACCESS_CODE}).status_code == 302


# --- analyst aggregates ----------------------------------------------------------------------------------


def test_analyst_sees_counts_from_ten_without_names(client: Client, cast: Cast) -> None:
    for n in range(8):
        make_student(cast.ds_7_1, f"A{n:03d}", f"学生{n}", 12)
    html = page(sign_in(client, cast.olga), HOME)
    assert 'data-school="DSJH">10<' in html
    assert "学生0" not in html and "韩小明" not in html


# --- audit log page ---------------------------------------------------------------------------------------


def test_audit_log_filters_and_exports_the_same_rows(client: Client, cast: Cast) -> None:
    page(sign_in(client, cast.alice), reverse("web:student", args=[cast.hamlet.public_id]))
    page(client, reverse("web:student", args=[cast.hilda.public_id]))
    client.get(reverse("web:student", args=[cast.cordelia.public_id]))
    admin = sign_in(Client(), cast.diana)
    html = page(admin, reverse("web:audit-log"), action="read", student_public_id=cast.hamlet.public_id)
    assert cast.hamlet.public_id in html and cast.hilda.public_id not in html
    assert "1 entry" in html
    assert cast.cordelia.public_id not in page(admin, reverse("web:audit-log"))  # Xishan's entry is not Dongshan's
    response = admin.get(reverse("web:audit-log"), {"actor": "alice", "date_from": "2000-01-01", "date_to": "2100-12-31"})
    export_url = response.context["export_url"]
    assert export_url.startswith("/api/v1/audit-events/export/?") and "actor=alice" in export_url
    csv_text = admin.get(export_url).content.decode("utf-8-sig")
    assert cast.hamlet.public_id in csv_text and cast.hilda.public_id in csv_text
    assert "diana" not in csv_text.split("\n", 1)[1]


def test_audit_log_date_filter_excludes_other_days(client: Client, cast: Cast) -> None:
    page(sign_in(client, cast.alice), reverse("web:student", args=[cast.hamlet.public_id]))
    html = page(sign_in(Client(), cast.diana), reverse("web:audit-log"), date_to="2001-01-01")
    assert "0 entries" in html
