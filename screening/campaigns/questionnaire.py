"""What a student is shown: each planned instrument's wording, items and options in a language.

One builder serves the pages and the API, so a mobile or WeChat client shows exactly what the web
shows. Wording comes from the instrument's text pack (scoring/texts, or the institution's
licensed pack); an item asked only under a condition (ASQ item 5) carries that condition, so a
client can show it when it applies, and ``asked`` says whether it applies to the answers so far
(decided by the scoring engine from the definition, the same reading the scoring uses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import scoring
from scoring.textpacks import value_key
from screening.campaigns.models import Assignment, Campaign
from screening.campaigns.services.answering import carried_items, sitting_plan

LANGS = ("zh-hans", "en")


def text_lang(language: str | None) -> str:
    """The text-pack language for a Django language code (zh-hans unless it is English)."""
    return "en" if (language or "").lower().startswith("en") else "zh-hans"


def instrument_page(campaign: Campaign, code: str, language: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """One instrument as the student sees it, with the answers given so far."""
    inst = scoring.instrument(code)
    pack = scoring.item_texts(code, text_lang(language))
    own = answers.get(code) if isinstance(answers.get(code), Mapping) else {}
    given = {**carried_items(campaign, code, answers), **(own or {})}
    asked = scoring.asked_items(code, given)  # the definition's asked_if, read by the engine
    items = []
    for item in inst.items:
        options = [
            {"value": v, "key": value_key(v), "label": pack.option_label(item.options.name, v) or value_key(v)}
            for v in item.options.values
        ]
        items.append({
            "id": item.id,
            "text": pack.item(item.id) or "",
            "options": options,
            "asked_if": dict(item.asked_if) if item.asked_if else None,
            "asked": item.id in asked,
            "answer": given.get(item.id),
            "answer_key": value_key(given[item.id]) if given.get(item.id) is not None else None,
        })
    return {
        "code": code,
        "title": pack.title or inst.name.get(text_lang(language), code),
        "instructions": pack.instructions or "",
        "available": pack.available,
        "items": items,
    }


def questionnaire(assignment: Assignment, language: str) -> dict[str, Any]:
    """The whole sitting for this assignment's draft: instruments in order, each with its items."""
    draft = assignment.draft or {}
    plan = sitting_plan(assignment.campaign, draft)
    return {
        "language": text_lang(language),
        "instruments": [instrument_page(assignment.campaign, code, language, draft) for code in plan],
    }


def unanswered(page: Mapping[str, Any]) -> list[str]:
    """Item ids on a page that apply and have no answer yet."""
    return [it["id"] for it in page["items"] if it["asked"] and it["answer"] is None]
