"""The Simplified Chinese catalogue is complete, and it covers every string the code marks.

The first tests read locale/zh_Hans/LC_MESSAGES/django.po only. The last one runs makemessages
(GNU xgettext) over a copy of the sources, so a string marked for translation but missing from
the committed catalogue fails here with its msgid, instead of showing up in English on a page.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import polib
import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
LOCALE = "zh_Hans"
CATALOGUE = ROOT / "locale" / LOCALE / "LC_MESSAGES" / "django.po"

# Not scanned by makemessages: tooling, data, tests and the scoring package (not translated).
IGNORED = [".venv/*", "scoring/*", "tests/*", "var/*"]
# Left out of the copy of the sources makemessages walks (besides every hidden directory).
NOT_COPIED = {"locale", "tests", "scoring", "var", "build", "node_modules", "__pycache__"}

# %(name)s, %s, %d …; {name}, {0}, {}. "%%" is a literal percent sign, not a placeholder.
PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")
BRACE = re.compile(r"\{[A-Za-z_0-9.\[\]]*\}")
MARKUP = re.compile(r"</?[A-Za-z][^>]*>|&[A-Za-z]+;|&#\d+;")


def placeholders(text: str) -> set[str]:
    found = {m for m in PERCENT.findall(text) if m != "%%"}
    return found | set(BRACE.findall(text))


def markup(text: str) -> set[str]:
    return set(MARKUP.findall(text))


def label(entry: polib.POEntry) -> str:
    return f"{entry.msgctxt}|{entry.msgid!r}" if entry.msgctxt else repr(entry.msgid)


def translations(entry: polib.POEntry) -> list[str]:
    if entry.msgid_plural:
        return [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
    return [entry.msgstr]


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    assert CATALOGUE.is_file(), f"{CATALOGUE} is missing"
    return polib.pofile(str(CATALOGUE))


def test_header_declares_the_language_and_one_plural_form(catalogue: polib.POFile) -> None:
    assert catalogue.metadata.get("Language") == LOCALE
    assert catalogue.metadata.get("Plural-Forms", "").replace(" ", "") == "nplurals=1;plural=0;"
    assert catalogue.metadata.get("Content-Type") == "text/plain; charset=UTF-8"
    assert not catalogue.metadata_is_fuzzy, "the header is still marked fuzzy"


def test_every_entry_is_translated_and_none_is_fuzzy_or_obsolete(catalogue: polib.POFile) -> None:
    live = [e for e in catalogue if not e.obsolete]
    assert live, "the catalogue has no entries"
    untranslated = [label(e) for e in live if not all(t.strip() for t in translations(e))]
    fuzzy = [label(e) for e in live if "fuzzy" in e.flags]
    obsolete = [label(e) for e in catalogue.obsolete_entries()]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not obsolete, f"obsolete (#~) entries to delete: {obsolete}"


def test_plural_entries_have_exactly_one_form(catalogue: polib.POFile) -> None:
    wrong = [label(e) for e in catalogue if e.msgid_plural and sorted(e.msgstr_plural) != [0]]
    assert not wrong, f"Chinese has one plural form; give msgstr[0] only: {wrong}"


def test_placeholders_markup_and_edge_whitespace_are_kept(catalogue: polib.POFile) -> None:
    problems = []
    for entry in catalogue:
        source = entry.msgid_plural or entry.msgid
        for text in translations(entry):
            if placeholders(text) != placeholders(source):
                problems.append(
                    f"{label(entry)}: placeholders {sorted(placeholders(text))} != {sorted(placeholders(source))}"
                )
            if markup(text) != markup(source):
                problems.append(f"{label(entry)}: markup {sorted(markup(text))} != {sorted(markup(source))}")
            for side, strip in (("leading", str.lstrip), ("trailing", str.rstrip)):
                src_ws = len(source) - len(strip(source))
                txt_ws = len(text) - len(strip(text))
                if (src_ws == 0) != (txt_ws == 0):
                    problems.append(f"{label(entry)}: {side} whitespace differs")
    assert not problems, "\n".join(problems)


def test_python_format_entries_still_format(catalogue: polib.POFile) -> None:
    """A python-format msgstr must accept the same mapping as its msgid."""
    failures = []
    for entry in catalogue:
        if "python-format" not in entry.flags:
            continue
        source = entry.msgid_plural or entry.msgid
        names = re.findall(r"%\(([^)]*)\)", source)
        positional = sum(1 for m in PERCENT.findall(source) if m != "%%")
        values: Any = dict.fromkeys(names, 1) if names else (1,) * positional
        for text in translations(entry):
            try:
                text % values
            except (KeyError, ValueError, TypeError) as exc:
                failures.append(f"{label(entry)}: {exc!r}")
    assert not failures, "\n".join(failures)


def _copy_sources(target: Path) -> None:
    def skip(directory: str, names: list[str]) -> set[str]:
        top = Path(directory).resolve() == ROOT
        return {
            n
            for n in names
            if n.startswith(".")
            or n in {"__pycache__", "node_modules"}
            or n.endswith(".egg-info")
            or (top and n in NOT_COPIED)
        }

    shutil.copytree(ROOT, target, ignore=skip, symlinks=True)
    shutil.copytree(ROOT / "locale", target / "locale", ignore=shutil.ignore_patterns("*.mo"))


def _keys(po: polib.POFile) -> dict[tuple[str | None, str, str], str]:
    return {(e.msgctxt, e.msgid, e.msgid_plural or ""): label(e) for e in po if not e.obsolete and e.msgid}


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext (xgettext) is not installed")
@pytest.mark.skipif(shutil.which("msgmerge") is None, reason="GNU gettext (msgmerge) is not installed")
def test_catalogue_matches_the_strings_marked_in_the_code(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """makemessages on a copy of the sources, into a copy of the catalogue: the msgids must agree.

    The copy keeps the repository untouched (makemessages writes work files beside templates and
    rewrites the catalogue it finds) and lets parallel test runs not tread on each other.
    """
    source = tmp_path / "src"
    _copy_sources(source)
    settings.LOCALE_PATHS = [str(source / "locale")]
    monkeypatch.chdir(source)
    call_command(
        "makemessages",
        locale=[LOCALE],
        ignore_patterns=[*IGNORED, "locale"],
        no_obsolete=True,
        verbosity=0,
    )

    committed = _keys(polib.pofile(str(CATALOGUE)))
    extracted = _keys(polib.pofile(str(source / "locale" / LOCALE / "LC_MESSAGES" / "django.po")))
    missing = sorted(label for key, label in extracted.items() if key not in committed)
    stale = sorted(label for key, label in committed.items() if key not in extracted)
    assert not missing and not stale, (
        "locale/zh_Hans/LC_MESSAGES/django.po is out of date with the code. Run "
        "`manage.py makemessages -l zh_Hans --ignore '.venv/*' --ignore 'scoring/*' --ignore 'tests/*' "
        "--ignore 'var/*'`, translate, and compile.\n"
        f"In the code but not in the catalogue ({len(missing)}): {missing}\n"
        f"In the catalogue but no longer in the code ({len(stale)}): {stale}"
    )
