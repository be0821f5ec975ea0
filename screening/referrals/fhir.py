"""The referral as a FHIR R4 Bundle, the form in which it is pushed to a hospital's system
(DESIGN.md §3 step 10; delivery in ``screening.referrals.delivery``).

The Bundle is of type ``collection``: a self-contained snapshot of the referral as it stands (its
state included), not a FHIR message (no MessageHeader and no event semantics the hospital must
implement) and not a transaction (the hospital decides what to store). Each push carries the whole
current picture, so a later push (a cancellation) supersedes an earlier one; the ServiceRequest's
identifier (``urn:xinqiao:referral`` + the referral number) ties them together.

It holds, in this order:

- a Patient with the student's public id only (never the name, the school's student number, the
  class or a contact), the birth year and the gender when the agreement's packet names them;
- one QuestionnaireResponse per instrument of each submission that flagged the referral's case,
  when the packet names ``results``: the answers, coded in LOINC where the instrument definition
  has codes (``scoring.instrument(code).loinc``);
- the ServiceRequest: SNOMED CT 183524004 "Referral to psychiatry service", category 3457005
  "Patient referral", intent ``order``, status from the referral's state, priority from the tier
  (when the packet names ``tier``), the reason (``reasons``) and the school's contact
  (``school_contact``);
- the Consent: the legal basis of the sharing, separate consent (PIPL art. 29) or the emergency
  basis (PIPL art. 13(4)).

Every resource is built through the ``fhir.resources`` R4B model classes, so content that is not
valid FHIR raises here rather than at the hospital.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.servicerequest import ServiceRequest

import scoring
from screening.cases.models import CaseFlag
from screening.referrals.models import Referral

PUBLIC_ID_SYSTEM = "urn:xinqiao:student-public-id"
REFERRAL_SYSTEM = "urn:xinqiao:referral"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
# Deterministic fullUrls: the same referral's resources keep their urn:uuid from push to push.
_NAMESPACE = uuid.UUID("6f1c2b0e-5d4a-4f7e-9a38-0c2d7e1b9f51")

S = Referral.State
SERVICE_REQUEST_STATUS: dict[str, str] = {
    S.DRAFT: "draft", S.SENT: "active", S.ACKNOWLEDGED: "active", S.ACCEPTED: "active", S.SCHEDULED: "active",
    S.DECLINED: "revoked", S.CANCELLED: "revoked", S.ATTENDED: "completed", S.NO_SHOW: "completed",
    S.CLOSED: "completed",
}
PRIORITY = {"red": "stat", "orange": "urgent", "yellow": "routine"}
GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def referral_bundle(referral: Referral) -> dict[str, Any]:
    """The referral as a JSON-ready FHIR R4 (R4B models) Bundle of type ``collection``, holding
    only what the agreement's packet names (minimum necessary). Reads the referral's student,
    school, hospital, agreement and the case's flagged submissions; writes nothing."""
    packet = set(referral.agreement.packet or [])
    patient_url = _url(referral, "patient")
    entries: list[tuple[str, Any]] = [(patient_url, _patient(referral, packet))]
    if "results" in packet:
        entries += [(_url(referral, f"qr-{n}"), qr) for n, qr in enumerate(_responses(referral, patient_url))]
    entries.append((_url(referral, "service-request"),
                    _service_request(referral, packet, patient_url, [url for url, _r in entries[1:]])))
    entries.append((_url(referral, "consent"), _consent(referral, patient_url)))
    bundle = Bundle.model_validate({
        "type": "collection", "timestamp": timezone.now().isoformat(),
        "identifier": {"system": REFERRAL_SYSTEM, "value": str(referral.pk)},
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    })
    return json.loads(bundle.model_dump_json(exclude_none=True))


