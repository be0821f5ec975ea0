from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from screening.core.auth import student_login_name


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
