"""The student's pages: consent first, one questionnaire per page, review, submit, thank you.

Every page works without JavaScript. With it (htmx), each change to an answer saves the draft at
once and shows a question that has just come to apply (ASQ item 5); without it, Next saves the
page and shows the page again when such a question appeared. Only the signed-in student's own
assignments are found (``my_assignments``); any other id is a 404. The draft lives on the
assignment, so a student resumes on another device with every answer in place.

Where the campaign asks it, the first page also carries the separate, optional question about
research use without names (an unticked checkbox beside "I agree"); afterwards, and after
submitting, a small form of its own lets the student say yes later or withdraw a yes.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from screening.campaigns import rules
from screening.campaigns.feedback import student_feedback
from screening.campaigns.models import Assignment, ConsentRecord, Submission
from screening.campaigns.questionnaire import instrument_page, questionnaire, unanswered
from screening.campaigns.selectors import my_assignments
from screening.campaigns.services import answering
from screening.campaigns.services.alerts import crisis_resources
from screening.campaigns.services.answering import (
    BLOCKER_MESSAGES,
    PROBLEM_MESSAGES,
    assignment_draft_save,
    sitting_plan,
)
from screening.campaigns.services.consent import (
    consent_text,
    research_decision,
    research_text,
    student_consent_give,
    student_consent_withdraw,
    student_research_consent,
)
from screening.core.audit import Action, audit_students
from screening.core.errors import Conflict, DomainError, InvalidInput
from screening.web.scoped import visible_or_404

Page = dict[str, Any]
CONSENT_BLOCKERS = (rules.Blocker.STUDENT_CONSENT, rules.Blocker.STUDENT_DECLINED)
BLOCKERS = {blocker.value: blocker for blocker in rules.Blocker}

# A student who is signed out is sent to the students' sign-in, not the staff one.
student_login_required = login_required(login_url="web:student-login")


# --- helpers ------------------------------------------------------------------------------------


def _mine(request: HttpRequest, pk: int) -> Assignment:
    """The signed-in student's own assignment, or 404 (the same for someone else's). A page that
    shows it (with the student's answers) is a read of identifiable data, and is audited."""
    assignment = visible_or_404(request, my_assignments(user=request.user), pk=pk)
    if request.method == "GET":
        audit_students(actor=request.user, action=Action.READ, students=[assignment.student],
                       object_type="campaigns.Assignment")
    return assignment


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)


def _posted_language(request: HttpRequest) -> str:
    """The language a form was shown in (the consent text's hash depends on it)."""
    shown = request.POST.get("language", "")
    return shown if shown in dict(settings.LANGUAGES) else _language(request)


def _blocked(request: HttpRequest, assignment: Assignment, blocker: rules.Blocker, status: int = 409) -> HttpResponse:
    """A friendly page saying why the student cannot answer now."""
    return render(request, "web/answer/blocked.html", {
        "assignment": assignment, "campaign": assignment.campaign, "blocker": blocker.value,
        "message": BLOCKER_MESSAGES[blocker],
    }, status=status)


def _problem(request: HttpRequest, assignment: Assignment, exc: DomainError) -> HttpResponse:
    """A refused request as a page with the error's status (400, 403 or 409; 404 is the 404 page)."""
    if exc.status == 404:
        raise Http404
    blocker = BLOCKERS.get(exc.code)  # the service refused a student who may not answer now
    if blocker is not None:
        if blocker is rules.Blocker.SUBMITTED:
            return redirect("web:assignment-done", assignment.pk)
        if blocker in CONSENT_BLOCKERS:
            return redirect("web:assignment-consent", assignment.pk)
        return _blocked(request, assignment, blocker, status=exc.status)
    fields = [str(m) for messages in exc.fields.values() for m in messages]
    return render(request, "web/answer/problem.html", {
        "assignment": assignment, "campaign": assignment.campaign, "message": exc.message, "fields": fields,
    }, status=exc.status)


def _gate(request: HttpRequest, assignment: Assignment, status: int = 409) -> HttpResponse | None:
    """Where a student who may not answer now goes instead: the thank-you page once submitted, the
    first page while their own consent is missing, otherwise a page that says why."""
    blocker = rules.answer_blocker(assignment)
    if blocker is None:
        return None
    if blocker is rules.Blocker.SUBMITTED:
        return redirect("web:assignment-done", assignment.pk)
    if blocker in CONSENT_BLOCKERS:
        return redirect("web:assignment-consent", assignment.pk)
    return _blocked(request, assignment, blocker, status)


