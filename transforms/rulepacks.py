"""Boilerplate rule packs: versioned YAML data files → one compiled, validated :class:`RuleSet`.

Files (in ``transforms/rules/``):

- ``generic.yaml``: site chrome of republishing sites, no agency;
- ``templates.yaml``: rules every agency gets, written once with placeholders, plus shared regex
  ``fragments`` (``{place}``, ``{date}``, ``{dash}``) usable in every file;
- ``agency_<slug>.yaml``: one pack per agency: ``agency`` (the slug), ``names``, ``tags`` and its own
  ``rules``. Adding an agency is adding a file: nothing in code names an agency.

Every file has a ``version`` and a ``description``. Every rule has an ``id`` (unique in its file;
reported as ``<pack>.<id>``), a ``kind`` and a ``pattern``; optional keys: ``case: sensitive``,
``evidence`` (which kind of agency evidence a firing is), ``scope`` (head/tail/any for strip and
attribution rules), ``max_words`` (block rules), ``examples`` (paragraphs the rule must fire on) and
``keeps`` (paragraphs it must leave alone) — the tests run every example of every pack.

Patterns are compiled once per process (``default_rules`` is cached); each kind also gets one
combined pattern used as a pre-filter, so a real body paragraph costs one regex call per kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import yaml

from .regexfirst import first_char_class

RULES_DIR = Path(__file__).with_name("rules")

Kind = Literal["line", "block", "caption", "strip", "dateline", "attribution"]
KINDS: tuple[str, ...] = ("line", "block", "caption", "strip", "dateline", "attribution")
Evidence = Literal["dateline", "attribution", "signature", "copyright", "about", "credit"]
EVIDENCE_KINDS: tuple[str, ...] = ("dateline", "attribution", "signature", "copyright", "about", "credit")
SCOPES = ("head", "tail", "any")

_FILE_KEYS = {"version", "description", "agency", "names", "tags", "rules", "fragments", "skip_templates",
              "template_examples"}
_RULE_KEYS = {"id", "kind", "pattern", "case", "evidence", "scope", "max_words", "examples", "keeps",
              "description"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_DEFAULT_BLOCK_WORDS = 16
_SEARCHED = ("caption", "strip", "attribution")  # kinds matched with search(), not at position 0
TAIL_WINDOW = 400
_END_ANCHOR = re.compile(r"(?<!\\)\$\s*$")
_SLUG = re.compile(r"[a-z][a-z0-9_]*")


class RuleError(ValueError):
    """A rule file is malformed; the message names the file and rule and says what to fix."""


@dataclass(frozen=True)
class Rule:
    id: str                      # "<pack>.<local id>"
    pack: str                    # "generic" or an agency slug
    kind: str
    regex: re.Pattern[str]
    source: str                  # the compiled pattern (placeholders filled, first-char hint added)
    raw_source: str = ""         # the pattern with placeholders filled, as written
    case_sensitive: bool = False
    agency: str | None = None
    evidence: str | None = None
    scope: str = "any"
    max_words: int = _DEFAULT_BLOCK_WORDS
    examples: tuple[str, ...] = ()
    keeps: tuple[str, ...] = ()
    end_anchored: bool = False   # the pattern ends in "$": only a paragraph's tail needs searching
    # A template compiled once for every agency: its per-agency rules, tried on a hit to say which
    # agency fired (so matching costs the same with 5 or 50 packs).
    instances: tuple["Rule", ...] = ()


@dataclass(frozen=True)
class Pack:
    name: str
    version: int
    description: str
    agency: str | None = None
    names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """All rules, grouped by kind in matching order: agency packs' own rules, then the templates
    (one merged rule each), then generic."""

    packs: tuple[Pack, ...]
    by_kind: Mapping[str, tuple[Rule, ...]]
    prefilters: Mapping[str, re.Pattern[str] | None]
    # Kinds whose rules are all end-anchored: searched in the last TAIL_WINDOW characters only
    # (an unanchored-start search of an end-anchored pattern tries every position of the text).
    windowed: Mapping[str, bool] = field(default_factory=dict)
    # Per agency: a word-boundary pattern of its names and tags, for photo credits given by the feed.
    credit_names: Mapping[str, re.Pattern[str]] = field(default_factory=dict)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every concrete rule (template rules once per agency), each with its examples."""
        return tuple(i for k in KINDS for r in self.by_kind.get(k, ()) for i in (r.instances or (r,)))

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(p.agency for p in self.packs if p.agency)

    @property
    def versions(self) -> dict[str, int]:
        return {p.name: p.version for p in self.packs}

    @property
    def version(self) -> str:
        """One string naming every pack version, e.g. for logs and learned-rule exports."""
        return ",".join(f"{k}@{v}" for k, v in sorted(self.versions.items()))

    @cached_property
    def site_names(self) -> tuple[str, ...]:
        """Every agency name (and plain tag): site suffixes a headline may carry."""
        return tuple(n for p in self.packs for n in (*p.names, *p.tags) if re.fullmatch(r"[\w .&'-]+", n))


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleError(f"{path.name}: top level must be a mapping")
    unknown = set(data) - _FILE_KEYS
    if unknown:
        raise RuleError(f"{path.name}: unknown keys {sorted(unknown)}; allowed: {sorted(_FILE_KEYS)}")
    for key in ("version", "description"):
        if not data.get(key):
            raise RuleError(f"{path.name}: missing {key!r} (every rule file is versioned and described)")
    if not isinstance(data["version"], int):
        raise RuleError(f"{path.name}: version must be an integer")
    return data


