"""Forms of the export pages, one per kind of export (``exports.kinds``).

They check the shape of the input only and hand the parameters over in the API's form
(:meth:`ExportForm.params`); who may request what, and the checks of the parameters themselves,
live in ``exports.kinds`` and ``exports.services``, whose field errors the view puts back on the
form (fields are named as the parameters). Each form carries a ``request_key`` made when it is
drawn: a second press of the button queues nothing twice.

A bureau analyst is offered only what ``exports.analyst`` allows them: their own regions, each as a
whole (no school, no "all my regions"), and for the bureau aggregate one whole term that has
started instead of a period of days.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from exports.kinds import FORMATS, MAX_PURPOSE, MAX_RECIPIENT
from exports.kpis.terms import Term, current_term, whole_term
from exports.models import ExportJob
from screening.campaigns.models import Campaign
from screening.core.audit import audit_refused
from screening.directory.models import Region, School

DEFAULT_PERIOD = dt.timedelta(days=90)
TERMS_OFFERED = 20  # ten school years back from the current term


class ExportForm(forms.Form):
    """The parts every export form shares: the request key, and the parameters it hands over."""

    kind: str = ""
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=100, required=False)

    def __init__(self, *args: Any, actor: Any = None, **kwargs: Any):
        self.actor = actor
        kwargs.setdefault("auto_id", f"{self.kind}-%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_key", uuid.uuid4().hex)

    def unavailable(self) -> str:
        """Why there is nothing to request yet (shown instead of the form), or ""."""
        field = self.fields.get("campaign")
        if isinstance(field, forms.ModelChoiceField) and field.queryset is not None and not field.queryset.exists():
            return str(_("There is no campaign you can export yet."))
        return ""

    def params(self) -> dict[str, Any]:
        """The export's parameters, as ``exports.kinds`` names them (call after ``is_valid``)."""
        data = self.cleaned_data
        return {name: _plain(data.get(name)) for name in self.fields if name != "request_key"}


