"""The audit log is append-only, in Python and in the database, and each school reads its own."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction

from screening.core.audit import audit_record
from screening.core.models import AppendOnlyError, AuditEvent


@pytest.fixture
def entry(cast):
    return audit_record(actor=cast.diana, action="read", object_type="directory.Student",
                        object_id=cast.hamlet.pk, student_public_id=cast.hamlet.public_id, school_id=cast.dongshan.pk)


def test_queryset_update_and_delete_are_refused(entry):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=entry.pk).update(action="list")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    entry.refresh_from_db()
    assert entry.action == "read"


def test_saving_an_existing_entry_or_deleting_it_is_refused(entry):
    entry.action = "list"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert AuditEvent.objects.get(pk=entry.pk).action == "read"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE core_auditevent SET action = 'list' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ],
)
def test_the_database_itself_refuses_raw_update_and_delete(entry, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [entry.pk])
    assert AuditEvent.objects.get(pk=entry.pk).action == "read"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE exists on PostgreSQL only")
def test_postgres_refuses_truncate(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE core_auditevent")
    assert AuditEvent.objects.filter(pk=entry.pk).exists()


def test_the_audit_api_offers_no_way_to_change_or_remove_entries(cast, api, entry):
    api.as_(cast.diana)
    for method in (api.put, api.patch, api.delete):
        assert method(f"/api/v1/audit-events/{entry.pk}/", {"action": "list"}, format="json").status_code == 405
    assert api.post("/api/v1/audit-events/", {"action": "list"}, format="json").status_code == 405
    assert AuditEvent.objects.get(pk=entry.pk).action == "read"


def test_a_school_admin_reads_only_their_schools_entries(cast, api):
    api.as_(cast.alice).get("/api/v1/students/")
    api.as_(cast.bob).get("/api/v1/students/")
    api.as_(cast.alice).get(f"/api/v1/students/{cast.cordelia.public_id}/")  # refused, filed under Xishan

    diana_sees = api.as_(cast.diana).get("/api/v1/audit-events/?page_size=200").json()["results"]
    edgar_sees = api.as_(cast.edgar).get("/api/v1/audit-events/?page_size=200").json()["results"]

    assert diana_sees and edgar_sees
    assert {e["student_public_id"] for e in diana_sees} == {cast.hamlet.public_id, cast.hilda.public_id}
    assert {e["student_public_id"] for e in edgar_sees} == {cast.cordelia.public_id}
    assert {e["actor_username"] for e in edgar_sees} == {"bob", "alice"}
    ids = {e["id"] for e in diana_sees}
    assert all(AuditEvent.objects.get(pk=i).school_id == cast.dongshan.pk for i in ids)


def test_the_log_can_be_filtered_by_student_and_action(cast, api):
    api.as_(cast.alice).get("/api/v1/students/")
    api.as_(cast.alice).get(f"/api/v1/students/{cast.hilda.public_id}/")
    response = api.as_(cast.diana).get(f"/api/v1/audit-events/?student_public_id={cast.hilda.public_id}&action=read")
    assert [(e["action"], e["actor_username"]) for e in response.json()["results"]] == [("read", "alice")]


def test_csv_export_holds_the_schools_entries_and_is_itself_logged(cast, api):
    api.as_(cast.alice).get("/api/v1/students/")
    api.as_(cast.bob).get("/api/v1/students/")
    before = AuditEvent.objects.filter(action="export").count()

    response = api.as_(cast.diana).get("/api/v1/audit-events/export/?action=list")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel opens UTF-8 only with the BOM
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, body = table[0], table[1:]
    assert len(header) == 8
    student_column = [r[6] for r in body]
    assert sorted(student_column) == sorted([cast.hamlet.public_id, cast.hilda.public_id])
    assert cast.cordelia.public_id not in text
    assert cast.hamlet.name not in text

    export = AuditEvent.objects.filter(action="export").order_by("-id")
    assert export.count() == before + 1
    logged = export.first()
    assert (logged.actor_username, logged.object_type, logged.school_id) == ("diana", "audit_log", cast.dongshan.pk)
    assert logged.detail["rows"] == 2
    assert logged.detail["filters"] == {"action": "list"}


def test_a_large_read_writes_one_entry_per_student_across_batches(cast):
    """An export of more students than one batch holds: every student has exactly one entry."""
    from types import SimpleNamespace

    from screening.core.audit import AUDIT_BATCH, audit_students

    students = [SimpleNamespace(pk=i, public_id=f"P{i:06d}", school_id=cast.dongshan.pk) for i in range(2 * AUDIT_BATCH + 7)]
    before = AuditEvent.objects.count()
    assert audit_students(actor=cast.alice, action="export", students=iter(students)) == len(students)
    written = AuditEvent.objects.order_by("id")[before:]
    assert [e.student_public_id for e in written] == [s.public_id for s in students]
    assert {(e.actor_username, e.action, e.school_id) for e in written} == {("alice", "export", cast.dongshan.pk)}
