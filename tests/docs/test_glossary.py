"""docs/glossary.md gives one English name per Chinese term: no Chinese term and no code name appears twice,
and the enum names it lists for the loop exist in the code."""

from __future__ import annotations

import re
from pathlib import Path

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"
OPEN, CLOSE = "（(", "）)"


def _split(cell: str) -> list[str]:
    """The names of a cell separated by " / ", leaving alone the slashes inside parentheses."""
    names, depth, current = [], 0, ""
    i = 0
    while i < len(cell):
        ch = cell[i]
        depth += (ch in OPEN) - (ch in CLOSE)
        if depth == 0 and cell.startswith(" / ", i):
            names.append(current)
            current, i = "", i + 3
            continue
        current += ch
        i += 1
    return [n.strip() for n in [*names, current] if n.strip()]


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every body row of the glossary's tables."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|") or re.match(r"^\|[-| ]+\|$", line) or line.startswith("| Chinese"):
            continue
        rows.append((number, [c.strip() for c in line.strip().strip("|").split("|")]))
    return rows


def _duplicates(pairs: list[tuple[int, str]]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for number, name in pairs:
        seen.setdefault(name, []).append(number)
    return {name: lines for name, lines in seen.items() if len(lines) > 1}


def _code_key(name: str) -> str:
    return name.replace("`", "").strip()


def chinese_terms(text: str) -> list[tuple[int, str]]:
    return [(n, term) for n, cells in _rows(text) for term in _split(cells[0])]


def code_names(text: str) -> list[tuple[int, str]]:
    return [(n, _code_key(name)) for n, cells in _rows(text) for name in _split(cells[1])]


def test_the_checks_find_a_term_or_a_name_given_twice():
    # given a glossary with 退回 twice (once within a pair) and "return" as the name of both rows
    text = ("| Chinese | code name | notes |\n|---|---|---|\n| 退回 / 返工 | return / rework | |\n"
            "| 退回 | `return` | |\n| 网格员（专职 / 兼职） | grid worker | |\n")
    # then both checks find them, and the slash inside the parentheses splits nothing
    assert _duplicates(chinese_terms(text)) == {"退回": [3, 4]}
    assert _duplicates(code_names(text)) == {"return": [3, 4]}
    assert ("网格员（专职 / 兼职）" in [t for _n, t in chinese_terms(text)])


def test_every_chinese_term_has_one_row():
    assert _duplicates(chinese_terms(GLOSSARY.read_text(encoding="utf-8"))) == {}


def test_every_code_name_names_one_term():
    assert _duplicates(code_names(GLOSSARY.read_text(encoding="utf-8"))) == {}


def test_the_loop_enums_in_the_glossary_exist_in_the_code():
    from gridgov.cases.models import ActionGrant, SlaStatus

    text = GLOSSARY.read_text(encoding="utf-8")
    enums = {"SlaStatus": SlaStatus, "ActionGrant.Holder": ActionGrant.Holder}
    found = re.findall(r"`(SlaStatus|ActionGrant\.Holder)` ((?:[A-Z_]+(?: / )?)+)", text)
    assert {enum for enum, _names in found} == set(enums)
    for enum, names in found:
        for name in names.split(" / "):
            assert name.strip() in enums[enum].names, f"{enum}.{name} is in the glossary, not in the code"