def _alternation(items: tuple[str, ...], literal: bool) -> str:
    parts = sorted({re.escape(i) if literal else i for i in items}, key=len, reverse=True)
    return "|".join(parts)


def _agency_values(names: tuple[str, ...], tags: tuple[str, ...]) -> dict[str, str]:
    tag_alt, name_alt = _alternation(tags, literal=False), _alternation(names, literal=True)
    return {"tags": tag_alt, "names": name_alt, "agency": f"{name_alt}|{tag_alt}"}


def _fill(pattern: str, values: Mapping[str, str], where: str) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in values:
            # Not a known placeholder: could be a regex quantifier such as {2}; leave it alone.
            if name.isidentifier():
                raise RuleError(f"{where}: unknown placeholder {{{name}}}; known: {sorted(values)}")
            return m.group(0)
        return values[name]

    return _PLACEHOLDER.sub(sub, pattern)


def _compile_rule(raw: dict, *, pack: str, agency: str | None, values: Mapping[str, str],
                  where: str, instances: tuple[Rule, ...] = ()) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: each rule must be a mapping")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RuleError(f"{where}: unknown rule keys {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    rid, kind, pattern = raw.get("id"), raw.get("kind"), raw.get("pattern")
    if not rid or not isinstance(rid, str) or not _SLUG.fullmatch(rid):
        raise RuleError(f"{where}: rule id {rid!r} must be a lowercase identifier")
    where = f"{where} rule {rid!r}"
    if kind not in KINDS:
        raise RuleError(f"{where}: kind {kind!r} must be one of {KINDS}")
    if not pattern or not isinstance(pattern, str):
        raise RuleError(f"{where}: missing pattern")
    evidence = raw.get("evidence")
    if evidence is not None and evidence not in EVIDENCE_KINDS:
        raise RuleError(f"{where}: evidence {evidence!r} must be one of {EVIDENCE_KINDS}")
    if evidence is not None and agency is None and not instances:
        raise RuleError(f"{where}: only agency packs can give agency evidence")
    if kind == "attribution" and evidence is None:
        raise RuleError(f"{where}: an attribution rule without evidence does nothing")
    scope = raw.get("scope", "head" if kind == "attribution" else "any")
    if scope not in SCOPES:
        raise RuleError(f"{where}: scope {scope!r} must be one of {SCOPES}")
    case = raw.get("case", "insensitive")
    if case not in ("sensitive", "insensitive"):
        raise RuleError(f"{where}: case must be 'sensitive' or 'insensitive'")
    source = _fill(pattern, values, where)
    if "(?P=" in source:
        raise RuleError(f"{where}: back-references are not allowed (patterns are combined)")
    flags = 0 if case == "sensitive" else re.IGNORECASE
    try:
        re.compile(source, flags)
    except re.error as exc:
        raise RuleError(f"{where}: bad pattern: {exc}") from exc
    end_anchored = bool(_END_ANCHOR.search(source))
    raw_source = source
    if kind in _SEARCHED:
        first = first_char_class(source, flags)
        if first:
            source = f"(?={first})(?:{source})"
    regex = re.compile(source, flags)
    if kind == "caption" and not end_anchored:
        raise RuleError(f"{where}: a caption rule matches the credit at the end: end the pattern with $")
    groups = set(regex.groupindex)
    required = {"caption": {"credit"}, "dateline": {"place"}}.get(kind, set())
    if not required <= groups:
        raise RuleError(f"{where}: a {kind} rule needs the named group(s) {sorted(required)}")
    examples = tuple(raw.get("examples") or ())
    keeps = tuple(raw.get("keeps") or ())
    if not all(isinstance(x, str) for x in (*examples, *keeps)):
        raise RuleError(f"{where}: examples and keeps must be strings")
    return Rule(
        id=f"{pack}.{rid}", pack=pack, kind=kind, regex=regex, source=source, raw_source=raw_source,
        case_sensitive=case == "sensitive", agency=agency, evidence=evidence, scope=scope,
        max_words=int(raw.get("max_words", _DEFAULT_BLOCK_WORDS)), examples=examples, keeps=keeps,
        end_anchored=end_anchored, instances=instances,
    )


def _prefilter(rules: tuple[Rule, ...]) -> re.Pattern[str] | None:
    """One pattern that matches where any of ``rules`` matches (group names removed).

    For searched kinds a single leading ``(?=[…])`` with the union of the rules' first characters
    lets ``re`` reject most positions with one class test instead of trying every alternative.
    """
    if not rules:
        return None
    parts, firsts = [], []
    for r in rules:
        body = _NAMED_GROUP.sub("(?:", r.raw_source)
        parts.append(f"(?:{body})" if r.case_sensitive else f"(?i:{body})")
        firsts.append(first_char_class(r.raw_source, 0 if r.case_sensitive else re.IGNORECASE)
                      if r.kind in _SEARCHED else None)
    combined = "|".join(parts)
    if all(firsts):
        sensitive = "".join(dict.fromkeys(f[1:-1] for f, r in zip(firsts, rules) if r.case_sensitive))
        insensitive = "".join(dict.fromkeys(f[1:-1] for f, r in zip(firsts, rules) if not r.case_sensitive))
        look = "|".join(([f"(?i:[{insensitive}])"] if insensitive else []) + ([f"[{sensitive}]"] if sensitive else []))
        combined = f"(?=(?:{look}))(?:{combined})"
    return re.compile(combined)


def load_rules(directory: Path | str | None = None) -> RuleSet:
    """Read, validate and compile every rule file in ``directory`` (default: the bundled rules)."""
    root = Path(directory) if directory is not None else RULES_DIR
    generic_path, templates_path = root / "generic.yaml", root / "templates.yaml"
    for p in (generic_path, templates_path):
        if not p.is_file():
            raise RuleError(f"{p}: missing rule file")
    templates = _read(templates_path)
    fragments = {k: str(v) for k, v in (templates.get("fragments") or {}).items()}
    generic = _read(generic_path)
    packs: list[Pack] = []
    compiled: list[Rule] = []    # agency packs' own rules, then merged templates, then generic
    template_rules = list(templates.get("rules") or ())
    template_ids = {r.get("id") for r in template_rules}
    instances: dict[str, list[Rule]] = {str(r.get("id")): [] for r in template_rules}
    seen_ids: set[str] = set()

    def add(rule: Rule, where: str, into: list[Rule]) -> None:
        if rule.id in seen_ids:
            raise RuleError(f"{where}: duplicate rule id {rule.id!r}")
        seen_ids.add(rule.id)
        into.append(rule)

    for path in sorted(root.glob("agency_*.yaml")):
        data = _read(path)
        slug = data.get("agency")
        if not slug or not _SLUG.fullmatch(str(slug)) or path.stem != f"agency_{slug}":
            raise RuleError(f"{path.name}: 'agency' must be the lowercase slug in the file name")
        names = tuple(str(n) for n in data.get("names") or ())
        tags = tuple(str(t) for t in data.get("tags") or ())
        if not names or not tags:
            raise RuleError(f"{path.name}: an agency pack needs 'names' and 'tags'")
        packs.append(Pack(name=slug, version=data["version"], description=data["description"],
                          agency=slug, names=names, tags=tags))
        values = {**fragments, **_agency_values(names, tags)}
        skip = set(data.get("skip_templates") or ())
        # Each pack shows the shared templates firing on its own copy: {template id: {examples, keeps}}.
        tex = data.get("template_examples") or {}
        if not isinstance(tex, dict) or not set(tex) <= template_ids - skip:
            raise RuleError(f"{path.name}: template_examples must map template ids {sorted(template_ids - skip)} "
                            "to {examples: [...], keeps: [...]}")
        for i, raw in enumerate(data.get("rules") or ()):
            add(_compile_rule(raw, pack=slug, agency=slug, values=values, where=f"{path.name}#{i}"),
                path.name, compiled)
        for i, raw in enumerate(template_rules):
            if raw.get("id") in skip:
                continue
            own = tex.get(raw.get("id")) or {}
            raw = {**raw, "examples": own.get("examples") or (), "keeps": own.get("keeps") or ()}
            add(_compile_rule(raw, pack=slug, agency=slug, values=values,
                              where=f"templates.yaml#{i} for {slug}"), path.name, instances[str(raw["id"])])
    for i, raw in enumerate(template_rules):
        inst = tuple(instances[str(raw.get("id"))])
        if not inst:
            continue
        agency_packs = [p for p in packs if p.agency in {r.agency for r in inst}]
        values = {**fragments, **_agency_values(tuple(n for p in agency_packs for n in p.names),
                                                tuple(t for p in agency_packs for t in p.tags))}
        compiled.append(_compile_rule({k: v for k, v in raw.items() if k not in ("examples", "keeps")},
                                      pack="templates", agency=None, values=values,
                                      where=f"templates.yaml#{i}", instances=inst))
    packs.append(Pack(name="templates", version=templates["version"], description=templates["description"]))
    packs.append(Pack(name="generic", version=generic["version"], description=generic["description"]))
    for i, raw in enumerate(generic.get("rules") or ()):
        add(_compile_rule(raw, pack="generic", agency=None, values=fragments, where=f"generic.yaml#{i}"),
            "generic.yaml", compiled)

    by_kind = {k: tuple(r for r in compiled if r.kind == k) for k in KINDS}
    credit_names = {
        p.agency: re.compile(r"\b(?:" + _alternation((*p.names, *p.tags), literal=True) + r")\b")
        for p in packs if p.agency
    }
    return RuleSet(packs=tuple(packs), by_kind=by_kind,
                   prefilters={k: _prefilter(v) for k, v in by_kind.items()},
                   windowed={k: bool(v) and all(r.end_anchored for r in v) for k, v in by_kind.items()},
                   credit_names=credit_names)


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The bundled rules, compiled once per process."""
    return load_rules()
