"""Answering: the sitting's plan, drafts, and the submit that scores, tiers and alerts at once.

A sitting is the campaign's instruments in order. With stepped screening, a PHQ-2 total of 3 or
more adds the PHQ-9 right after it (and a GAD-2 of 3 or more the GAD-7), within the same sitting;
the two items the short form shares with the long one are carried over, so nobody answers them
twice. Drafts are saved on the assignment row, so a student can resume on any device and nothing
is lost when a server restarts. Submit is idempotent: exactly one Submission per assignment, the
same ``Idempotency-Key`` and body get the first response back, a different body gets 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

import scoring
from scoring.tiers import Tier, TierPolicy, decide, policy_with_overrides
from screening.campaigns import rules
from screening.campaigns.models import Assignment, Campaign, Result, Submission
from screening.campaigns.services import alerts
from screening.cases.services.flags import case_flag
from screening.core import rows
from screening.core.access import principal_of
from screening.core.audit import Action, audit_record
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from screening.directory.models import Hospital, Region, School, Student
from screening.riskmodels import estimate

STEPS = (("phq2", "phq9"), ("gad2", "gad7"))  # short form → the full form it may add
STEP_THRESHOLD = 3  # PHQ-2 / GAD-2 total of 3 or more (Kroenke 2003; Kroenke 2007)
MAX_KEY = 100

Answers = dict[str, dict[str, Any]]

BLOCKER_MESSAGES = {
    rules.Blocker.NOT_OPEN: _("This questionnaire is not open yet."),
    rules.Blocker.CLOSED: _("This questionnaire has closed."),
    rules.Blocker.SUBMITTED: _("You have already submitted this questionnaire."),
    rules.Blocker.MISSED: _("This questionnaire has closed."),
    rules.Blocker.GUARDIAN_PENDING: _("We are waiting for your guardian's consent."),
    rules.Blocker.GUARDIAN_REFUSED: _("Your guardian did not consent, so you will not be asked to answer."),
    rules.Blocker.STUDENT_CONSENT: _("Please read and agree to the first page before you start."),
    rules.Blocker.STUDENT_DECLINED: _("You chose not to take part."),
    rules.Blocker.LEFT_ROSTER: _("You are no longer on this school's roster."),
}

PROBLEM_MESSAGES = {
    "unknown_item": _("There is no such question."),
    "wrong_type": _("This answer is not one of the options."),
    "out_of_range": _("This answer is not one of the options."),
    "not_an_object": _("Answers must map each question to an option."),
}


def refuse(blocker: rules.Blocker) -> Conflict:
    """The 409 for a student who may not answer now, with its stable code."""
    return Conflict(BLOCKER_MESSAGES[blocker], code=blocker.value)


# --- the sitting -------------------------------------------------------------------------------


def _step_taken(short: str, answers: Mapping[str, Any]) -> bool:
    given = answers.get(short)
    if not isinstance(given, Mapping):
        return False
    result = scoring.score(short, given)
    return bool(result.valid and result.total is not None and result.total >= STEP_THRESHOLD)


def sitting_plan(campaign: Campaign, answers: Mapping[str, Any]) -> list[str]:
    """The instruments this student answers, in order, given their answers so far."""
    plan = list(campaign.instruments)
    if campaign.stepped:
        for short, full in STEPS:
            if short in plan and full not in plan and _step_taken(short, answers):
                plan.insert(plan.index(short) + 1, full)
    return plan


def carried_items(campaign: Campaign, code: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers a stepped full form takes over from its short form (PHQ-2 items 1–2 are PHQ-9
    items 1–2; GAD-2 items 1–2 are GAD-7 items 1–2)."""
    for short, full in STEPS:
        if code == full and campaign.stepped and full not in campaign.instruments:
            given = answers.get(short)
            if isinstance(given, Mapping):
                return {k: v for k, v in given.items() if k in ("1", "2") and v is not None}
    return {}


def sitting_answers(campaign: Campaign, answers: Mapping[str, Any]) -> Answers:
    """Each planned instrument's answers, with carried items filled in where not given."""
    out: Answers = {}
    for code in sitting_plan(campaign, answers):
        given = answers.get(code)
        own = dict(given) if isinstance(given, Mapping) else {}
        out[code] = {**carried_items(campaign, code, answers), **{k: v for k, v in own.items()}}
    return out


