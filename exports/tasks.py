"""Background work of export jobs, and where a job's run starts.

With a broker (``CELERY_BROKER_URL``), a Celery worker runs each job and beat runs the upkeep. On
the embedded default there is no broker, and a request must not wait for its export: the run goes
to a daemon thread of the process that took the request, and ``manage.py run_timers`` runs the
upkeep. A thread that dies with its process leaves a lease that runs out; the sweep runs the job
again. Tests set ``XINQIAO_EXPORTS_INLINE``: the run happens right after the commit, in the
request's thread, so what a test sees next is settled.
"""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from django.conf import settings
from django.db import connection

from exports import services

log = logging.getLogger("xinqiao.exports")


def export_job_dispatch(job_id: int) -> None:
    """Start the run of a queued job (called after the commit that queued it)."""
    if settings.XINQIAO_EXPORTS_INLINE:
        services.export_job_run(job_id=job_id)
    elif settings.CELERY_BROKER_URL:
        run_export_job.delay(job_id)
    else:
        threading.Thread(target=_run_in_thread, args=(job_id,), name=f"xinqiao-export-{job_id}", daemon=True).start()


def _run_in_thread(job_id: int) -> None:
    try:
        services.export_job_run(job_id=job_id)
    except Exception as exc:  # the job's lease runs out and the sweep takes it up again
        log.error("export job %s could not run: %s", job_id, type(exc).__name__)
    finally:
        connection.close()  # this thread's own connection; nothing else closes it


@shared_task(acks_late=True)
def run_export_job(job_id: int) -> str:
    """Run one export job (a redelivered message finds the job taken and does nothing)."""
    return services.export_job_run(job_id=job_id)


@shared_task(acks_late=True)
def expire_exports() -> int:
    """Hourly from beat: delete the files of exports past their keeping time."""
    return services.export_jobs_expire()


@shared_task(acks_late=True)
def sweep_export_jobs() -> dict[str, int]:
    """Every minute from beat: run again, or fail, the jobs whose process died or was never reached."""
    return services.export_jobs_sweep()
