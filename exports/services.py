"""Export jobs: request, run, download, expire, and the sweep for jobs whose process died.

A request is checked (the kind's role rule, then its parameters as the requester) and queued in one
transaction with its audit entry; the run starts after the commit (``exports.tasks``: a Celery
worker with a broker, a background thread without one, inline in tests). A run claims the job with a
conditional UPDATE that sets a lease (``locked_until`` and a token), builds the file in a temporary
directory with the requester's language active, and keeps it in the default storage under
``exports/<public id>/<file name>`` for ``XINQIAO_EXPORT_KEEP_HOURS``. Every write of a run names
its token, so a run that lost its lease (the sweep gave the job to another run) changes nothing.

A builder's :class:`DomainError` fails the job with the builder's message; anything else fails it
with a generic reason and is logged by exception type and traceback only (an exception's text may
hold the data being exported; logs never carry names, answers or scores).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from exports.build import BuildContext
from exports.kinds import KINDS, ExportKind, json_params, school_of_params
from exports.models import ExportJob
from screening.core.access import principal_of
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound

log = logging.getLogger("xinqiao.exports")

OBJECT_TYPE = "exports.ExportJob"
LEASE = dt.timedelta(minutes=10)  # a run's hold on its job, renewed by every progress report
QUEUE_WAIT = dt.timedelta(minutes=15)  # a queued job no run claimed by then is dispatched again
MAX_WAIT = dt.timedelta(hours=6)  # ... until it has waited this long: then it fails
MAX_RUNS = 2  # a job interrupted this many times fails instead of running again
PROGRESS_EVERY = 0.5  # seconds between progress writes (the pages poll every 2)
Status = ExportJob.Status

GENERIC_FAILURE = _("The export could not be finished; the operators have been told.")
INTERRUPTED = _("The export was interrupted twice; please request it again.")
NOT_STARTED = _("The export could not be started in time; please request it again.")


# --- request -------------------------------------------------------------------------------------


def export_job_request(
    *, actor: Any, kind: str, params: Any, request_key: str = "", language: str | None = None,
) -> ExportJob:
    """Queue an export of ``kind`` for ``actor``, who must be allowed to request it (403 otherwise),
    with ``params`` valid for them (400 with field messages; an id they may not see does not
    exist). The same ``request_key`` again returns the job it made (a different request under the
    same key is a 409). The job runs after the commit, in ``language`` (by default the active one)."""
    spec = KINDS.get(kind)
    if spec is None:
        raise InvalidInput(_("Some fields are not valid."), fields={"kind": [_("Choose a kind of export.")]})
    if not spec.allowed(principal_of(actor)):
        raise NotAllowed(spec.refusal)
    validated = _validated(spec, actor, params)
    clean = json_params(validated)
    with transaction.atomic():
        if request_key and (earlier := _earlier(actor, request_key, spec.code, clean)) is not None:
            return earlier
        try:
            with transaction.atomic():
                job = _create(actor, spec, clean, school_of_params(validated), request_key, language)
        except IntegrityError:  # the same key, committed by a concurrent request meanwhile
            earlier = _earlier(actor, request_key, spec.code, clean) if request_key else None
            if earlier is None:
                raise
            return earlier
        audit_record(actor=actor, action=Action.CREATE, object_type=OBJECT_TYPE, object_id=job.pk,
                     school_id=job.school_id, detail=spec.audit_detail(clean))
        job_id = job.pk
        transaction.on_commit(lambda: _dispatch(job_id), robust=True)
    return job


def _validated(spec: ExportKind, actor: Any, params: Any) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise InvalidInput(_("Some fields are not valid."), fields={"params": [_("Give the parameters as an object.")]})
    body = spec.params(data=dict(params), context={"user": actor})
    if not body.is_valid():
        fields = {name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for name, msgs in body.errors.items()}
        raise InvalidInput(_("Some fields are not valid."), fields=fields)
    return dict(body.validated_data)


def _earlier(actor: Any, request_key: str, kind: str, params: dict[str, Any]) -> ExportJob | None:
    job = ExportJob.objects.filter(requested_by_id=actor.pk, request_key=request_key).first()
    if job is not None and (job.kind, job.params) != (kind, params):
        raise Conflict(_("This request key was already used for a different export."), code="idempotency_key_reused")
    return job


def _create(actor: Any, spec: ExportKind, params: dict[str, Any], school_id: int | None, request_key: str,
            language: str | None) -> ExportJob:
    now = timezone.now()
    extension, content_type = spec.file_type(params)
    filename = f"xinqiao-{spec.code.replace('_', '-')}-{timezone.localtime(now):%Y%m%d-%H%M%S}.{extension}"
    return ExportJob.objects.create(
        kind=spec.code, params=params, requested_by=actor, school_id=school_id, request_key=request_key,
        language=_language(language), filename=filename, content_type=content_type, created_at=now,
        locked_until=now + QUEUE_WAIT,
    )


def _language(language: str | None) -> str:
    """One of the site's languages: the one asked for, the active one, or the default."""
    try:
        return translation.get_supported_language_variant(language or translation.get_language() or "")
    except LookupError:
        return str(settings.LANGUAGE_CODE)


