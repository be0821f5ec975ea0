"""Demo agreements and one referral on its way, so both sides of the loop can be seen.

- Each school has a crisis-intervention agreement with its partner hospital; the university's ends
  in three weeks, so its pages warn ahead of time.
- The junior school's agreement names the demo hospital receiver (``manage.py
  demo_hospital_receiver``, started by ``./dev demo``) as Kangning's endpoint: every school-side
  change of a sent referral reaches it as a signed FHIR Bundle, written to
  ``var/demo-hospital-inbox/``.
- The junior school's first orange case (need confirmed at interview) was referred to Kangning
  hospital with the guardian's consent; the hospital accepted it and scheduled an appointment. The
  liaison (kn_liaison) can record attendance and feedback; the counsellor sees it come back.
- The red case is left for the visitor to refer.

Safe to run twice: agreements are matched by school and hospital, the referral by its case.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from screening.cases.models import Case
from screening.demo.hospital import demo_endpoint, demo_secret
from screening.directory.models import Hospital, School
from screening.referrals.models import Agreement, Referral
from screening.referrals.services import agreements, referrals

LIMITS = {"red": {"acknowledge_hours": 1, "decide_hours": 4}, "orange": {"acknowledge_hours": 24, "decide_hours": 72},
          "yellow": {"acknowledge_hours": 72, "decide_hours": 168}}
PLANS = (  # school, hospital, days the agreement still runs, crisis contact
    ("JC-DHJH", "JC-KNH", 300, "康宁医院心理危机干预值班医生"),
    ("JC-YZ", "JC-ADH", 300, "安定医院急诊心理科值班医生"),
    ("JC-UNI", "JC-KNH", 21, "康宁医院心理危机干预值班医生"),
)


def seed() -> dict[str, int]:
    """Agreements for every school, and the demo referral; returns counts for the summary."""
    users = get_user_model().objects
    today = timezone.localdate()
    admin = users.get(username="admin")
    for school_code, hospital_code, days, contact in PLANS:
        school, hospital = School.objects.get(code=school_code), Hospital.objects.get(code=hospital_code)
        existing = Agreement.objects.filter(school=school, hospital=hospital).first()
        # Kangning's system (the demo receiver, started by ./dev demo) takes the junior school's pushes.
        endpoint = demo_endpoint() if school_code == "JC-DHJH" else ""
        if existing is None or existing.endpoint_url != endpoint:
            agreements.agreement_save(
                actor=admin, school=school, hospital=hospital, valid_from=today - dt.timedelta(days=60),
                valid_until=today + dt.timedelta(days=days), tiers=list(LIMITS), limits=LIMITS,
                crisis_contact_name=contact, crisis_contact_email=f"crisis@{hospital_code.lower()}.example.org",
                crisis_line=hospital.crisis_line or "027-8800-0000", endpoint_url=endpoint,
                endpoint_secret=demo_secret() if endpoint else "", agreement=existing)
    _referral(users.get(username="dh_counsellor"), users.get(username="kn_liaison"))
    return {"agreements": Agreement.objects.count(), "referrals": Referral.objects.count()}


def _referral(counsellor: object, liaison: object) -> None:
    case = (Case.objects.filter(school__code="JC-DHJH", tier="orange", contacts__outcome="confirmed_need")
            .order_by("opened_at", "id").first())
    if case is None or Referral.objects.filter(case=case).exists():
        return
    hospital = Hospital.objects.get(code="JC-KNH")
    consent = agreements.sharing_consent_record(
        actor=counsellor, student=case.student, hospital=hospital, party="guardian", method="paper",
        given_at=timezone.now(), note="监护人签署转介信息共享同意书（演示数据）")
    referral = referrals.referral_create(
        actor=counsellor, case=case, hospital=hospital, basis=Referral.Basis.CONSENT, consent=consent,
        reason="面谈确认持续情绪低落两周以上、睡眠差，需专科评估（演示数据）")
    referrals.referral_send(actor=counsellor, referral=referral)
    referrals.referral_accept(actor=liaison, referral=referral, note="已接收，安排门诊评估（演示数据）")
    referrals.referral_schedule(actor=liaison, referral=referral, at=timezone.now() + dt.timedelta(days=3),
                                place="康宁医院门诊楼三楼 儿童青少年心理科", bring="学生证、既往就诊记录、监护人陪同")