def _check_answers(campaign: Campaign, answers: Any, *, partial: bool) -> Answers:
    """Shape and option checks, field by field (``answers.<code>.<item>``). A draft may hold
    any subset; a submission may hold only the instruments its own plan contains."""
    if not isinstance(answers, Mapping):
        raise InvalidInput(fields={"answers": [PROBLEM_MESSAGES["not_an_object"]]})
    fields: dict[str, list[Any]] = {}
    allowed = set(campaign.instruments) | {full for short, full in STEPS if campaign.stepped and short in campaign.instruments}
    planned = set(sitting_plan(campaign, answers)) if not partial else allowed
    for code, given in answers.items():
        if code not in planned:
            fields[f"answers.{code}"] = [_("This questionnaire is not part of this screening.")]
            continue
        if not isinstance(given, Mapping):
            fields[f"answers.{code}"] = [PROBLEM_MESSAGES["not_an_object"]]
            continue
        for problem in scoring.score(code, given, campaign.profiles.get(code)).problems:
            if problem.code != "too_many_missing":
                fields[f"answers.{code}.{problem.item}"] = [PROBLEM_MESSAGES.get(problem.code, problem.message)]
    if fields:
        raise InvalidInput(_("Some answers are not valid."), fields=fields)
    return {code: dict(given) for code, given in answers.items()}


# --- drafts ------------------------------------------------------------------------------------


def _locked(assignment: Assignment) -> Assignment:
    return (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("campaign", "student__school")
        .get(pk=assignment.pk)
    )


def assignment_draft_save(*, actor: Any, assignment: Assignment, answers: Any) -> Assignment:
    """Merge answers into the draft: ``{code: {item: value}}``; a value of None clears that
    answer. Only the student may save, and only while they may answer."""
    _own(actor, assignment)
    changes = _check_answers(assignment.campaign, answers, partial=True)
    with transaction.atomic():
        locked = _locked(assignment)
        blocker = rules.answer_blocker(locked)
        if blocker is not None:
            raise refuse(blocker)
        draft = {code: dict(items) for code, items in (locked.draft or {}).items()}
        for code, items in changes.items():
            merged = {**draft.get(code, {}), **items}
            draft[code] = {k: v for k, v in merged.items() if v is not None}
        _check_answers(locked.campaign, draft, partial=True)  # the merge itself must stay valid
        now = timezone.now()
        locked.draft, locked.draft_saved_at = draft, now
        fields = ["draft", "draft_saved_at"]
        if locked.status == Assignment.Status.PENDING:
            locked.status, locked.started_at = Assignment.Status.IN_PROGRESS, now
            fields += ["status", "started_at"]
        locked.save(update_fields=fields)
    return locked


def _own(actor: Any, assignment: Assignment) -> None:
    """Answers are the student's own: staff who can see the assignment still may not answer."""
    if not is_own(actor, assignment):
        raise NotAllowed(_("Only the student can answer their own questionnaire."))


def is_own(actor: Any, assignment: Assignment) -> bool:
    """Is ``actor`` the (signed-in, on-roster) student of this assignment?"""
    student_id = principal_of(actor).student_id
    return student_id is not None and student_id == assignment.student_id


# --- submit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitOutcome:
    submission: Submission
    created: bool


