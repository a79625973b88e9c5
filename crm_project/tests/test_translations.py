"""The zh-hans catalog is complete: every string the code marks has a translation and none is fuzzy."""

import ast
from pathlib import Path

import pytest
from django.utils import translation

CATALOG = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _entries(text: str):
    """Yield (flags, msgid, msgstrs) for every entry of a .po file."""
    for block in text.split("\n\n"):
        flags, msgid, msgstrs, current = "", [], [], None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags += line
            elif line.startswith("msgid "):
                current = msgid
                current.append(ast.literal_eval(line[6:]))
            elif line.startswith("msgid_plural "):
                current = []
            elif line.startswith("msgstr"):
                current = []
                msgstrs.append(current)
                current.append(ast.literal_eval(line.split(" ", 1)[1]))
            elif line.startswith('"') and current is not None:
                current.append(ast.literal_eval(line))
        if msgid:
            yield flags, "".join(msgid), ["".join(parts) for parts in msgstrs]


def test_catalog_has_no_untranslated_or_fuzzy_entries():
    text = CATALOG.read_text(encoding="utf-8")
    missing = [msgid for flags, msgid, strs in _entries(text) if msgid and (not all(strs) or "fuzzy" in flags)]
    assert missing == []


@pytest.mark.parametrize(("language", "expected"), [("zh-hans", "登录"), ("en", "Sign in")])
def test_compiled_catalog_is_used(language, expected):
    with translation.override(language):
        assert translation.gettext("Sign in") == expected
