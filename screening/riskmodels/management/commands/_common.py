"""What the risk model commands share: who runs them (a platform admin, named so the audit log
names them), and the scope given on the command line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from screening.core.access import principal_of
from screening.directory.models import Region, School


def add_actor(parser: CommandParser) -> None:
    parser.add_argument("--by", required=True, metavar="USERNAME",
                        help="The platform admin doing this (the audit log names them).")


def actor(options: dict[str, Any]) -> Any:
    user = get_user_model().objects.filter(username=options["by"], is_active=True).first()
    if user is None or not principal_of(user).platform_admin:
        raise CommandError(f"--by {options['by']}: not an active platform admin.")
    return user


def add_scope(parser: CommandParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--school", metavar="CODE", help="A school's code (default: every school).")
    group.add_argument("--region", metavar="CODE", help="A region's administrative code: every school in it.")


def scope(options: dict[str, Any]) -> tuple[School | None, Region | None]:
    school = region = None
    if options.get("school"):
        school = School.objects.filter(code=options["school"]).first()
        if school is None:
            raise CommandError(f"--school {options['school']}: no school has this code.")
    if options.get("region"):
        region = Region.objects.filter(code=options["region"]).first()
        if region is None:
            raise CommandError(f"--region {options['region']}: no region has this code.")
    return school, region


def day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise CommandError(f"{text!r}: expected a date as YYYY-MM-DD.") from e