def _plain(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class ScopedChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A choice among the rows the form offers its user (``actor``). A sent id outside them is
    refused as "not a valid choice"; if the row exists and the user may not see it at all, the
    attempt goes into the audit log, as the API's scoped fields do (exports.kinds)."""

    actor: Any = None

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except ValidationError:
            model = self.queryset.model  # type: ignore[union-attr]
            try:
                visible = model.objects.visible_to(self.actor).filter(pk=value).exists()
            except (ValueError, TypeError, ValidationError):
                visible = True  # not an id at all: nothing to log
            if not visible:
                audit_refused(actor=self.actor, model=model, pk=value)
            raise


class CampaignChoiceField(ScopedChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} · {obj.school.name} · {timezone.localtime(obj.opens_at):%Y-%m-%d}"


class NamedChoiceField(ScopedChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def _choices(form: ExportForm, name: str, queryset: QuerySet[Any]) -> None:
    field = form.fields[name]
    assert isinstance(field, ScopedChoiceField)
    field.queryset, field.actor = queryset, form.actor


class CampaignReportForm(ExportForm):
    """A campaign's report: participation, score distributions, tiers, follow-up."""

    kind = ExportJob.Kind.CAMPAIGN_REPORT
    campaign = CampaignChoiceField(label=_("Campaign"), queryset=Campaign.objects.none(), empty_label=None)

    def __init__(self, *args: Any, campaigns: QuerySet[Campaign], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "campaign", campaigns)


class PeriodForm(ExportForm):
    """Whole days, both ends included; the last 90 days unless changed."""

    since = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    until = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.initial.setdefault("since", today - DEFAULT_PERIOD)
        self.initial.setdefault("until", today)


def _own_region_choice(form: ExportForm, regions: QuerySet[Region]) -> None:
    """The analyst's own regions (``exports.analyst.own_regions``), each a whole: the only one
    chosen already, or, with several, one to choose (the API refuses none on the field)."""
    _choices(form, "region", regions)
    field = form.fields["region"]
    assert isinstance(field, forms.ModelChoiceField)
    only = list(regions[:2])
    if len(only) == 1:
        field.empty_label = None
        form.initial.setdefault("region", only[0].pk)
    field.help_text = _("One of your regions, as a whole: a bureau analyst's figures are never given for a "
                        "part of one.")


class KpiForm(PeriodForm):
    """KPIs of a head of centre's school, or of one of a bureau analyst's own regions as a whole."""

    kind = ExportJob.Kind.KPIS
    school = NamedChoiceField(label=_("School"), queryset=School.objects.none(), required=False,
                              empty_label=_("None: the region's figures"))
    region = NamedChoiceField(label=_("Region"), queryset=Region.objects.none(), required=False,
                              empty_label=_("Choose a region"))

    def __init__(self, *args: Any, schools: QuerySet[School], regions: QuerySet[Region], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "school", schools)
        if regions.exists():
            _own_region_choice(self, regions)
            self.fields["until"].help_text = _("For a region, each term the period touches is counted whole.")
            if schools.exists():  # also head of centre somewhere: their own school, or the region
                self.fields["school"].help_text = _("Leave empty for a region's figures.")
            else:
                del self.fields["school"]
        else:  # a head of centre: one of their schools, always
            del self.fields["region"]
            field = self.fields["school"]
            assert isinstance(field, forms.ModelChoiceField)
            field.required, field.empty_label = True, None

    def params(self) -> dict[str, Any]:
        return {"school": None, "region": None, **super().params()}


def offered_terms(count: int = TERMS_OFFERED) -> list[Term]:
    """The current term and the ``count - 1`` before it, newest first (all have started)."""
    terms = [current_term()]
    while len(terms) < count:
        last = terms[-1]
        terms.append(whole_term(last.school_year, "autumn") if last.season == "spring"
                     else whole_term(last.school_year - 1, "spring"))
    return terms


class BureauForm(ExportForm):
    """A de-identified aggregate of one of the analyst's own regions over one whole term, small
    cells suppressed. The term is one choice here, handed over as ``school_year`` and ``term``."""

    kind = ExportJob.Kind.BUREAU_AGGREGATE
    region = NamedChoiceField(label=_("Region"), queryset=Region.objects.none(), required=False,
                              empty_label=_("Choose a region"))
    term = forms.ChoiceField(label=_("Term"), help_text=_("Campaigns that opened in this term, counted whole."))

    def __init__(self, *args: Any, regions: QuerySet[Region], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _own_region_choice(self, regions)
        term_field = self.fields["term"]
        assert isinstance(term_field, forms.ChoiceField)
        term_field.choices = [(t.key, t.label) for t in offered_terms()]
        self.initial.setdefault("term", current_term().key)

    def params(self) -> dict[str, Any]:
        year, season = str(self.cleaned_data["term"]).split("-")
        region = self.cleaned_data.get("region")
        return {"region": region.pk if region is not None else None, "school_year": int(year), "term": season}


class ResearchForm(ExportForm):
    """A research extract of a campaign that asked for research use (only those are offered): who
    receives it and why are recorded with it."""

    kind = ExportJob.Kind.RESEARCH_EXTRACT
    campaign = CampaignChoiceField(label=_("Campaign"), queryset=Campaign.objects.none(), empty_label=None)
    format = forms.ChoiceField(label=_("Format"), choices=FORMATS, initial="xlsx", widget=forms.RadioSelect)
    recipient = forms.CharField(label=_("Recipient"), max_length=MAX_RECIPIENT,
                                help_text=_("The researcher or institution that receives the extract."))
    purpose = forms.CharField(label=_("Purpose"), max_length=MAX_PURPOSE, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("What the extract will be used for, for example the approved study."))

    def __init__(self, *args: Any, campaigns: QuerySet[Campaign], **kwargs: Any):
        super().__init__(*args, **kwargs)
        _choices(self, "campaign", campaigns)

    def unavailable(self) -> str:
        if super().unavailable():
            return str(_("None of your campaigns asked students and guardians about research use, so there is "
                         "nothing to extract."))
        return ""
