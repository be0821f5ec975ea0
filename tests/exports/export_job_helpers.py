"""Tiny builders for the export job tests, so they do not depend on the real ones, and the
fixtures that put them in the registry. Imported by path as ``tests.exports.export_job_helpers``
(the job runner imports builders by dotted path)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from exports import kinds
from exports.build import BuildContext
from screening.campaigns.services import campaign_create, campaign_launch
from screening.core.errors import DomainError

HERE = "tests.exports.export_job_helpers"
ROWS = 5
NAME = "韩小明"  # personal data a crash's text may carry (kept off the raising line: tracebacks show it)


def tiny_build(ctx: BuildContext) -> None:
    """A CSV naming who built it, in which language, from which parameters; progress per row."""
    lines = [f"user,{ctx.user.get_username()}", f"language,{get_language()}",
             *(f"{key},{value}" for key, value in sorted(ctx.params.items()))]
    with ctx.path.open("w", encoding="utf-8") as out:
        for done, line in enumerate(lines, start=1):
            out.write(line + "\n")
            ctx.progress(done, len(lines))
    ctx.detail["rows"] = len(lines)


def slow_build(ctx: BuildContext) -> None:
    """As tiny_build, two seconds slower: a poller sees it running."""
    for done in range(1, ROWS + 1):
        time.sleep(0.4)
        ctx.progress(done, ROWS)
    tiny_build(ctx)


def refusing_build(ctx: BuildContext) -> None:
    """Refuses as a real builder does when there is nothing to export."""
    ctx.progress(1, 4)
    raise DomainError(_("The date is out of range."), code="nothing_to_export")


def crashing_build(ctx: BuildContext) -> None:
    """Fails as a bug does, with personal data in the exception's text."""
    ctx.progress(1, 4)
    raise RuntimeError(f"{NAME} scored {len(NAME) * 7}")


def use_builder(monkeypatch: pytest.MonkeyPatch, name: str, *kinds_: str) -> None:
    """Every kind named (default: all) builds with ``name`` of this module."""
    for code in kinds_ or tuple(kinds.KINDS):
        monkeypatch.setitem(kinds.KINDS, code, dataclasses.replace(kinds.KINDS[code], builder=f"{HERE}.{name}"))


def keep_files_in(settings: Any, folder: Path) -> Path:
    """Kept files go to ``folder`` (a test's temporary one) for the rest of the test."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder}}}
    return folder


def launched_campaign(cast: Any, school: Any = None, *, asks_research_use: bool = True) -> Any:
    """A launched campaign of Dongshan (or Xishan), open since an hour ago; unless told otherwise it
    asks about research use, so a research extract of it may be requested."""
    school = school or cast.dongshan
    head = cast.diana if school == cast.dongshan else cast.edgar
    classes = [cast.ds_7_1, cast.ds_7_2] if school == cast.dongshan else [cast.xs_10_1]
    now = timezone.now()
    campaign = campaign_create(actor=head, school=school, name="秋季心理筛查", instruments=["phq9"],
                               target_classes=classes, opens_at=now - dt.timedelta(hours=1),
                               closes_at=now + dt.timedelta(days=14), asks_research_use=asks_research_use)
    campaign_launch(actor=head, campaign=campaign)
    return campaign
