"""The audit log's facts hold under pressure: the client's address cannot be forged through
X-Forwarded-For, every change made in the Django admin is logged, the audit-log selector keeps to
the reader's school, and the demo seeder never runs in production."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

from screening.core import context
from screening.core.audit import audit_record
from screening.core.models import AuditEvent
from screening.core.selectors import audit_event_list
from screening.directory.models import Membership, SchoolClass, Student
from tests.conftest import Cast

PROXY = {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}

# --- 5. the client's address ------------------------------------------------------------------------


def ip(forwarded: str | None, remote: str = "10.0.0.2") -> str | None:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return context.ip_of(RequestFactory().get("/", **extra))  # type: ignore[arg-type]


@override_settings(**PROXY)
@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the client wrote 6.6.6.6; our proxy appended the rest
        ("6.6.6.6,203.0.113.7 ", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("203.0.113.7, not-an-ip", "10.0.0.2"),
        ("<script>", "10.0.0.2"),
        ("", "10.0.0.2"),
        (None, "10.0.0.2"),
        ("fe80::1%eth0", "10.0.0.2"),
    ],
)
def test_behind_the_proxy_the_rightmost_forwarded_address_counts(forwarded: str | None, expected: str) -> None:
    assert ip(forwarded) == expected


@override_settings(**PROXY, XINQIAO_TRUSTED_PROXY_HOPS=2)
def test_more_trusted_hops_look_further_left() -> None:
    assert ip("6.6.6.6, 203.0.113.7, 10.0.0.9") == "203.0.113.7"
    assert ip("10.0.0.9") == "10.0.0.2"  # fewer entries than proxies: nothing to trust


@override_settings(SECURE_PROXY_SSL_HEADER=None)
def test_without_a_proxy_forwarded_for_is_ignored() -> None:
    assert ip("203.0.113.7") == "10.0.0.2"
    assert ip(None, remote="garbage") is None


@pytest.mark.django_db
@override_settings(**PROXY)
def test_a_forged_address_never_reaches_the_audit_log(cast: Cast) -> None:
    client = Client()
    client.force_login(cast.alice)
    headers = {"x-forwarded-proto": "https"}
    assert client.get("/students/", headers={**headers, "x-forwarded-for": "6.6.6.6, 203.0.113.7"}).status_code == 200
    assert client.get("/students/", headers={**headers, "x-forwarded-for": "not-an-ip"}).status_code == 200
    ips = set(AuditEvent.objects.filter(action="list", actor_username="alice").values_list("ip", flat=True))
    assert ips == {"203.0.113.7", "127.0.0.1"}


# --- 6. changes in the Django admin -----------------------------------------------------------------


def admin_client(cast: Cast) -> Client:
    client = Client()
    client.force_login(cast.root)
    return client


def student_form(cast: Cast, student: Student, **changes: Any) -> dict[str, Any]:
    data = {
        "school": student.school_id, "school_class": student.school_class_id, "number": student.number,
        "name": student.name, "birth_date": student.birth_date.isoformat(), "gender": student.gender,
        "guardian_name": student.guardian_name, "guardian_phone": student.guardian_phone,
        "guardian_email": student.guardian_email, "is_active": "on",
    }
    return {**data, **changes}


@pytest.mark.django_db
def test_an_admin_change_to_a_student_is_audited_with_field_names_only(cast: Cast) -> None:
    url = f"/admin/directory/student/{cast.hamlet.pk}/change/"
    response = admin_client(cast).post(url, student_form(cast, cast.hamlet, name="改名", guardian_phone="13911112222"))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="update")
    assert (event.actor_username, event.object_type, event.object_id) == ("root", "directory.Student", str(cast.hamlet.pk))
    assert event.student_public_id == cast.hamlet.public_id and event.school_id == cast.dongshan.pk
    assert event.detail == {"via": "admin", "fields": ["guardian_phone", "name"]}
    assert "改名" not in str(event.detail) and "13911112222" not in str(event.detail)


@pytest.mark.django_db
def test_admin_create_and_delete_are_audited(cast: Cast) -> None:
    client = admin_client(cast)
    response = client.post("/admin/directory/schoolclass/add/", {
        "school": cast.xishan.pk, "school_year": 2030, "grade": 10, "name": "高一(9)班",
    })
    assert response.status_code == 302
    created = SchoolClass.objects.get(name="高一(9)班")
    event = AuditEvent.objects.get(action="create")
    assert (event.object_type, event.object_id, event.school_id) == ("directory.SchoolClass", str(created.pk), cast.xishan.pk)
    assert set(event.detail["fields"]) == {"school", "school_year", "grade", "name"}

    assert client.post(f"/admin/directory/schoolclass/{created.pk}/delete/", {"post": "yes"}).status_code == 302
    deleted = AuditEvent.objects.get(action="delete")
    assert (deleted.object_type, deleted.object_id, deleted.detail) == ("directory.SchoolClass", str(created.pk), {"via": "admin"})


@pytest.mark.django_db
def test_an_admin_bulk_delete_audits_every_row(cast: Cast) -> None:
    rows = [Membership.objects.get(user=cast.lily), Membership.objects.get(user=cast.liam)]
    response = admin_client(cast).post("/admin/directory/membership/", {
        "action": "delete_selected", "_selected_action": [m.pk for m in rows], "post": "yes",
    })
    assert response.status_code == 302
    assert not Membership.objects.filter(pk__in=[m.pk for m in rows]).exists()
    audited = set(AuditEvent.objects.filter(action="delete", object_type="directory.Membership").values_list("object_id", flat=True))
    assert audited == {str(m.pk) for m in rows}


@pytest.mark.django_db
def test_user_admin_changes_and_password_resets_are_audited(cast: Cast) -> None:
    client = admin_client(cast)
    user = cast.alice
    response = client.post(f"/admin/core/user/{user.pk}/password/", {
        "password1": "a-new-long-password-77", "password2": "a-new-long-password-77", "set_usable_password": "true",
    })
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="update", object_type="core.User")
    assert event.object_id == str(user.pk) and event.detail == {"via": "admin", "fields": ["password"]}
    assert "a-new-long-password" not in str(event.detail)

    response = client.post("/admin/core/user/add/", {
        "username": "newcomer", "password1": "a-new-long-password-77", "password2": "a-new-long-password-77",
        "usable_password": "true",
    })
    assert response.status_code == 302
    newcomer = get_user_model().objects.get(username="newcomer")
    assert AuditEvent.objects.filter(action="create", object_type="core.User", object_id=str(newcomer.pk)).exists()


def membership_form(cast: Cast, classes: list[SchoolClass]) -> dict[str, Any]:
    return {
        "user": cast.carol.pk, "role": "counsellor", "school": cast.dongshan.pk, "limited_to_classes": "on",
        "classes": [c.pk for c in classes], "starts_on": timezone.localdate().isoformat(),
    }


@pytest.mark.django_db
def test_a_membership_cannot_take_another_schools_class(cast: Cast) -> None:
    membership = Membership.objects.get(user=cast.carol)
    client = admin_client(cast)
    client.cookies["django_language"] = "zh-hans"
    url = f"/admin/directory/membership/{membership.pk}/change/"
    response = client.post(url, membership_form(cast, [cast.ds_7_1, cast.xs_10_1]))
    assert response.status_code == 200
    assert "每个班级都必须属于该岗位所在的学校" in response.content.decode()
    assert list(membership.classes.all()) == [cast.ds_7_1]
    assert not AuditEvent.objects.filter(action="update").exists()

    response = client.post(url, membership_form(cast, [cast.ds_7_1, cast.ds_7_2]))
    assert response.status_code == 302
    assert set(membership.classes.all()) == {cast.ds_7_1, cast.ds_7_2}
    event = AuditEvent.objects.get(action="update", object_type="directory.Membership")
    assert "classes" in event.detail["fields"] and event.school_id == cast.dongshan.pk


@pytest.mark.django_db
def test_the_membership_class_picker_names_school_and_year(cast: Cast) -> None:
    membership = Membership.objects.get(user=cast.carol)
    form = admin_client(cast).get(f"/admin/directory/membership/{membership.pk}/change/").context["adminform"].form
    labels = dict(form.fields["classes"].choices)
    year = cast.xs_10_1.school_year
    assert labels[cast.xs_10_1.pk] == f"西山高级中学 · {year} · 高一(1)班"
    assert labels[cast.ds_7_1.pk] == f"东山初级中学 · {year} · 初一(1)班"


# --- 2. the audit-log selector ------------------------------------------------------------------


@pytest.mark.django_db
def test_audit_event_list_keeps_to_the_readers_school_and_filters(cast: Cast) -> None:
    def entry(actor: Any, student: Student) -> AuditEvent:
        return audit_record(actor=actor, action="read", object_type="directory.Student", object_id=student.pk,
                            student_public_id=student.public_id, school_id=student.school_id)

    hamlet, hilda, cordelia = entry(cast.alice, cast.hamlet), entry(cast.carol, cast.hilda), entry(cast.bob, cast.cordelia)
    assert set(audit_event_list(user=cast.diana)) == {hamlet, hilda}
    assert set(audit_event_list(user=cast.edgar)) == {cordelia}
    assert not audit_event_list(user=cast.alice).exists()  # a counsellor reads no audit log
    assert list(audit_event_list(user=cast.diana, actor="alice")) == [hamlet]
    assert list(audit_event_list(user=cast.diana, student_public_id=cast.hilda.public_id)) == [hilda]
    assert not audit_event_list(user=cast.diana, action="update").exists()
    now = timezone.now()
    assert set(audit_event_list(user=cast.diana, since=now - dt.timedelta(minutes=1), until=now + dt.timedelta(minutes=1))) == {hamlet, hilda}
    assert not audit_event_list(user=cast.diana, until=now - dt.timedelta(minutes=1)).exists()


# --- 7. the demo seeder ----------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(IS_PRODUCTION=True)
def test_seed_demo_refuses_to_run_in_production() -> None:
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert not get_user_model().objects.exists()