def _dispatch(job_id: int) -> None:
    from exports.tasks import export_job_dispatch

    export_job_dispatch(job_id)


# --- run -----------------------------------------------------------------------------------------


class LeaseLost(Exception):
    """The sweep gave this job to another run: stop building, change nothing."""


class ProgressWriter:
    """``ctx.progress``: writes done/total at most every ``PROGRESS_EVERY`` seconds (and always the
    last step), with a conditional UPDATE of those columns alone that also renews the lease."""

    def __init__(self, job_id: int, token: str, *, every: float = PROGRESS_EVERY):
        self.job_id, self.token, self.every = job_id, token, every
        self.last = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        held = ExportJob.objects.filter(pk=self.job_id, lock_token=self.token, status=Status.RUNNING).update(
            progress_done=max(0, int(done)), progress_total=max(0, int(total)), locked_until=timezone.now() + LEASE)
        if not held:
            raise LeaseLost


def export_job_run(*, job_id: int) -> str:
    """Run a queued job to its end: done with its file kept, or failed with a reason in the
    requester's language. Returns the status it ended in, or ``"skipped"`` when the job was not
    queued (another run has it, or it ended) and ``"lost"`` when the sweep took it over."""
    token = uuid.uuid4().hex
    job = _claim(job_id, token)
    if job is None:
        return "skipped"
    with translation.override(job.language):
        return _build(job, token)


def _claim(job_id: int, token: str) -> ExportJob | None:
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, lock_token=token, locked_until=now + LEASE, started_at=now, runs=F("runs") + 1,
        progress_done=0, progress_total=0)
    return ExportJob.objects.select_related("requested_by").get(pk=job_id) if claimed else None


def _build(job: ExportJob, token: str) -> str:
    spec = KINDS[job.kind]
    access_key = principal_of(job.requested_by).scope_key  # the reach the file is built with
    try:
        with tempfile.TemporaryDirectory(prefix="xinqiao-export-") as tmp:
            path = Path(tmp) / job.filename
            ctx = BuildContext(user=job.requested_by, params=dict(job.params), path=path,
                               progress=ProgressWriter(job.pk, token))
            import_string(spec.builder)(ctx)
            return _finish(job, token, path, ctx.detail, access_key)
    except LeaseLost:
        return "lost"
    except DomainError as exc:
        return _fail(job, token, exc.code, str(exc.message))
    except Exception as exc:  # whatever a builder does, the job ends with a reason
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("export job %s (%s) failed with %s\n%s", job.pk, job.kind, type(exc).__name__, frames)
        return _fail(job, token, "export_failed", str(GENERIC_FAILURE))


def _finish(job: ExportJob, token: str, path: Path, detail: dict[str, Any], access_key: str) -> str:
    """Keep the file and mark the job done, if this run still holds it."""
    size = path.stat().st_size  # a builder that wrote nothing fails here, as a crash
    with path.open("rb") as handle:
        name = default_storage.save(f"exports/{job.public_id}/{job.filename}", File(handle, name=job.filename))
    now = timezone.now()
    try:
        with transaction.atomic():
            done = _holding(job, token).update(
                status=Status.DONE, file=name, size=size, access_key=access_key, finished_at=now,
                progress_done=F("progress_total"),
                expires_at=now + dt.timedelta(hours=settings.XINQIAO_EXPORT_KEEP_HOURS), locked_until=None)
            if done:
                audit_record(actor=job.requested_by, action=Action.UPDATE, object_type=OBJECT_TYPE, object_id=job.pk,
                             school_id=job.school_id, detail={**KINDS[job.kind].audit_detail(job.params),
                                                              "status": "done", "size": size, **detail})
    except Exception:
        _delete_file(name)
        raise
    if not done:
        _delete_file(name)
        return "lost"
    return str(Status.DONE)


def _fail(job: ExportJob, token: str, code: str, message: str) -> str:
    with transaction.atomic():
        failed = _holding(job, token).update(status=Status.FAILED, error_code=code[:64], error_message=message,
                                             finished_at=timezone.now(), locked_until=None)
        if failed:
            audit_record(actor=job.requested_by, action=Action.UPDATE, object_type=OBJECT_TYPE, object_id=job.pk,
                         school_id=job.school_id, detail={"kind": job.kind, "status": "failed", "error": code[:64]})
    return str(Status.FAILED) if failed else "lost"


