"""Demo work on the cases the demo answers opened: a counsellor has seen some flagged students, so
the queue shows every state and the head of centre's numbers are not empty.

- the yellow case of the first flagged student: seen face to face, no current need, closed;
- the first orange case: seen face to face, need confirmed, guardian called, follow-ups planned
  from the tier's rhythm;
- the second orange case: a phone call that did not reach the student (still waiting);
- everything else, and the red alert, waits for the demo's counsellor. Left unacknowledged, the red
  alert escalates to the head of centre after 15 minutes and to the partner hospital after 30 (the
  timers run beside the demo server).

Notes say they are demo data. Safe to run twice: each step is taken only if its fixed request key
(or the closed state) shows it was not taken before.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from screening.cases.models import Case, Contact
from screening.cases.services import work
from screening.directory.models import School

NOTE = "（演示数据）"


def seed() -> dict[str, int]:
    """Work a few of the junior school's open cases; returns counts for the seed's summary."""
    counsellor = get_user_model().objects.get(username="dh_counsellor")
    school = School.objects.get(code="JC-DHJH")
    cases = Case.objects.filter(school=school).order_by("opened_at", "id")
    yellow = cases.filter(tier="yellow").first()
    oranges = list(cases.filter(tier="orange")[:2])
    now = timezone.now()
    if yellow is not None and yellow.status != Case.Status.CLOSED:
        work.contact_record(actor=counsellor, case=yellow, at=now, method=Contact.Method.FACE_TO_FACE,
                            participants=["student"], outcome=Contact.Outcome.NO_CURRENT_NEED,
                            note="面谈约20分钟，近期考试压力，已缓解，无当前需要" + NOTE, request_key="demo-yellow-1")
        work.case_close(actor=counsellor, case=yellow, reason=Case.CloseReason.NO_CURRENT_NEED,
                        note="面谈后评估无当前需要，纳入常规关注" + NOTE)
    if oranges and not Contact.objects.filter(case=oranges[0], request_key="demo-orange-1").exists():
        first = oranges[0]
        work.contact_record(actor=counsellor, case=first, at=now, method=Contact.Method.FACE_TO_FACE,
                            participants=["student", "class_teacher"], outcome=Contact.Outcome.CONFIRMED_NEED,
                            note="情绪低落两周，睡眠差，同意定期面谈" + NOTE, request_key="demo-orange-1")
        work.contact_record(actor=counsellor, case=first, at=now, method=Contact.Method.PHONE,
                            kind=Contact.Kind.GUARDIAN, participants=["guardian"],
                            note="已电话告知家长并约定下周到校沟通" + NOTE, request_key="demo-orange-guardian")
        work.follow_up_plan_create(actor=counsellor, case=first, dates=work.follow_up_suggest(case=first),
                                   request_key="demo-orange-plan")
    if len(oranges) > 1 and not Contact.objects.filter(case=oranges[1], request_key="demo-orange-2").exists():
        work.contact_record(actor=counsellor, case=oranges[1], at=now, method=Contact.Method.PHONE,
                            participants=["student"], outcome=Contact.Outcome.COULD_NOT_REACH,
                            note="电话未接通，明日课间再约" + NOTE, request_key="demo-orange-2")
    return {"open": cases.exclude(status=Case.Status.CLOSED).count(), "closed": cases.filter(status=Case.Status.CLOSED).count()}