def body_fingerprint(assignment_id: int, answers: Any) -> str:
    """What "the same body" means: the assignment and its answers, key order ignored."""
    canonical = json.dumps({"assignment": assignment_id, "answers": answers}, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@lru_cache(maxsize=256)
def _policy(overrides_json: str) -> TierPolicy:
    return policy_with_overrides(json.loads(overrides_json) or None)


def school_policy(school: School) -> TierPolicy:
    """The tier policy of one school: the defaults with the school's overrides."""
    return _policy(json.dumps(school.tier_overrides or {}, sort_keys=True))


def _score(campaign: Campaign, answers: Answers) -> tuple[list[scoring.Result], Answers]:
    sitting = sitting_answers(campaign, answers)
    return [scoring.score(code, given, campaign.profiles.get(code)) for code, given in sitting.items()], sitting


def _replay(existing: Submission, assignment_id: int, fingerprint: str, key: str) -> SubmitOutcome:
    if existing.idempotency_key == key and existing.body_sha256 == fingerprint and existing.assignment_id == assignment_id:
        return SubmitOutcome(existing, created=False)
    if existing.idempotency_key == key:
        raise Conflict(_("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused")
    raise refuse(rules.Blocker.SUBMITTED)


def assignment_submit(
    *, actor: Any, assignment_id: int, answers: Any, idempotency_key: str, language: str
) -> SubmitOutcome:
    """Submit a student's answers to their own assignment: score every instrument, decide the
    tier, store answers, results and tier in one transaction, and raise the crisis alert in that
    same transaction when the tier is red. Safe to repeat: see the module docstring. An assignment
    that is not the actor's own is NotFound, as for one that does not exist."""
    student_id = principal_of(actor).student_id
    if student_id is None:
        raise NotAllowed(_("Only the student can answer their own questionnaire."))
    key = (idempotency_key or "").strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(fields={"Idempotency-Key": [_("Send an Idempotency-Key header of 1 to 100 characters.")]})
    fingerprint = body_fingerprint(assignment_id, answers)
    try:
        with transaction.atomic():
            return _store(actor, _locked_own(assignment_id, student_id), answers, key, fingerprint, language)
    except (IntegrityError, InvalidInput):
        # The key was used before: by a concurrent submit that won the race (IntegrityError), or by
        # an earlier submit of another body (a 409 says so, not a 400 about the new body).
        earlier = Submission.objects.filter(student_id=student_id, idempotency_key=key).first()
        if earlier is None:
            raise
        return _replay(earlier, assignment_id, fingerprint, key)


_GUARDIAN_FIELDS = frozenset({"guardian_name", "guardian_phone", "guardian_email"})  # not needed: not decrypted


@lru_cache(maxsize=4)
def _own_assignment_sql(alias: str) -> str:
    """The locked read of one student's own assignment with its campaign, student, school, the
    school's region (which risk model applies) and partner hospital: what ``select_related`` would fetch, written out because compiling that
    query cost the ORM several times the query (bench/submit_throughput.py)."""
    connection = connections[alias]
    lock = connection.ops.for_update_sql(of=("a",)) if connection.features.has_select_for_update_of else ""
    columns = ", ".join([
        rows.select_list(Assignment, "a", alias=alias), rows.select_list(Campaign, "c", alias=alias),
        rows.select_list(Student, "s", skip=_GUARDIAN_FIELDS, alias=alias),
        rows.select_list(School, "sc", alias=alias), rows.select_list(Region, "r", alias=alias),
        rows.select_list(Hospital, "h", alias=alias),
    ])
    tables = (
        f"{Assignment._meta.db_table} a JOIN {Campaign._meta.db_table} c ON c.id = a.campaign_id "
        f"JOIN {Student._meta.db_table} s ON s.id = a.student_id JOIN {School._meta.db_table} sc ON sc.id = s.school_id "
        f"JOIN {Region._meta.db_table} r ON r.id = sc.region_id "
        f"LEFT JOIN {Hospital._meta.db_table} h ON h.id = sc.partner_hospital_id"
    )
    # As my_assignments: a campaign still in draft has no assignment for its students to see.
    where = "a.id = %s AND a.student_id = %s AND c.status <> %s"
    return f"SELECT {columns} FROM {tables} WHERE {where} {lock}"  # noqa: S608  (names: the models')


def _locked_own(assignment_id: int, student_id: int) -> Assignment:
    """The student's own assignment, locked for this transaction, with what the submit reads.

    Own means its student is the actor's (``principal.student_id``, checked by assignment_submit):
    narrower than what the access policy lets the actor see, and always inside it
    (tests/campaigns/test_student_api.py checks that a student's own assignments are visible to
    them). NotFound otherwise."""
    alias = router.db_for_write(Assignment)
    with connections[alias].cursor() as cursor:
        cursor.execute(_own_assignment_sql(alias), [assignment_id, student_id, Campaign.Status.DRAFT.value])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("Not found."))
    assignment, at = rows.load(Assignment, row, 0, alias=alias)
    campaign, at = rows.load(Campaign, row, at, alias=alias)
    student, at = rows.load(Student, row, at, skip=_GUARDIAN_FIELDS, alias=alias)
    school, at = rows.load(School, row, at, alias=alias)
    region, at = rows.load(Region, row, at, alias=alias)
    hospital, _end = rows.load(Hospital, row, at, alias=alias)
    assert isinstance(assignment, Assignment) and isinstance(student, Student) and isinstance(school, School)
    school.partner_hospital, school.region = hospital, region  # type: ignore[assignment]
    student.school = school
    assignment.campaign, assignment.student = campaign, student  # type: ignore[assignment]
    return assignment


def _store(actor: Any, locked: Assignment, answers: Any, key: str, fingerprint: str, language: str) -> SubmitOutcome:
    """The transaction body, on the assignment row locked first: two submits of one assignment
    queue on the lock and the second finds it submitted (and answers as the first did)."""
    if locked.status == Assignment.Status.SUBMITTED:  # set in the same transaction as the Submission
        return _replay(Submission.objects.get(assignment=locked), locked.pk, fingerprint, key)
    blocker = rules.answer_blocker(locked)
    if blocker is not None:
        raise refuse(blocker)
    campaign = locked.campaign
    checked = _check_answers(campaign, answers, partial=False)
    results, sitting = _score(campaign, checked)
    policy = school_policy(locked.student.school)
    decision = decide({r.instrument: (r, sitting[r.instrument]) for r in results}, policy)
    rules_tier = decision.tier.value
    decision, est = estimate.apply(estimate.active_for(locked.student.school), decision, answers=sitting,
                                   student=locked.student)
    now = timezone.now()
    critical = decision.tier is Tier.RED or any(r.critical for r in results)
    due = now + decision.first_contact_limit if decision.first_contact_limit is not None else None
    submission = Submission(
        assignment=locked, student_id=locked.student_id, answers=checked, language=language, submitted_at=now,
        idempotency_key=key, body_sha256=fingerprint, response={}, tier=decision.tier.value,
        tier_rules=[r.to_dict() for r in decision.rules], unscored=list(decision.unscored),
        policy_version=decision.policy_version, policy_fingerprint=decision.policy_fingerprint,
        first_contact_due_at=due, crisis=critical,
    )
    with override(language):
        submission.response = submit_response(locked, submission)
    # rows.insert/update: the same rows as save() and bulk_create(), their SQL compiled once (hot path).
    rows.insert([submission])
    rows.insert([_result_row(submission, i, r) for i, r in enumerate(results)])
    if est is not None:  # the estimate beside the results, with the tier before and after it
        rows.insert([estimate.score_row(est, submission_id=submission.pk, before=rules_tier, after=decision.tier.value,
                                        at=now)])
    locked.status, locked.submitted_at, locked.draft = Assignment.Status.SUBMITTED, now, {}
    rows.update(locked, ["status", "submitted_at", "draft"])
    audit_record(actor=actor, action=Action.CREATE, object_type="campaigns.Submission", object_id=submission.pk,
                 student_public_id=locked.student.public_id, school_id=locked.student.school_id)
    alert = alerts.crisis_alert_raise(submission=submission, decision=decision, policy=policy) if decision.tier is Tier.RED else None
    case_flag(submission=submission, school_id=locked.student.school_id, alert=alert)  # yellow and above
    return SubmitOutcome(submission, created=True)


def _result_row(submission: Submission, position: int, r: scoring.Result) -> Result:
    return Result(
        submission=submission, instrument=r.instrument, version=r.version, profile=r.profile, valid=r.valid,
        total=r.total, band=r.band or "", scores=dict(r.scores), subscales=dict(r.subscales),
        critical=list(r.critical), flags=list(r.flags), problems=[p.to_dict() for p in r.problems], position=position,
    )


def submit_response(assignment: Assignment, submission: Submission) -> dict[str, Any]:
    """The body the submit answers with (and answers with again on an idempotent retry). It says
    whether to show crisis resources, never the tier, scores or answers."""
    campaign = assignment.campaign
    return {
        "assignment": assignment.pk,
        "status": Assignment.Status.SUBMITTED.value,
        "submitted_at": submission.submitted_at.isoformat(),
        "crisis": {"resources": alerts.crisis_resources(assignment.student.school)} if submission.crisis else None,
        "results_available": bool(campaign.students_see_results),
    }
