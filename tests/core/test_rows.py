"""screening.core.rows: the hot path's INSERT and UPDATE write exactly what save() would."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import connection

from screening.core import rows
from screening.core.models import AuditEvent
from screening.directory.models import Student


def _event(n: int) -> AuditEvent:
    return AuditEvent(actor_id=n, actor_username=f"user{n}", role="student", action="create",
                      object_type="campaigns.Submission", object_id=str(n), student_public_id=f"P{n}",
                      school_id=n, ip="10.0.0.1" if n % 2 else None, detail={"n": n, "名": ["列", None]})


FIELDS = ["actor_id", "actor_username", "role", "action", "object_type", "object_id", "student_public_id",
          "school_id", "ip", "detail"]


@pytest.mark.django_db
def test_an_insert_stores_the_same_row_as_save():
    by_orm, by_rows = _event(1), _event(1)
    by_orm.save()
    rows.insert([by_rows])
    assert by_rows.pk is not None and by_rows.pk != by_orm.pk and not by_rows._state.adding
    stored = {e["id"]: e for e in AuditEvent.objects.values("id", "at", *FIELDS)}
    orm, ours = stored[by_orm.pk], stored[by_rows.pk]
    assert {k: v for k, v in orm.items() if k not in ("id", "at")} == {k: v for k, v in ours.items() if k not in ("id", "at")}
    assert ours["at"] is not None and ours["at"] == by_rows.at  # auto_now_add, as save() sets it


@pytest.mark.django_db
def test_many_rows_go_in_one_statement_and_each_gets_its_own_key():
    events = [_event(n) for n in range(1, 6)]
    rows.insert(events)
    assert len({e.pk for e in events}) == 5
    for e in events:
        assert AuditEvent.objects.get(pk=e.pk).object_id == e.object_id  # keys come back in row order


@pytest.mark.django_db
def test_insert_refuses_a_row_that_already_has_a_key():
    event = _event(1)
    rows.insert([event])
    with pytest.raises(ValueError):
        rows.insert([event])
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_an_update_writes_only_the_fields_named_and_prepares_them_as_save_does(cast):
    student = Student.objects.get(pk=cast.hamlet.pk)
    name = student.name
    student.guardian_phone, student.name = "13800000000", "not written"
    rows.update(student, ["guardian_phone"])
    fresh = Student.objects.get(pk=student.pk)
    assert fresh.guardian_phone == "13800000000" and fresh.name == name
    with connection.cursor() as cursor:  # encrypted at rest, exactly as save() would store it
        cursor.execute("SELECT guardian_phone FROM directory_student WHERE id = %s", [student.pk])
        assert "13800000000" not in str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_update_refuses_the_key_and_unknown_fields(cast):
    student = Student.objects.get(pk=cast.hamlet.pk)
    with pytest.raises(ValueError):
        rows.update(student, ["id"])
    with pytest.raises(FieldDoesNotExist):
        rows.update(student, ["no_such_field"])


@pytest.mark.django_db
def test_update_refuses_a_row_without_a_key_or_not_in_the_database(cast):
    with pytest.raises(ValueError):
        rows.update(Student(name="new"), ["name"])
    gone = Student.objects.get(pk=cast.hamlet.pk)
    gone.pk = 987654321
    with pytest.raises(ObjectDoesNotExist):
        rows.update(gone, ["name"])