def _posted_answers(page: Page, data: Any) -> dict[str, Any]:
    """The page's radios as ``{item id: printed value}``; a value that is no option is refused."""
    answers: dict[str, Any] = {}
    fields: dict[str, list[Any]] = {}
    for item in page["items"]:
        raw = data.get(f"item-{item['id']}")
        if raw in (None, ""):
            continue
        match = [o["value"] for o in item["options"] if o["key"] == raw]
        if match:
            answers[item["id"]] = match[0]
        else:
            fields[f"answers.{page['code']}.{item['id']}"] = [PROBLEM_MESSAGES["out_of_range"]]
    if fields:
        raise InvalidInput(_("Some answers are not valid."), fields=fields)
    return answers


def _asked(page: Page) -> dict[str, bool]:
    return {item["id"]: item["asked"] for item in page["items"]}


def _save_page(request: HttpRequest, assignment: Assignment, code: str) -> tuple[Assignment, Page, Page]:
    """Save this page's posted answers into the draft; the page before and after the save."""
    language = _language(request)
    before = instrument_page(assignment.campaign, code, language, assignment.draft or {})
    answers = _posted_answers(before, request.POST)
    if answers:
        assignment = assignment_draft_save(actor=request.user, assignment=assignment, answers={code: answers})
    after = instrument_page(assignment.campaign, code, language, assignment.draft or {})
    return assignment, before, after


def _to_step(assignment: Assignment, step: int) -> HttpResponse:
    return redirect("web:assignment-step", assignment.pk, step)


# --- start and consent --------------------------------------------------------------------------


@student_login_required
@never_cache
def assignment_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the student is in this screening: the first page, the first unanswered question,
    the review, the thank-you page, or a page that says why they cannot answer."""
    assignment = _mine(request, pk)
    gate = _gate(request, assignment, status=200)
    if gate is not None:
        return gate
    pages = questionnaire(assignment, _language(request))["instruments"]
    for step, page in enumerate(pages, start=1):
        if unanswered(page):
            return _to_step(assignment, step)
    return redirect("web:assignment-review", assignment.pk)


def _research(assignment: Assignment, language: str) -> dict[str, Any] | None:
    """The research question for this student: a checkbox beside "I agree" the first time
    (``in_form``), else a form of its own once they take part; and their answer so far."""
    if not assignment.campaign.asks_research_use:
        return None
    state = research_decision(assignment, ConsentRecord.Party.STUDENT)
    taking_part = assignment.student_consent == Assignment.StudentConsent.GRANTED
    in_form = state is None and not taking_part
    return {"state": state, "in_form": in_form,
            "own_form": not in_form and (taking_part or state == ConsentRecord.Decision.GRANTED),
            "text": research_text(party="student", assignment=assignment, language=language)}


def _posted_research(request: HttpRequest) -> bool | None:
    """The research checkbox: ticked is a yes, unticked a no, absent (not shown) no answer."""
    return request.POST.get("research") == "yes" if request.POST.get("research_asked") else None


def _consent_page(request: HttpRequest, assignment: Assignment, *, error: DomainError | None = None,
                  status: int = 200) -> HttpResponse:
    language = _language(request)
    text = consent_text(party="student", assignment=assignment, language=language)
    return render(request, "web/answer/consent.html", {
        "assignment": assignment, "campaign": assignment.campaign, "text": text, "language": language,
        "state": assignment.student_consent, "error": error.message if error else None,
        "research": _research(assignment, language),
    }, status=status)


@student_login_required
@never_cache
@require_http_methods(["GET", "POST"])
def assignment_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """The first page: what this is, who sees the answers, and the student's own choice."""
    assignment = _mine(request, pk)
    blocker = rules.may_give_own_consent(assignment)
    if blocker is rules.Blocker.SUBMITTED:
        return redirect("web:assignment-done", assignment.pk)
    if blocker is not None:
        return _blocked(request, assignment, blocker, status=200 if request.method == "GET" else 409)
    if request.method == "GET":
        return _consent_page(request, assignment)
    choice = request.POST.get("decision", "")
    try:
        if choice == "withdraw":
            student_consent_withdraw(actor=request.user, assignment=assignment, language=_posted_language(request))
        elif choice in ("agree", "decline"):
            student_consent_give(actor=request.user, assignment=assignment, agree=choice == "agree",
                                 language=_posted_language(request), text_sha256=request.POST.get("sha256", ""),
                                 research=_posted_research(request),
                                 research_sha256=request.POST.get("research_sha256", ""))
        else:
            raise InvalidInput(_("Please choose whether you want to take part."))
    except DomainError as exc:
        if exc.status == 404:
            raise Http404 from None
        return _consent_page(request, assignment, error=exc, status=exc.status)
    if choice == "agree":
        return redirect("web:assignment", assignment.pk)
    return redirect("web:assignment-consent", assignment.pk)


