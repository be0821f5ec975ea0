"""The kinds of export, in one place: for each, its parameters and their checks, who may request
it, the builder that writes it (``exports.build`` is the contract) and the file it makes.

Parameters are checked by a DRF serializer, as the requesting user: every id must be visible to
them (``visible_to``), and an id outside their scope is "does not exist", exactly like a missing
one. Who may request a kind is checked twice: by role first (a counsellor asking for a bureau
aggregate gets 403 whatever the parameters), then on the object (a campaign of the user's own
school). A job stores its parameters in their JSON form, which is what builders receive in
``ctx.params``:

- ``campaign_report``: ``{"campaign": id}``
- ``kpis``: ``{"school": id | null, "region": id | null, "since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}``;
  at most one of school and region. A head of centre names their school (or neither, when they
  head one). A bureau analyst gets one of their own regions (``region``; null, and stored as the id,
  when they have only one), never a school, and every term the period touches counted whole
- ``bureau_aggregate``: ``{"region": id | null, "school_year": int, "term": "autumn" | "spring"}``;
  one of the analyst's own regions (null, and stored as the id, when they have only one) and one
  whole term that has started; ``since``/``until`` are refused
- ``research_extract``: ``{"campaign": id, "format": "csv" | "xlsx", "recipient": str, "purpose": str}``;
  only a campaign that asked for research use

Why an analyst gets only whole regions of their own and whole terms: ``exports.analyst`` (two
tables that overlap partially give each other's withheld counts away when subtracted).

Builders are named by dotted path and imported when a job runs, so this module never imports them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from exports.analyst import FIRST_SCHOOL_YEAR, analyst_term, own_region, whole_started_terms
from exports.kpis.terms import AUTUMN, SPRING, terms_between
from exports.models import ExportJob
from screening.campaigns.models import Campaign
from screening.core.access import Principal, principal_of
from screening.core.audit import audit_refused
from screening.core.errors import InvalidInput, NotAllowed
from screening.directory.models import Region, School

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
FORMATS = (("csv", "CSV"), ("xlsx", "Excel (xlsx)"))
MAX_RECIPIENT = 200
MAX_PURPOSE = 2000
EARLIEST = dt.date(2000, 1, 1)  # no school screened with this platform before; keeps dates sane


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """An id the requesting user (``context["user"]``) may see; otherwise "does not exist", and the
    attempt on a row that does exist is logged (as the API's scoped related fields do)."""

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        assert queryset is not None
        return queryset.visible_to(self.context.get("user"))  # type: ignore[attr-defined]

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            model = super().get_queryset().model  # type: ignore[union-attr]
            audit_refused(actor=self.context.get("user"), model=model, pk=data)
            raise


def _principal(serializer: serializers.Serializer) -> Principal:  # type: ignore[type-arg]
    return principal_of(serializer.context.get("user"))


def _own_region(serializer: serializers.Serializer, region: Region | None) -> Region:  # type: ignore[type-arg]
    """One of the analyst's own regions, as a whole (``exports.analyst.own_region``), or a field error."""
    try:
        return own_region(serializer.context.get("user"), region)
    except InvalidInput as exc:
        raise serializers.ValidationError(exc.fields) from None


# --- parameters --------------------------------------------------------------------------------


class CampaignParams(serializers.Serializer):  # type: ignore[type-arg]
    """A campaign report: the school's heads of centre and counsellors (a class-limited counsellor's
    report covers their classes: the builder reads as them)."""

    campaign = VisibleRelatedField(queryset=Campaign.objects.all())

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["campaign"].school_id not in _principal(self).staff_school_ids:
            raise NotAllowed(_("Only the school's counsellors and heads of centre may export its campaign report."))
        return attrs


class PeriodParams(serializers.Serializer):  # type: ignore[type-arg]
    """Whole days, both ends included."""

    since = serializers.DateField(help_text="First day counted (YYYY-MM-DD).")
    until = serializers.DateField(help_text="Last day counted (YYYY-MM-DD).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = timezone.localdate()
        for name in ("since", "until"):
            if not EARLIEST <= attrs[name] <= today + dt.timedelta(days=366):
                raise serializers.ValidationError({name: [_("The date is out of range.")]})
        if attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": [_("The last day cannot be before the first.")]})
        return attrs


class KpiParams(PeriodParams):
    """KPIs of one school, for its heads of centre (every count, the period as asked), or, for a
    bureau analyst, of one of their own regions as a whole: not a school, not a region inside
    theirs, not all of theirs at once, and every term the period touches counted whole
    (``exports.analyst``). Neither named: the analyst's only region, or the one school a head of
    centre heads."""

    school = VisibleRelatedField(queryset=School.objects.select_related("region"), required=False, allow_null=True,
                                 default=None)
    region = VisibleRelatedField(queryset=Region.objects.all(), required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        p, school, region = _principal(self), attrs["school"], attrs["region"]
        if school is not None and region is not None:
            raise serializers.ValidationError({"region": [_("Choose a school or a region, not both.")]})
        if school is not None:
            if school.pk in p.admin_school_ids:
                return attrs
            if p.region_paths:
                raise serializers.ValidationError({"school": [_(
                    "A bureau analyst's KPIs cover one of their regions as a whole, not a single school: choose "
                    "a region.")]})
            raise NotAllowed(_("Only the school's heads of centre, or a bureau analyst of its region, may export "
                               "its KPIs."))
        if not p.region_paths:
            if region is not None:
                raise NotAllowed(_("Only a bureau analyst of this region may export its KPIs."))
            if len(p.admin_school_ids) != 1:
                raise serializers.ValidationError({"school": [_("Choose a school.")]})
            attrs["school"] = School.objects.visible_to(self.context.get("user")).get(pk=next(iter(p.admin_school_ids)))
            return attrs
        attrs["region"] = _own_region(self, region)
        if not whole_started_terms(terms_between(attrs["since"], attrs["until"])):
            raise serializers.ValidationError({"since": [_("No term of this period has started yet.")]})
        return attrs


TERMS = ((AUTUMN, _("autumn term (1 September to 31 January)")), (SPRING, _("spring term (1 February to 31 August)")))


class BureauParams(serializers.Serializer):  # type: ignore[type-arg]
    """A de-identified aggregate of one of the analyst's own regions over one whole term that has
    started, small cells suppressed (``exports.analyst``: no sub-region, no school, no period of
    days, so that no two aggregates overlap partially)."""

    region = VisibleRelatedField(queryset=Region.objects.all(), required=False, allow_null=True, default=None,
                                 help_text="One of your own regions; may be left out when you have only one.")
    school_year = serializers.IntegerField(min_value=FIRST_SCHOOL_YEAR, max_value=9998,
                                           help_text="The year the school year starts in (September), e.g. 2025.")
    term = serializers.ChoiceField(choices=TERMS, help_text="autumn (1 Sep–31 Jan) or spring (1 Feb–31 Aug).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        stray = [name for name in ("since", "until") if name in data]
        if stray:
            raise serializers.ValidationError({name: [_(
                "The bureau aggregate covers one whole term: give school_year and term instead.")] for name in stray})
        attrs["region"] = _own_region(self, attrs["region"])
        try:
            analyst_term(attrs["school_year"], attrs["term"])
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.fields) from None
        return attrs


class ResearchParams(serializers.Serializer):  # type: ignore[type-arg]
    """A research extract of one campaign: the school's heads of centre, naming who receives it and why."""

    campaign = VisibleRelatedField(queryset=Campaign.objects.all())
    format = serializers.ChoiceField(choices=FORMATS, default="xlsx")
    recipient = serializers.CharField(max_length=MAX_RECIPIENT, help_text="Who receives the extract.")
    purpose = serializers.CharField(max_length=MAX_PURPOSE, help_text="What it will be used for.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["campaign"].school_id not in _principal(self).admin_school_ids:
            raise NotAllowed(_("Only the head of the school's psychological centre may export research extracts."))
        if not attrs["campaign"].asks_research_use:
            raise serializers.ValidationError({"campaign": [_(
                "This campaign did not ask students and guardians about research use: it has no research extract.")]})
        return attrs


# --- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportKind:
    """One kind of export. ``allowed`` is the role check (who may request this kind at all);
    ``audit_keys`` are the parameters written to the audit log (ids and dates, never free text
    beyond the recipient)."""

    code: str
    title: str | Promise
    params: type[serializers.Serializer]  # type: ignore[type-arg]
    allowed: Callable[[Principal], bool]
    builder: str
    refusal: str | Promise
    audit_keys: tuple[str, ...]
    extension: str = "xlsx"

    def file_type(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """The file's extension and content type for these parameters."""
        extension = str(params.get("format") or self.extension)
        return extension, CSV if extension == "csv" else XLSX

    def audit_detail(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """What the audit log records of a job of this kind."""
        return {"kind": self.code, **{key: params.get(key) for key in self.audit_keys}}


KINDS: dict[str, ExportKind] = {
    kind.code: kind
    for kind in (
        ExportKind(
            code=ExportJob.Kind.CAMPAIGN_REPORT, title=_("Campaign report"), params=CampaignParams,
            allowed=lambda p: bool(p.staff_school_ids), builder="exports.campaign_report.build_campaign_report",
            refusal=_("Only the school's counsellors and heads of centre may export campaign reports."),
            audit_keys=("campaign",),
        ),
        ExportKind(
            code=ExportJob.Kind.KPIS, title=_("KPI workbook"), params=KpiParams,
            allowed=lambda p: bool(p.admin_school_ids or p.region_paths), builder="exports.kpis.build_kpi_workbook",
            refusal=_("Only heads of centre and bureau analysts may export KPI workbooks."),
            audit_keys=("school", "region", "since", "until"),
        ),
        ExportKind(
            code=ExportJob.Kind.BUREAU_AGGREGATE, title=_("Bureau aggregate"), params=BureauParams,
            allowed=lambda p: bool(p.region_paths), builder="exports.bureau.build_bureau_aggregate",
            refusal=_("Only bureau analysts may export bureau aggregates."),
            audit_keys=("region", "school_year", "term"),
        ),
        ExportKind(
            code=ExportJob.Kind.RESEARCH_EXTRACT, title=_("Research extract"), params=ResearchParams,
            allowed=lambda p: bool(p.admin_school_ids), builder="exports.research.build_research_extract",
            refusal=_("Only heads of centre may export research extracts."),
            audit_keys=("campaign", "format", "recipient"),
        ),
    )
}


def kinds_for(user: Any) -> list[ExportKind]:
    """The kinds this user may request, in the registry's order (the pages offer these)."""
    p = principal_of(user)
    return [kind for kind in KINDS.values() if kind.allowed(p)]


def json_params(validated: Mapping[str, Any]) -> dict[str, Any]:
    """Validated parameters in the JSON form a job keeps: objects as ids, dates as ISO text."""
    out: dict[str, Any] = {}
    for name, value in validated.items():
        if isinstance(value, Model):
            out[name] = value.pk
        elif isinstance(value, dt.date):
            out[name] = value.isoformat()
        else:
            out[name] = value
    return out


def school_of_params(validated: Mapping[str, Any]) -> int | None:
    """The school an export is about, if one: the campaign's, or the one named."""
    campaign, school = validated.get("campaign"), validated.get("school")
    if campaign is not None:
        return int(campaign.school_id)
    return int(school.pk) if school is not None else None
