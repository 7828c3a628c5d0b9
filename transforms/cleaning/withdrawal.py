"""Is this item an agency's withdrawal ("kill") notice rather than a story?

Agencies withdraw a story they sent by re-sending its item with a notice ("KILL", "Eds: kill",
"This story has been withdrawn", "Se ruega eliminar", ...), or by a status tag such as IPTC's
``stat:canceled``. Such an item marks the article withdrawn (the next version, ``withdrawn`` true)
and must never be clustered or counted as a story of its own: a notice has no wording of the story
it kills, and every notice looks like every other.

The patterns are data (``transforms/cleaning/rules/withdrawal.yaml``, with examples and
counter-examples that the tests run), compiled once per process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

__all__ = ["WithdrawalRule", "WithdrawalRules", "default_withdrawal_rules", "load_withdrawal_rules",
           "withdrawal_notice"]

RULES_PATH = Path(__file__).with_name("rules") / "withdrawal.yaml"
_WHERE = ("title", "body", "any")
_RULE_KEYS = {"id", "where", "pattern", "case", "examples", "keeps"}


@dataclass(frozen=True)
class WithdrawalRule:
    id: str
    where: str  # "title": matched at the start of the title; "body": searched; "any": both
    regex: re.Pattern[str]
    examples: tuple[str, ...] = ()  # "title | body"
    keeps: tuple[str, ...] = ()

    def fires(self, title: str, body: str) -> bool:
        if self.where in ("title", "any") and self.regex.match(title.strip()):
            return True
        return self.where in ("body", "any") and self.regex.search(body) is not None


@dataclass(frozen=True)
class WithdrawalRules:
    version: int
    max_words: int  # a longer body is a story, whatever it says
    tags: frozenset[str]  # casefolded
    rules: tuple[WithdrawalRule, ...]


def load_withdrawal_rules(path: Path | str = RULES_PATH) -> WithdrawalRules:
    """Read and compile the rule file; a malformed one raises ValueError naming file and rule."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key in ("version", "max_words", "rules"):
        if key not in data:
            raise ValueError(f"{path.name}: missing {key!r}")
    rules = []
    for i, raw in enumerate(data["rules"]):
        where = f"{path.name}: rule #{i} ({raw.get('id', '?')})"
        unknown = set(raw) - _RULE_KEYS
        if unknown or not raw.get("id") or not raw.get("pattern"):
            raise ValueError(f"{where}: needs id and pattern; unknown keys {sorted(unknown)}")
        if raw.get("where", "any") not in _WHERE:
            raise ValueError(f"{where}: 'where' must be one of {_WHERE}")
        flags = 0 if raw.get("case") == "sensitive" else re.IGNORECASE
        try:
            regex = re.compile(raw["pattern"], flags)
        except re.error as exc:
            raise ValueError(f"{where}: bad pattern: {exc}") from exc
        rules.append(WithdrawalRule(
            id=str(raw["id"]), where=raw.get("where", "any"), regex=regex,
            examples=tuple(raw.get("examples") or ()), keeps=tuple(raw.get("keeps") or ())))
    return WithdrawalRules(
        version=int(data["version"]),
        max_words=int(data["max_words"]),
        tags=frozenset(str(t).casefold() for t in data.get("tags") or ()),
        rules=tuple(rules),
    )


@lru_cache(maxsize=1)
def default_withdrawal_rules() -> WithdrawalRules:
    return load_withdrawal_rules()


def withdrawal_notice(title: str, body: str, tags: Iterable[str] = (),
                      rules: WithdrawalRules | None = None) -> str | None:
    """The id of the rule saying this item is a withdrawal notice, or None for a story.

    ``body`` is the clean body (boilerplate removed), so a site's chrome cannot push a notice over
    the length guard. A status tag decides whatever the length.
    """
    rs = rules or default_withdrawal_rules()
    for tag in tags:
        if tag.strip().casefold() in rs.tags:
            return "tag"
    if len(body.split(maxsplit=rs.max_words)) > rs.max_words:  # stops counting past the limit
        return None
    for rule in rs.rules:
        if rule.fires(title or "", body or ""):
            return rule.id
    return None
