"""Forms of the referral pages: on a case, the consent to share and the referral; on a referral,
each side's steps; for heads of centre, the agreement.

They check the shape of the input only; the rules (the guardian's consent under 14, a valid
agreement covering the tier, the legal basis, who may move what) live in
``screening.referrals.services``, whose field errors the views put back on the form. The forms
that record something carry a ``request_key`` made when the form is drawn: a second press of the
button records nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening.directory.models import Hospital, School
from screening.referrals.models import PACKET_FIELDS, Agreement, Referral, SharingConsent
from screening.referrals.services.agreements import TIERS
from screening.web.campaign_forms import DATETIME_LOCAL

DATETIME_FORMATS = [DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
TIER_LABELS = {"red": _("red"), "orange": _("orange"), "yellow": _("yellow")}
PACKET_LABELS = {
    "public_id": _("the student's public id (always)"), "birth_year": _("year of birth"), "gender": _("gender"),
    "tier": _("risk tier"), "reasons": _("the rules that set the tier"), "results": _("questionnaire results"),
    "school_contact": _("the school's contact"),
}


def _when_field(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, input_formats=DATETIME_FORMATS,
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))


class KeyedForm(forms.Form):
    """A form with a ``request_key`` drawn with it (see the module's note)."""

    request_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_key", uuid.uuid4().hex)


class HospitalChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


class SharingConsentForm(KeyedForm):
    """The separate consent to share with one hospital, in the terms of ``sharing_consent_record``."""

    hospital = HospitalChoiceField(label=_("Hospital"), queryset=Hospital.objects.none(), empty_label=None)
    party = forms.ChoiceField(label=_("Who consented"), choices=SharingConsent.Party.choices, widget=forms.RadioSelect,
                              initial=SharingConsent.Party.GUARDIAN,
                              help_text=_("For a student under 14, the guardian."))
    method = forms.ChoiceField(label=_("How"), choices=SharingConsent.Method.choices, widget=forms.RadioSelect,
                               initial=SharingConsent.Method.PAPER)
    given_at = _when_field(_("When"))
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text=_("Stored encrypted."))

    def __init__(self, *args: Any, hospitals: QuerySet[Hospital], **kwargs: Any):
        kwargs.setdefault("auto_id", "consent-%s")
        super().__init__(*args, **kwargs)
        field = self.fields["hospital"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = hospitals
        if not self.is_bound:
            self.initial.setdefault("given_at", timezone.localtime().replace(second=0, microsecond=0))


class ConsentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.hospital.name} · {obj.get_party_display()} · {timezone.localtime(obj.given_at):%Y-%m-%d %H:%M}"


