"""Forms of the campaign pages: a new campaign (head of centre) and a paper consent (counsellor).

The forms check the shape of the input only; the rules of a valid campaign and of a paper
consent live in the services, whose field errors the views put back on these forms
(:func:`add_service_errors`), so one rule has one home and one message.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

import scoring
from screening.campaigns.models import Campaign
from screening.campaigns.services.consent import PAPER_DECISIONS
from screening.core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from screening.directory.models import School, SchoolClass

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
DEFAULT_WINDOW = dt.timedelta(days=14)
PROFILE_PREFIX = "profile_"


def content_language() -> str:
    """The instrument definitions' language key for the active language: ``en`` or ``zh-hans``."""
    return "en" if (get_language() or "").startswith("en") else "zh-hans"


def instrument_label(code: str, lang: str | None = None) -> str:
    """An instrument's name in the reader's language (its code if the definition has none)."""
    name: str = scoring.instrument(code).name.get(lang or content_language(), code)
    return name


def offered_instruments() -> tuple[str, ...]:
    """Instruments a campaign may use, in catalogue order: those whose wording is installed in both
    languages (a licensed text that is not installed cannot be shown to students)."""
    return tuple(c for c in scoring.instrument_codes()
                 if all(scoring.item_texts(c, lang).available for lang in ("zh-hans", "en")))


def profile_label(code: str, profile: str | None, lang: str | None = None) -> str:
    """A cut-off profile's label, or "" for the definition's default (nothing worth saying)."""
    if not profile or profile == "default":
        return ""
    found = scoring.instrument(code).profiles.get(profile)
    return str(found.label.get(lang or content_language(), profile)) if found else profile


def add_service_errors(form: forms.Form, fields: Mapping[str, list[Any]]) -> None:
    """Put a service's field errors on the form's fields of the same name; errors on fields the
    form does not show (a single school, the cut-off profiles) go to the top of the form."""
    for name, messages in fields.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, str(message))


def attempt(form: forms.Form, action: Callable[[], Any]) -> int | None:
    """Run a service for a valid form: None when it accepted, else the status of the refusal with
    its messages on the form (400 input, 403 not this user's step, 409 state). Out of scope is 404."""
    if not form.is_valid():
        return 400
    try:
        action()
    except NotFound as exc:
        raise Http404 from exc
    except InvalidInput as exc:
        add_service_errors(form, exc.fields)
        if not exc.fields:
            form.add_error(None, str(exc.message))
        return 400
    except NotAllowed as exc:
        form.add_error(None, str(exc.message))
        return 403
    except Conflict as exc:
        form.add_error(None, str(exc.message))
        return 409
    return None


class ClassChoiceField(forms.ModelMultipleChoiceField):
    """Classes as checkboxes; the school is named only when the user heads more than one."""

    def __init__(self, *args: Any, with_school: bool = False, **kwargs: Any):
        self.with_school = with_school
        super().__init__(*args, **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} · {obj.school.name}" if self.with_school else str(obj.name)


def _datetime_field(label: Any) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label, input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )


class CampaignForm(forms.Form):
    """A new campaign, in the terms of ``services.campaign_create``.

    Questionnaires are checkboxes in catalogue order; the optional ``order`` field reorders them
    (without JavaScript a set of checkboxes cannot say in which order they were ticked).
    Instruments with more than one cut-off profile get a choice of profile each.
    """

    school = forms.ModelChoiceField(label=_("School"), queryset=School.objects.none())
    name = forms.CharField(label=_("Campaign name"), max_length=120, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    instruments = forms.MultipleChoiceField(
        label=_("Questionnaires"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Students answer them in the order shown, unless you give another order below. "
                    "Questionnaires whose licensed wording is not installed are not offered."),
    )
    order = forms.CharField(
        label=_("Order (optional)"), required=False, max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "phq9, gad7, asq"}),
        help_text=_("The codes of the ticked questionnaires in the order students answer them, separated by commas."),
    )
    target_classes = ClassChoiceField(
        label=_("Classes"), queryset=SchoolClass.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Classes of the current school year."),
    )
    target_grades = forms.TypedMultipleChoiceField(
        label=_("Whole grades"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Every class of a grade, including classes added later."),
    )
    opens_at = _datetime_field(_("Opens"))
    closes_at = _datetime_field(_("Closes"))
    consent_mode = forms.ChoiceField(
        label=_("Consent for students aged 14 to 17"), choices=Campaign.ConsentMode.choices,
        initial=Campaign.ConsentMode.GUARDIAN_CONSENT, widget=forms.RadioSelect,
        help_text=_("Under 14 a guardian always consents; from 18 students consent themselves."),
    )
    students_see_results = forms.BooleanField(
        label=_("Students see their own results"), required=False, initial=False,
        help_text=_("Off by default. Results are worded for a young reader."),
    )
    stepped = forms.BooleanField(
        label=_("Stepped screening"), required=False, initial=False,
        help_text=_("A PHQ-2 of 3 or more adds the PHQ-9, a GAD-2 of 3 or more adds the GAD-7, in the same sitting."),
    )
    asks_research_use = forms.BooleanField(
        label=_("Ask for separate consent to research use"), required=False, initial=False,
        help_text=_("Off by default. Guardians and students are also asked, separately and optionally, whether the "
                    "answers may be used without names for research. Saying no never stops a student taking part."),
    )

    def __init__(self, *args: Any, schools: QuerySet[School], classes: QuerySet[SchoolClass], **kwargs: Any):
        super().__init__(*args, **kwargs)
        lang = content_language()
        self._set(self.fields["school"], queryset=schools)
        # Most heads of centre run one school: then there is nothing to choose.
        self.only_school = schools[0] if len(schools) == 1 else None
        if self.only_school is not None:
            del self.fields["school"]
        codes = offered_instruments()
        self._set(self.fields["instruments"], choices=[(c, f"{instrument_label(c, lang)} · {c}") for c in codes])
        self._add_profile_fields(codes, lang)
        classes_field = self.fields["target_classes"]
        assert isinstance(classes_field, ClassChoiceField)
        classes_field.queryset, classes_field.with_school = classes, self.only_school is None
        grades = sorted({c.grade for c in classes})
        self._set(self.fields["target_grades"], choices=[(g, _("Grade %(grade)s") % {"grade": g}) for g in grades])
        if not self.is_bound:
            opens = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("opens_at", opens)
            self.initial.setdefault("closes_at", opens + DEFAULT_WINDOW)

    @staticmethod
    def _set(field: forms.Field, **attrs: Any) -> None:
        for name, value in attrs.items():
            setattr(field, name, value)

    def _add_profile_fields(self, codes: tuple[str, ...], lang: str) -> None:
        """One choice of cut-off profile per instrument that has several, placed after the list."""
        ordered: dict[str, forms.Field] = {}
        for name, field in self.fields.items():
            ordered[name] = field
            if name != "order":
                continue
            for code in codes:
                profiles = scoring.instrument(code).profiles
                if len(profiles) < 2:
                    continue
                ordered[PROFILE_PREFIX + code] = forms.ChoiceField(
                    label=_("Cut-off profile for %(instrument)s") % {"instrument": instrument_label(code, lang)},
                    choices=[(key, p.label.get(lang, key)) for key, p in profiles.items()],
                    initial="default" if "default" in profiles else next(iter(profiles)), required=False,
                    help_text=_("Used only when this questionnaire is ticked."),
                )
        self.fields = ordered  # type: ignore[assignment]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.only_school is not None:
            cleaned["school"] = self.only_school
        ticked: list[str] = cleaned.get("instruments") or []
        order = [c for c in re.split(r"[\s,，、;；]+", (cleaned.get("order") or "").lower()) if c]
        if order and ticked:
            if sorted(order) != sorted(ticked):
                self.add_error("order", _("List each ticked questionnaire exactly once, by its code."))
            else:
                cleaned["instruments"] = order
        return cleaned

    def service_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``services.campaign_create`` (besides the actor)."""
        d = self.cleaned_data
        codes = d["instruments"]
        default = {name: field.initial for name, field in self.fields.items() if name.startswith(PROFILE_PREFIX)}
        profiles = {
            name.removeprefix(PROFILE_PREFIX): d[name] for name in default
            if name.removeprefix(PROFILE_PREFIX) in codes and d.get(name) and d[name] != default[name]
        }
        return {
            "school": d["school"], "name": d["name"].strip(), "instruments": codes, "profiles": profiles,
            "target_classes": list(d.get("target_classes") or []), "target_grades": d.get("target_grades") or [],
            "opens_at": d["opens_at"], "closes_at": d["closes_at"], "consent_mode": d["consent_mode"],
            "students_see_results": bool(d.get("students_see_results")), "stepped": bool(d.get("stepped")),
            "asks_research_use": bool(d.get("asks_research_use")),
        }


class PaperConsentForm(forms.Form):
    """A guardian's paper form, recorded by staff: the decision and a required note."""

    decision = forms.ChoiceField(
        label=_("The guardian"), widget=forms.RadioSelect,
        choices=[
            (PAPER_DECISIONS[0], _("consented")),
            (PAPER_DECISIONS[1], _("refused")),
            (PAPER_DECISIONS[2], _("withdrew an earlier consent")),
        ],
    )
    note = forms.CharField(
        label=_("Note"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required. For example, where the signed form is filed. Stored encrypted."),
    )