@student_login_required
@never_cache
@require_POST
def assignment_research(request: HttpRequest, pk: int) -> HttpResponse:
    """The research question on its own: a later yes, or withdrawing a yes (also after submitting).
    Back to the page it was asked on."""
    assignment = _mine(request, pk)
    try:
        student_research_consent(actor=request.user, assignment=assignment, agree=bool(_posted_research(request)),
                                 language=_posted_language(request),
                                 text_sha256=request.POST.get("research_sha256", ""))
    except DomainError as exc:
        return _problem(request, assignment, exc)
    if assignment.status == Assignment.Status.SUBMITTED:
        return redirect("web:assignment-done", assignment.pk)
    return redirect("web:assignment-consent", assignment.pk)


# --- one questionnaire per page -----------------------------------------------------------------


def _progress(step: int, plan: list[str]) -> dict[str, int]:
    return {"step": step, "total": len(plan)}


def _step_page(request: HttpRequest, assignment: Assignment, step: int, plan: list[str], page: Page, *,
               appeared: list[str] | None = None, errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    return render(request, "web/answer/step.html", {
        "assignment": assignment, "campaign": assignment.campaign, "page": page, "plan": plan,
        "progress": _progress(step, plan), "step": step, "previous": step - 1 if step > 1 else None,
        "appeared": appeared or [], "errors": errors or [],
    }, status=status)


@student_login_required
@never_cache
@require_http_methods(["GET", "POST"])
def assignment_step(request: HttpRequest, pk: int, step: int) -> HttpResponse:
    """One questionnaire. POST (the Next or Back button) saves the page, then moves on, unless
    a question has just come to apply and is still unanswered: then the page is shown again."""
    assignment = _mine(request, pk)
    gate = _gate(request, assignment)
    if gate is not None:
        return gate
    plan = sitting_plan(assignment.campaign, assignment.draft or {})
    if step < 1:
        raise Http404
    if step > len(plan):
        return redirect("web:assignment-review", assignment.pk)
    code = plan[step - 1]
    if request.method == "GET":
        page = instrument_page(assignment.campaign, code, _language(request), assignment.draft or {})
        return _step_page(request, assignment, step, plan, page)
    try:
        assignment, before, after = _save_page(request, assignment, code)
    except InvalidInput as exc:
        page = instrument_page(assignment.campaign, code, _language(request), assignment.draft or {})
        errors = [str(m) for messages in exc.fields.values() for m in messages] or [str(exc.message)]
        return _step_page(request, assignment, step, plan, page, errors=errors, status=400)
    except DomainError as exc:
        return _problem(request, assignment, exc)
    was_asked = _asked(before)
    appeared = [i["id"] for i in after["items"] if i["asked"] and i["answer"] is None and not was_asked[i["id"]]]
    plan = sitting_plan(assignment.campaign, assignment.draft or {})
    if appeared:
        return _step_page(request, assignment, step, plan, after, appeared=appeared)
    if request.POST.get("go") == "back" and step > 1:
        return _to_step(assignment, step - 1)
    if step < len(plan):
        return _to_step(assignment, step + 1)
    return redirect("web:assignment-review", assignment.pk)


@student_login_required
@never_cache
@require_POST
def assignment_draft(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: save one page's answers as they change. Answers with a small status, plus the
    questions whose visibility changed (out of band) and the progress, which stepped screening
    may lengthen. Errors come back as a status too, with 200 so that htmx shows them."""
    assignment = _mine(request, pk)
    htmx = bool(getattr(request, "htmx", False))
    code = request.POST.get("code", "")
    plan = sitting_plan(assignment.campaign, assignment.draft or {})
    if not htmx:  # without JavaScript the page posts to its own step; this is only a fallback
        return _to_step(assignment, plan.index(code) + 1) if code in plan else redirect("web:assignment", assignment.pk)
    if code not in plan:
        return _save_status(request, error=_("This page is out of date. Please reload it."))
    try:
        assignment, before, after = _save_page(request, assignment, code)
    except DomainError as exc:
        return _save_status(request, error=exc.message)
    was_asked = _asked(before)
    changed = [item for item in after["items"] if item["asked"] != was_asked[item["id"]]]
    new_plan = sitting_plan(assignment.campaign, assignment.draft or {})
    step = new_plan.index(code) + 1 if code in new_plan else 1
    return render(request, "web/answer/_saved.html", {
        "assignment": assignment, "page": after, "changed": changed,
        "progress": _progress(step, new_plan),
    })


def _save_status(request: HttpRequest, *, error: Any) -> HttpResponse:
    """A draft that was not saved, said in the status line (200: htmx swaps no error response)."""
    return render(request, "web/answer/_saved.html", {"error": error})


# --- review, submit, thank you ------------------------------------------------------------------


@student_login_required
@never_cache
def assignment_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Every questionnaire with its unanswered questions, and the submit form. The submit carries
    a fresh idempotency key: a double click or a retry submits once."""
    assignment = _mine(request, pk)
    gate = _gate(request, assignment)
    if gate is not None:
        return gate
    pages = questionnaire(assignment, _language(request))["instruments"]
    rows = []
    for step, page in enumerate(pages, start=1):
        missing = set(unanswered(page))
        asked = [item for item in page["items"] if item["asked"]]
        rows.append({
            "step": step, "code": page["code"], "title": page["title"], "asked": len(asked), "answered": len(asked) - len(missing),
            "missing": [(n, item) for n, item in enumerate(page["items"], start=1) if item["id"] in missing],
        })
    return render(request, "web/answer/review.html", {
        "assignment": assignment, "campaign": assignment.campaign, "rows": rows,
        "missing": sum(len(r["missing"]) for r in rows), "last_step": len(pages),
        "idempotency_key": uuid.uuid4().hex,
    })


def _submission_body(assignment: Assignment, key: str) -> dict[str, Any]:
    """What is submitted: the draft's instruments that are in the sitting (stepped screening may
    have dropped one since it was answered). A repeated POST with the key that already succeeded
    sends the stored answers, so that the service recognises the same request and replays it
    (the submit empties the draft)."""
    if assignment.status == Assignment.Status.SUBMITTED:
        existing = Submission.objects.filter(assignment=assignment).first()
        if existing is not None and existing.idempotency_key == key:
            return dict(existing.answers)
    draft = assignment.draft or {}
    return {code: draft[code] for code in sitting_plan(assignment.campaign, draft) if code in draft}


@student_login_required
@never_cache
@require_POST
def assignment_submit(request: HttpRequest, pk: int) -> HttpResponse:
    """Submit once. A critical answer shows the crisis page in this very response (no script, no
    redirect to lose); otherwise the thank-you page."""
    assignment = _mine(request, pk)
    key = request.POST.get("idempotency_key", "")
    try:
        outcome = answering.assignment_submit(
            actor=request.user, assignment_id=assignment.pk, answers=_submission_body(assignment, key),
            idempotency_key=key, language=_language(request),
        )
    except DomainError as exc:
        if isinstance(exc, Conflict) and exc.code == "idempotency_key_reused":
            return redirect("web:assignment-done", assignment.pk)
        return _problem(request, assignment, exc)
    if outcome.submission.crisis:
        return _crisis_page(request, assignment)
    return redirect("web:assignment-done", assignment.pk)



def _crisis_page(request: HttpRequest, assignment: Assignment) -> HttpResponse:
    return render(request, "web/answer/crisis.html", {
        "assignment": assignment, "campaign": assignment.campaign,
        "resources": crisis_resources(assignment.student.school),
    })


@student_login_required
@never_cache
def assignment_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Thank you; the crisis resources again when the answers called for them; the student's own
    results only where the campaign allows it, worded for a young reader."""
    assignment = _mine(request, pk)
    submission = Submission.objects.filter(assignment=assignment).prefetch_related("results").first()
    if submission is None:
        return redirect("web:assignment", assignment.pk)
    campaign = assignment.campaign
    feedback = student_feedback(submission, _language(request)) if campaign.students_see_results else None
    return render(request, "web/answer/done.html", {
        "assignment": assignment, "campaign": campaign, "submission": submission, "feedback": feedback,
        "resources": crisis_resources(assignment.student.school) if submission.crisis else None,
        "research": _research(assignment, _language(request)), "language": _language(request),
    })
