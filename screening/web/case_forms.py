"""Forms of the counsellor workspace: the queue's filters, and on a case a contact, a follow-up
plan, a move between in contact and monitoring, and the closing.

As with the campaign forms, these check the shape of the input only; the rules (who took part in
guardian communication, dates of a plan, a reason to close) live in ``screening.cases.services.work``,
whose field errors the views put back on the form with ``add_service_errors``. The forms that
record something carry a ``request_key`` made when the form is drawn, so a second press of the
button, or a resent form, records nothing twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from screening.campaigns.models import Campaign
from screening.cases.models import Case, Contact, FollowUp
from screening.cases.services import work
from screening.cases.services.work import MAX_FOLLOW_UPS
from screening.directory.models import SchoolClass
from screening.web.campaign_forms import DATETIME_LOCAL

QUEUE_TIERS = (("red", _("red")), ("orange", _("orange")), ("yellow", _("yellow")))
EXTRA_PLAN_DAYS = 2  # empty date boxes under the suggestion, to add a follow-up without script


def _request_key() -> str:
    return uuid.uuid4().hex


class QueueFilterForm(forms.Form):
    """The queue's filters, sent as GET (they hold no name). Only the classes and campaigns the
    user may see are offered; an invalid filter filters nothing."""

    school_class = forms.ModelChoiceField(label=_("Class"), queryset=SchoolClass.objects.none(), required=False,
                                          empty_label=_("All classes"))
    tier = forms.ChoiceField(label=_("Tier"), required=False, choices=[("", _("All tiers")), *QUEUE_TIERS])
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All open cases")), *Case.Status.choices])
    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=Campaign.objects.none(), required=False,
                                      empty_label=_("All campaigns"))
    overdue = forms.BooleanField(label=_("Overdue or due today only"), required=False)

    def __init__(self, *args: Any, classes: QuerySet[SchoolClass], campaigns: QuerySet[Campaign], **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name, queryset in (("school_class", classes), ("campaign", campaigns)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``selectors.case_queue``."""
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        return {
            "school_class": d["school_class"].pk if d.get("school_class") else None,
            "tier": d.get("tier") or None, "status": d.get("status") or None,
            "campaign": d["campaign"].pk if d.get("campaign") else None, "overdue": bool(d.get("overdue")),
        }


class FollowUpChoiceField(forms.TypedChoiceField):
    """The follow-ups still to do, offered by id. Any id is accepted here: the service says whether
    it is one still to do on this case, and a resent form whose follow-up the first sending
    already did must reach the service, which returns the contact it recorded."""

    def valid_value(self, value: Any) -> bool:
        return str(value).isdigit() or super().valid_value(value)


class ContactForm(forms.Form):
    """A contact on a case, in the terms of ``work.contact_record``."""

    request_key = forms.CharField(widget=forms.HiddenInput, max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Contact.Kind.choices, initial=Contact.Kind.STUDENT,
                             widget=forms.RadioSelect)
    at = forms.DateTimeField(
        label=_("When"), input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    method = forms.ChoiceField(label=_("How"), choices=Contact.Method.choices, widget=forms.RadioSelect,
                               initial=Contact.Method.FACE_TO_FACE)
    participants = forms.MultipleChoiceField(
        label=_("Who took part"), choices=Contact.Participant.choices, required=False,
        widget=forms.CheckboxSelectMultiple, initial=[Contact.Participant.STUDENT],
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=Contact.Outcome.choices, required=False, widget=forms.RadioSelect,
        help_text=_("Needed for a contact with the student; optional for guardian communication."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Stored encrypted. Describe what was observed and agreed, in terms of risk and need."),
    )
    follow_up = FollowUpChoiceField(label=_("Planned follow-up this contact fulfils"), coerce=int, required=False,
                                    empty_value=None)

    def __init__(self, *args: Any, pending: Sequence[FollowUp] = (), **kwargs: Any):
        kwargs.setdefault("auto_id", "contact-%s")  # ids unique on the case page, which has several forms
        super().__init__(*args, **kwargs)
        field = self.fields["follow_up"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("None")), *((f.pk, _follow_up_label(f)) for f in pending)]
        if not pending and not self.data.get(self.add_prefix("follow_up")):
            del self.fields["follow_up"]
        if not self.is_bound:
            self.initial.setdefault("request_key", _request_key())
            self.initial.setdefault("at", timezone.localtime().replace(second=0, microsecond=0))
            soon = timezone.localdate() + dt.timedelta(days=work.EARLY_DAYS)
            due = next((f for f in pending if f.status == FollowUp.Status.MISSED or f.due_on <= soon), None)
            if due is not None:  # offered only when one is due about now; the counsellor confirms
                self.initial.setdefault("follow_up", due.pk)

    def service_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``work.contact_record`` (besides the actor and the case)."""
        d = self.cleaned_data
        return {"request_key": d["request_key"], "kind": d["kind"], "at": d["at"], "method": d["method"],
                "participants": list(d.get("participants") or []), "outcome": d.get("outcome") or "",
                "note": d.get("note") or "", "follow_up": d.get("follow_up")}


def _follow_up_label(follow_up: FollowUp) -> str:
    day = date_format(follow_up.due_on, "DATE_FORMAT")
    if follow_up.status == FollowUp.Status.MISSED:
        return str(_("%(day)s (missed)") % {"day": day})
    return day


class PlanForm(forms.Form):
    """Follow-up days, prefilled with the tier's rhythm from today; a cleared box is left out and
    an empty one can take another day. ``dates()`` is what ``work.follow_up_plan_create`` takes."""

    request_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args: Any, suggested: Sequence[dt.date] = (), **kwargs: Any):
        kwargs.setdefault("auto_id", "plan-%s")
        super().__init__(*args, **kwargs)
        if self.is_bound:
            sent = [k for k in self.data if k.startswith("date_") and k[5:].isdigit()]
            count = min(len(sent), MAX_FOLLOW_UPS + EXTRA_PLAN_DAYS)
        else:
            count = len(suggested) + EXTRA_PLAN_DAYS
            self.initial.setdefault("request_key", _request_key())
        for i in range(count):
            name = f"date_{i + 1}"
            self.fields[name] = forms.DateField(
                label=_("Follow-up %(n)d") % {"n": i + 1}, required=False,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            )
            if i < len(suggested):
                self.initial.setdefault(name, suggested[i])

    def date_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("date_")]

    def dates(self) -> list[dt.date]:
        return [d for name, d in self.cleaned_data.items() if name.startswith("date_") and d is not None]


class CloseForm(forms.Form):
    """Closing a case: a reason, and a note (needed when the reason is "other")."""

    reason = forms.ChoiceField(label=_("Reason for closing"), required=False,
                               choices=[("", _("Choose a reason")), *Case.CloseReason.choices])
    note = forms.CharField(label=_("Closing note"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=_("Stored encrypted. Needed when the reason is \"other\"."))

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("auto_id", "close-%s")
        super().__init__(*args, **kwargs)


class MoveForm(forms.Form):
    """Moving an open case between in contact and monitoring (the service checks the move)."""

    status = forms.ChoiceField(choices=[(Case.Status.IN_CONTACT, Case.Status.IN_CONTACT.label),
                                        (Case.Status.MONITORING, Case.Status.MONITORING.label)])