class ReferralForm(KeyedForm):
    """A referral of the case to a hospital, in the terms of ``referral_create``."""

    hospital = HospitalChoiceField(label=_("Hospital"), queryset=Hospital.objects.none(), empty_label=None)
    reason = forms.CharField(label=_("Reason for referral"), widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Stored encrypted; the hospital reads it. In terms of risk and need."))
    basis = forms.ChoiceField(label=_("Legal basis"), choices=Referral.Basis.choices, widget=forms.RadioSelect,
                              initial=Referral.Basis.CONSENT)
    consent = ConsentChoiceField(label=_("Consent to share"), queryset=SharingConsent.objects.none(), required=False,
                                 empty_label=_("None recorded"))
    emergency_justification = forms.CharField(
        label=_("Why this cannot wait for consent"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed on the emergency basis; the heads of centre are told and the guardian afterwards."))

    def __init__(self, *args: Any, hospitals: QuerySet[Hospital], consents: QuerySet[SharingConsent], **kwargs: Any):
        kwargs.setdefault("auto_id", "referral-%s")
        super().__init__(*args, **kwargs)
        for name, queryset in (("hospital", hospitals), ("consent", consents)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset
        if not self.is_bound and consents:
            self.initial.setdefault("consent", consents[0].pk)


class NoteForm(KeyedForm):
    """A step with an optional note (acknowledge, accept, send, close)."""

    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, step: str = "step", **kwargs: Any):
        kwargs.setdefault("auto_id", f"{step}-%s")  # ids unique on a page with several steps
        super().__init__(*args, **kwargs)


class CancelForm(NoteForm):
    note = forms.CharField(label=_("Why the referral is cancelled"), max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class DeclineForm(KeyedForm):
    reason = forms.ChoiceField(label=_("Reason for declining"),
                               choices=[("", _("Choose a reason")), *Referral.DeclineReason.choices])
    text = forms.CharField(label=_("In your words"), required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 2}), help_text=_("Needed when the reason is \"other\"."))

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("auto_id", "decline-%s")
        super().__init__(*args, **kwargs)


class ScheduleForm(KeyedForm):
    at = _when_field(_("Appointment"))
    place = forms.CharField(label=_("Where"), max_length=200)
    bring = forms.CharField(label=_("What to bring"), required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("auto_id", "schedule-%s")
        super().__init__(*args, **kwargs)


class AttendanceForm(KeyedForm):
    attended = forms.TypedChoiceField(label=_("Did the student attend?"), widget=forms.RadioSelect,
                                      choices=[("yes", _("yes")), ("no", _("no"))], coerce=lambda v: v == "yes")
    recommendation = forms.ChoiceField(label=_("Recommendation"), required=False,
                                       choices=[("", _("Choose a recommendation")), *Referral.Recommendation.choices])
    advice = forms.CharField(label=_("Advice to the school"), required=False, max_length=5000,
                             widget=forms.Textarea(attrs={"rows": 3}), help_text=_("Stored encrypted; the school reads it."))

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("auto_id", "attendance-%s")
        super().__init__(*args, **kwargs)


def _hours_field(label: Any) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=1, widget=forms.NumberInput(attrs={"size": 4}))


class AgreementForm(forms.Form):
    """An agreement, in the terms of ``agreement_save``. The shared secret is never drawn again:
    left empty on a change, the one on record stays."""

    school = forms.ModelChoiceField(label=_("School"), queryset=School.objects.none(), empty_label=None)
    hospital = HospitalChoiceField(label=_("Hospital"), queryset=Hospital.objects.none(), empty_label=None)
    valid_from = forms.DateField(label=_("Valid from"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    valid_until = forms.DateField(label=_("Valid until"),
                                  widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    tiers = forms.MultipleChoiceField(label=_("Tiers covered"), widget=forms.CheckboxSelectMultiple,
                                      choices=[(t, TIER_LABELS[t]) for t in TIERS])
    packet = forms.MultipleChoiceField(label=_("Fields the hospital receives"), widget=forms.CheckboxSelectMultiple,
                                       choices=[(f, PACKET_LABELS[f]) for f in PACKET_FIELDS], initial=list(PACKET_FIELDS))
    crisis_contact_name = forms.CharField(label=_("Crisis contact"), max_length=100)
    crisis_contact_email = forms.EmailField(label=_("Crisis contact e-mail"), required=False)
    crisis_line = forms.CharField(label=_("24-hour line"), max_length=40)
    endpoint_url = forms.URLField(label=_("Delivery endpoint (optional)"), required=False, assume_scheme="https")
    endpoint_secret = forms.CharField(
        label=_("Shared secret"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("At least 32 characters, for an endpoint. Never shown again; leave empty to keep the one on record."))

    def __init__(self, *args: Any, schools: QuerySet[School], hospitals: QuerySet[Hospital],
                 agreement: Agreement | None = None, **kwargs: Any):
        if agreement is not None and not kwargs.get("initial"):
            kwargs["initial"] = _agreement_initial(agreement)
        kwargs.setdefault("auto_id", "agreement-%s")
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        for name, queryset in (("school", schools), ("hospital", hospitals)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset
        if len(schools) == 1:
            self.fields["school"].widget = forms.HiddenInput()
            self.initial.setdefault("school", schools[0].pk)
        for tier in TIERS:
            self.fields[f"{tier}_acknowledge_hours"] = _hours_field(
                _("%(tier)s: hours to acknowledge") % {"tier": TIER_LABELS[tier]})
            self.fields[f"{tier}_decide_hours"] = _hours_field(
                _("%(tier)s: hours to accept or decline") % {"tier": TIER_LABELS[tier]})

    def limit_fields(self) -> list[forms.BoundField]:
        return [self[f"{t}_{k}"] for t in TIERS for k in ("acknowledge_hours", "decide_hours")]

    def main_fields(self) -> list[forms.BoundField]:
        skip = {f"{t}_{k}" for t in TIERS for k in ("acknowledge_hours", "decide_hours")}
        return [self[name] for name in self.fields if name not in skip and not self[name].is_hidden]

    def service_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``agreement_save`` (besides the actor)."""
        d = self.cleaned_data
        limits = {t: {"acknowledge_hours": d.get(f"{t}_acknowledge_hours"), "decide_hours": d.get(f"{t}_decide_hours")}
                  for t in d["tiers"]}
        secret = d.get("endpoint_secret") or ""
        if not secret and self.agreement is not None and d.get("endpoint_url"):
            secret = self.agreement.endpoint_secret  # kept, never drawn
        return {
            "school": d["school"], "hospital": d["hospital"], "valid_from": d["valid_from"],
            "valid_until": d["valid_until"], "tiers": list(d["tiers"]), "limits": limits, "packet": list(d["packet"]),
            "crisis_contact_name": d["crisis_contact_name"], "crisis_contact_email": d.get("crisis_contact_email") or "",
            "crisis_line": d["crisis_line"], "endpoint_url": d.get("endpoint_url") or "", "endpoint_secret": secret,
            "agreement": self.agreement,
        }


def _agreement_initial(agreement: Agreement) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "school": agreement.school_id, "hospital": agreement.hospital_id, "valid_from": agreement.valid_from,
        "valid_until": agreement.valid_until, "tiers": list(agreement.tiers), "packet": list(agreement.packet),
        "crisis_contact_name": agreement.crisis_contact_name, "crisis_contact_email": agreement.crisis_contact_email,
        "crisis_line": agreement.crisis_line, "endpoint_url": agreement.endpoint_url,
    }
    for tier, entry in (agreement.limits or {}).items():
        for key in ("acknowledge_hours", "decide_hours"):
            initial[f"{tier}_{key}"] = (entry or {}).get(key)
    return initial


def tier_labels(tiers: Sequence[str]) -> list[str]:
    return [str(TIER_LABELS.get(t, t)) for t in tiers]
