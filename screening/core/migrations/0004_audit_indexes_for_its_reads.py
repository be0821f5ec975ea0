"""The audit log's indexes follow its reads (a school's or a student's entries, newest first).

On SQLite, Django alters these fields by rebuilding the table, which drops the append-only
triggers of 0002; they are created again at the end (PostgreSQL keeps its own)."""

from django.db import migrations, models

SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_update BEFORE UPDATE ON core_auditevent
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;""",
    """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_delete BEFORE DELETE ON core_auditevent
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;""",
]


def triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_audit_ip_label'),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, triggers_again),  # when unapplied: after the rebuild
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(choices=[('read', 'read'), ('list', 'listed'), ('create', 'created'), ('update', 'changed'), ('delete', 'deleted'), ('export', 'exported'), ('denied', 'access refused'), ('login', 'signed in'), ('login_failed', 'sign-in failed'), ('logout', 'signed out')], max_length=16, verbose_name='action'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='actor_id',
            field=models.BigIntegerField(blank=True, null=True, verbose_name='actor id'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='school_id',
            field=models.BigIntegerField(blank=True, null=True, verbose_name='school id'),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='student_public_id',
            field=models.CharField(blank=True, max_length=32, verbose_name='student public id'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['school_id', '-at'], name='audit_school_newest'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['student_public_id', '-at'], name='audit_student_newest'),
        ),
        migrations.RunPython(triggers_again, migrations.RunPython.noop),
    ]
