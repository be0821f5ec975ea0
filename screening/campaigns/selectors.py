"""Reads of the screening workflow that depend on who asks, built on the access policy."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from screening.campaigns.models import Assignment, Campaign, CrisisAlert


def alert_list(*, user: Any, open_only: bool = False) -> QuerySet[CrisisAlert]:
    """Crisis alerts on students this user covers, newest first (never visible to students)."""
    qs = CrisisAlert.objects.visible_to(user).select_related("student__school_class", "school")
    if open_only:
        qs = qs.filter(acknowledged_at__isnull=True)
    return qs


def my_assignments(*, user: Any) -> QuerySet[Assignment]:
    """The signed-in student's own assignments in launched or closed campaigns, newest first."""
    from screening.core.access import principal_of

    student_id = principal_of(user).student_id
    if student_id is None:
        return Assignment.objects.none()
    return (
        Assignment.objects.visible_to(user)
        .filter(student_id=student_id)
        .exclude(campaign__status=Campaign.Status.DRAFT)
        .select_related("campaign__school", "student__school__partner_hospital")
        .order_by("-campaign__opens_at", "-id")
    )


def completion_by_class(*, user: Any, campaign: Campaign) -> list[dict[str, Any]]:
    """Per class of a campaign: how many assignments are in each status, and how many wait on a
    guardian. Counts only (no names), over the assignments this user may see."""
    counts = {s: Count("id", filter=Q(status=s)) for s in Assignment.Status.values}
    rows = (
        Assignment.objects.visible_to(user)
        .filter(campaign=campaign)
        .values("student__school_class_id", "student__school_class__name", "student__school_class__grade")
        .annotate(total=Count("id"), guardian_waiting=Count("id", filter=Q(guardian=Assignment.Guardian.ASKED)), **counts)
        .order_by("student__school_class__grade", "student__school_class__name")
    )
    out = []
    for row in rows:
        r: dict[str, Any] = dict(row)
        done = r["submitted"]
        out.append({
            "class_id": r["student__school_class_id"], "class_name": r["student__school_class__name"],
            "grade": r["student__school_class__grade"], "total": r["total"],
            "guardian_waiting": r["guardian_waiting"],
            **{s: r[s] for s in Assignment.Status.values},
            "percent": round(100 * done / r["total"]) if r["total"] else 0,
        })
    return out