def _url(referral: Referral, part: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{referral.pk}:{part}')}"


def _patient(referral: Referral, packet: set[str]) -> Patient:
    student = referral.student
    fields: dict[str, Any] = {"identifier": [{"system": PUBLIC_ID_SYSTEM, "value": student.public_id}]}
    if "birth_year" in packet:
        fields["birthDate"] = f"{student.birth_date.year:04d}"
    if "gender" in packet:
        fields["gender"] = GENDER.get(student.gender, "unknown")
    return Patient(**fields)


def _responses(referral: Referral, patient_url: str) -> list[QuestionnaireResponse]:
    flags = (CaseFlag.objects.filter(case_id=referral.case_id, submission__isnull=False)
             .select_related("submission").order_by("at", "id"))
    responses = []
    for flag in flags:
        submission = flag.submission
        assert submission is not None
        for code, given in sorted((submission.answers or {}).items()):
            if isinstance(given, dict) and code in scoring.instrument_codes():
                responses.append(_response(code, given, submission.submitted_at.isoformat(), patient_url))
    return responses


def _response(code: str, given: dict[str, Any], authored: str, patient_url: str) -> QuestionnaireResponse:
    """One instrument's answers. The questionnaire is the LOINC panel where the definition has one
    (``http://loinc.org/q/<panel>``, the LOINC forms' convention), else the instrument's own urn;
    an item's linkId is its LOINC code where it has one, else the instrument's item id."""
    definition = scoring.instrument(code)
    panel = definition.loinc.get("panel")
    items: list[dict[str, Any]] = []
    for item in definition.items:
        value = given.get(item.id)
        if value is None:
            continue
        items.append({"linkId": item.loinc or item.id, "answer": [_answer(item, value)]})
    return QuestionnaireResponse.model_validate({
        "status": "completed", "authored": authored, "subject": {"reference": patient_url},
        "questionnaire": f"{LOINC}/q/{panel}" if panel else f"urn:xinqiao:instrument:{code}|{definition.version}",
        "item": items or None,
    })


def _answer(item: Any, value: Any) -> dict[str, Any]:
    options = item.options
    if value in options.values and not isinstance(value, str):
        coded = options.loinc.get(options.code_of(value))
        if coded:
            return {"valueCoding": {"system": LOINC, "code": coded, "display": str(value)}}
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    return {"valueString": str(value)}


def _service_request(referral: Referral, packet: set[str], patient_url: str, supporting: list[str]) -> ServiceRequest:
    fields: dict[str, Any] = {
        "identifier": [{"system": REFERRAL_SYSTEM, "value": str(referral.pk)}],
        "status": SERVICE_REQUEST_STATUS[referral.state],
        "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}],
        "code": {"coding": [{"system": SNOMED, "code": "183524004", "display": "Referral to psychiatry service"}]},
        "subject": {"reference": patient_url},
        "requester": {"type": "Organization", "display": referral.school.name},
        "performer": [{"type": "Organization", "display": referral.hospital.name}],
    }
    if referral.sent_at is not None:
        fields["authoredOn"] = referral.sent_at.isoformat()
    if "tier" in packet and referral.tier in PRIORITY:
        fields["priority"] = PRIORITY[referral.tier]
    if "reasons" in packet:
        fields["reasonCode"] = [{"text": referral.reason}]
    if supporting:
        fields["supportingInfo"] = [{"reference": url} for url in supporting]
    if "school_contact" in packet:
        fields["note"] = [{"text": _school_contact(referral)}]
    return ServiceRequest(**fields)


def _school_contact(referral: Referral) -> str:
    counsellor = referral.created_by
    who = counsellor.get_full_name() or counsellor.get_username()
    with override(settings.LANGUAGE_CODE):
        return _("School contact: %(who)s %(email)s; the school's 24-hour line %(line)s.") % {
            "who": who, "email": counsellor.email or "", "line": referral.school.crisis_line or "-"}


def _consent(referral: Referral, patient_url: str) -> Consent:
    emergency = referral.basis == Referral.Basis.EMERGENCY
    rule = ("PIPL art. 13(4): necessary to protect the life or health of a natural person in an emergency"
            if emergency else "PIPL art. 29: separate consent to share with this hospital")
    fields: dict[str, Any] = {
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy", "display": "Privacy Consent"}]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": {"reference": patient_url},
        "organization": [{"type": "Organization", "display": referral.school.name}],
        "policyRule": {"coding": [{"system": "urn:xinqiao:legal-basis", "code": referral.basis}], "text": rule},
        "provision": {"type": "permit"},
    }
    if not emergency and referral.consent is not None:
        fields["dateTime"] = referral.consent.given_at.isoformat()
    return Consent(**fields)