def _holding(job: ExportJob, token: str) -> Any:
    return ExportJob.objects.filter(pk=job.pk, lock_token=token, status=Status.RUNNING)


# --- download ------------------------------------------------------------------------------------


def access_changed(*, actor: Any, job: ExportJob) -> bool:
    """Does ``actor`` now reach other records than when the job's file was built? Then the file is
    not handed over (it may hold what they no longer reach); they can request it again."""
    return job.access_key != principal_of(actor).scope_key


def export_job_download(*, actor: Any, job: ExportJob) -> File:  # type: ignore[type-arg]
    """The job's file, opened for reading, for the requester only; the download is audited (an
    export leaves the platform here). Not the requester's, not done, or no longer kept: 404."""
    if job.requested_by_id != getattr(actor, "pk", None) or job.status != Status.DONE:
        raise NotFound(_("Not found."))
    if not job.downloadable:
        raise NotFound(_("This export is no longer kept; request it again."), code="export_expired")
    if access_changed(actor=actor, job=job):
        # What the requester may see changed since the file was made (a membership ended, a class
        # list narrowed): the file may hold what they no longer reach.
        raise NotFound(_("Your access has changed since this export was made; request it again."),
                       code="export_access_changed")
    try:
        handle = default_storage.open(job.file, "rb")
    except FileNotFoundError:
        raise NotFound(_("This export is no longer kept; request it again."), code="export_expired") from None
    with transaction.atomic():
        audit_record(actor=actor, action=Action.EXPORT, object_type=OBJECT_TYPE, object_id=job.pk,
                     school_id=job.school_id, detail={**KINDS[job.kind].audit_detail(job.params), "size": job.size})
    return handle


# --- upkeep --------------------------------------------------------------------------------------


def export_jobs_expire(*, now: dt.datetime | None = None) -> int:
    """Delete the files of done jobs past their keeping time; the jobs stay, marked expired.
    Safe to run twice and in several workers. Returns how many files were deleted."""
    now = now or timezone.now()
    count = 0
    due = ExportJob.objects.filter(status=Status.DONE, expires_at__lte=now).exclude(file="").only("pk", "file")
    for job in due.iterator():
        # The file first, then the row: a delete that fails leaves the row as it was, and the next
        # run tries again (several workers deleting the same file is harmless; past its time it is
        # not handed out).
        try:
            _delete_file(job.file)
        except Exception:
            log.exception("export job %s: its file could not be deleted; tried again next run", job.pk)
            continue
        if ExportJob.objects.filter(pk=job.pk, file=job.file).update(file="", deleted_at=now):
            count += 1
    return count


def _delete_file(name: str) -> None:
    """Delete a kept file and its job's folder (the folder only where the storage has paths)."""
    default_storage.delete(name)
    try:
        folder = Path(default_storage.path(str(PurePosixPath(name).parent)))
    except NotImplementedError:  # a storage without local paths (an object store) has no folders
        return
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def export_jobs_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Jobs whose lease ran out: a running one (its process died) is queued and dispatched again
    once, then failed; a queued one nobody claimed (its dispatch was lost) is dispatched again, and
    failed after ``MAX_WAIT``. Safe to run in several workers at once. Returns counts."""
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0}
    stale = ExportJob.objects.filter(Q(locked_until__lt=now) | Q(locked_until__isnull=True),
                                     status__in=[Status.QUEUED, Status.RUNNING])
    for job in stale.only("pk", "status", "runs", "created_at", "language", "locked_until", "lock_token").iterator():
        outcome = _sweep_one(job, now)
        if outcome:
            counts[outcome] += 1
    return counts


def _sweep_one(job: ExportJob, now: dt.datetime) -> str:
    # The conditional UPDATE names the lease as read: a run that renewed it meanwhile keeps its job.
    same = ExportJob.objects.filter(pk=job.pk, status=job.status, lock_token=job.lock_token,
                                    locked_until=job.locked_until)
    again = job.runs < MAX_RUNS if job.status == Status.RUNNING else job.created_at > now - MAX_WAIT
    if again:
        if not same.update(status=Status.QUEUED, lock_token="", locked_until=now + QUEUE_WAIT):
            return ""
        job_id = job.pk
        transaction.on_commit(lambda: _dispatch(job_id), robust=True)
        return "requeued"
    code, reason = ("export_interrupted", INTERRUPTED) if job.status == Status.RUNNING else ("export_not_started",
                                                                                            NOT_STARTED)
    with translation.override(job.language):
        message = str(reason)
    failed = same.update(status=Status.FAILED, error_code=code, error_message=message, finished_at=now,
                         locked_until=None, lock_token="")
    return "failed" if failed else ""
