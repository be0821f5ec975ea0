from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from screening.core.auth import student_login_name
from screening.core.models import AuditEvent
from screening.directory import roster
from screening.directory.models import School, SchoolClass


class StaffLoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any):
        self.request = request
        self.user: Any = None
        super().__init__(*args, **kwargs)

    def credentials(self) -> tuple[str, str]:
        return self.cleaned_data["username"], self.cleaned_data["password"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            username, password = self.credentials()
            self.user = authenticate(self.request, username=username, password=password)
            if self.user is None:
                raise forms.ValidationError(_("The sign-in details are not correct."), code="bad_credentials")
        return cleaned


class StudentLoginForm(StaffLoginForm):
    username = None  # type: ignore[assignment]
    password = None  # type: ignore[assignment]
    school_code = forms.CharField(label=_("School code"), max_length=32, widget=forms.TextInput(attrs={"autocapitalize": "characters", "autofocus": True}))
    number = forms.CharField(label=_("Student number"), max_length=32, widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    access_code = forms.CharField(label=_("Access code"), max_length=32, widget=forms.PasswordInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}))

    def credentials(self) -> tuple[str, str]:
        d = self.cleaned_data
        return student_login_name(d["school_code"], d["number"]), d["access_code"]


class StudentFilterForm(forms.Form):
    """Class filter and search on the student list; only classes the user covers are offered."""

    school_class = forms.ModelChoiceField(
        label=_("Class"), queryset=SchoolClass.objects.none(), required=False, empty_label=_("All classes")
    )
    q = forms.CharField(
        label=_("Search"), required=False, max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name or number"), "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, classes: QuerySet[SchoolClass], **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["school_class"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = classes

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``selectors.student_list``; an invalid filter is ignored."""
        if not self.is_valid():
            return {}
        klass = self.cleaned_data.get("school_class")
        return {"school_class": klass.pk if klass else None, "q": self.cleaned_data.get("q", "").strip()}


class RosterUploadForm(forms.Form):
    school = forms.ModelChoiceField(label=_("School"), queryset=School.objects.none())
    file = forms.FileField(
        label=_("Roster file"), help_text=_("An .xlsx or .csv file, one student per row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    school_year = forms.IntegerField(
        label=_("School year (start)"), required=False, min_value=2000, max_value=2100,
        help_text=_("Leave empty for the current school year."),
    )

    def __init__(self, *args: Any, schools: QuerySet[School], **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["school"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = schools
        # Most heads of centre run one school: then there is nothing to choose.
        self.only_school = schools[0] if len(schools) == 1 else None
        if self.only_school is not None:
            del self.fields["school"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.only_school is not None:
            cleaned["school"] = self.only_school
        return cleaned

    def clean_file(self) -> Any:
        return roster.validate_upload(self.cleaned_data["file"])


# The audit log's date filters accept these days only: far-off dates overflow when a day is turned
# into a local midnight or compared in UTC, and no entry can lie outside them.
AUDIT_FIRST_DAY = dt.date(2000, 1, 1)
AUDIT_LAST_DAY = dt.date(2100, 12, 31)


def _audit_date_field(label: Any) -> forms.DateField:
    attrs = {"type": "date", "min": AUDIT_FIRST_DAY.isoformat(), "max": AUDIT_LAST_DAY.isoformat()}
    return forms.DateField(label=label, required=False, widget=forms.DateInput(attrs=attrs))


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class AuditFilterForm(forms.Form):
    """Filters of the audit log page: :meth:`filters` for ``audit_event_list``, :meth:`api_params`
    for the CSV export's link, so both hold the same rows."""

    action = forms.ChoiceField(label=_("Action"), required=False)
    student_public_id = forms.CharField(label=_("Student public id"), required=False, max_length=32)
    actor = forms.CharField(label=_("Actor"), required=False, max_length=150)
    date_from = _audit_date_field(_("From"))
    date_to = _audit_date_field(_("To (inclusive)"))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["action"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("All actions")), *AuditEvent.Action.choices]

    def _clean_day(self, name: str) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get(name)
        if day is not None and not AUDIT_FIRST_DAY <= day <= AUDIT_LAST_DAY:
            raise forms.ValidationError(
                _("Choose a date from %(first)s to %(last)s."), code="date_out_of_range",
                params={"first": AUDIT_FIRST_DAY.isoformat(), "last": AUDIT_LAST_DAY.isoformat()},
            )
        return day

    def clean_date_from(self) -> dt.date | None:
        return self._clean_day("date_from")

    def clean_date_to(self) -> dt.date | None:
        return self._clean_day("date_to")

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for ``selectors.audit_event_list``; an invalid form filters nothing.

        Dates are whole local days: ``until`` is midnight after the last day.
        """
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        found: dict[str, Any] = {k: d[k].strip() for k in ("action", "student_public_id", "actor") if d.get(k, "").strip()}
        if d.get("date_from"):
            found["since"] = _local_midnight(d["date_from"])
        if d.get("date_to"):
            found["until"] = _local_midnight(d["date_to"] + dt.timedelta(days=1))
        return found

    def api_params(self) -> dict[str, str]:
        """Query parameters of ``/api/v1/audit-events/`` (and its CSV export) for these filters."""
        return {
            k: v.replace(tzinfo=None).isoformat() if isinstance(v, dt.datetime) else v
            for k, v in self.filters().items()
        }
