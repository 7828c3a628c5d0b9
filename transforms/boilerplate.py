"""Remove site chrome and agency boilerplate from article paragraphs, and attribute the agency.

The rules are data (``transforms/rules/*.yaml``, loaded by :mod:`transforms.rulepacks`); this module
applies them to the paragraphs of one article, in this order:

1. whole-paragraph rules over every paragraph: ``caption`` (the paragraph becomes an image caption
   and credit), ``line`` (dropped), ``block`` (dropped together with the short paragraphs after it,
   a "Related posts" list or a comment form, until the first long paragraph);
2. ``dateline`` rules on the first remaining paragraph (the second, if the first is short and has
   none): the dateline is cut from the text and kept with its place;
3. ``strip`` rules cut a matching span out of the head/tail/any paragraph (a trailing "(Reporting by
   …)" or "Enditem");
4. ``attribution`` rules look for agency evidence in the lead without removing anything.

Agency attribution weighs evidence: every firing rule of an agency pack names the kind of evidence
it is, and an agency's score is the sum of ``EVIDENCE_WEIGHTS`` over its distinct kinds. A dateline
(or the agency's "(TAG)" in the lead) outweighs any combination of weaker evidence; signature,
copyright and about-lines outweigh photo credits; the feed's ``agency_hint`` only decides when there
is nothing else (or breaks a tie). A story that merely mentions an agency ("Reuters reported") fires
no rule, because every rule is anchored to a whole line, a dateline position or a credit. A tie
between two agencies with no hint leaves ``agency`` unset: no attribution beats a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from .model import Image
from .normalize import normalize_text, paragraph_key
from .rulepacks import TAIL_WINDOW, Rule, RuleSet, default_rules

EVIDENCE_WEIGHTS: dict[str, int] = {
    "dateline": 1000,
    "attribution": 800,
    "signature": 100,
    "copyright": 100,
    "about": 100,
    "credit": 30,
    "hint": 10,
}
# A paragraph with at most this many words may precede the dateline paragraph (a kicker or label).
_HEAD_SKIP_WORDS = 8
# Rule id reported when a paragraph matches a learned line of its source.
LEARNED_RULE_ID = "learned.line"


@dataclass(frozen=True)
class Evidence:
    agency: str
    kind: str
    rule_id: str


@dataclass
class BoilerplateResult:
    paragraphs: list[str]
    agency: str | None = None
    dateline: str | None = None
    dateline_place: str | None = None
    images: list[Image] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)      # rule ids, once each, in firing order
    evidence: list[Evidence] = field(default_factory=list)

    def _fire(self, rule: Rule) -> None:
        if rule.id not in self.fired:
            self.fired.append(rule.id)
        if rule.evidence and rule.agency:
            self.evidence.append(Evidence(rule.agency, rule.evidence, rule.id))


def _first(rules: Sequence[Rule], prefilter: re.Pattern | None, text: str, how: str) -> tuple[Rule, re.Match] | None:
    """The first rule (a concrete, per-agency one for templates) matching ``text``, with its match."""
    if prefilter is None or getattr(prefilter, how)(text) is None:
        return None
    for rule in rules:
        m = getattr(rule.regex, how)(text)
        if m is None:
            continue
        if not rule.instances:
            return rule, m
        for inst in rule.instances:
            m = getattr(inst.regex, how)(text)
            if m is not None:
                return inst, m
    return None


def _tail(text: str) -> tuple[str, int]:
    """The part of ``text`` an end-anchored rule can match, and its offset in ``text``."""
    if len(text) <= TAIL_WINDOW:
        return text, 0
    return text[-TAIL_WINDOW:], len(text) - TAIL_WINDOW


def _find_caption(text: str, rs: RuleSet) -> tuple[Rule, Image] | None:
    window, offset = _tail(text) if rs.windowed["caption"] else (text, 0)
    hit = _first(rs.by_kind["caption"], rs.prefilters["caption"], window, "search")
    if hit is None:
        return None
    rule, m = hit
    credit = normalize_text(m.group("credit")).strip(" ()")
    caption = text[: offset + m.start()].strip()
    return rule, Image(url=None, caption=caption or None, credit=credit or None)


def split_caption_credit(caption: str | None, rules: RuleSet | None = None) -> tuple[str | None, str | None, Rule | None]:
    """(caption, credit, rule) for a caption that may end in a photo credit."""
    if not caption:
        return caption, None, None
    rs = rules or default_rules()
    hit = _find_caption(caption, rs)
    if hit is None:
        return caption, None, None
    rule, img = hit
    return img.caption, img.credit, rule


def choose_agency(evidence: Iterable[Evidence], hint: str | None = None,
                  known: Collection[str] = ()) -> str | None:
    """The agency with the most weighty distinct evidence, or None when there is none or a tie."""
    kinds: dict[str, set[str]] = {}
    for ev in evidence:
        kinds.setdefault(ev.agency, set()).add(ev.kind)
    if hint and (not known or hint in known):
        kinds.setdefault(hint, set()).add("hint")
    if not kinds:
        return None
    scores = sorted(((sum(EVIDENCE_WEIGHTS[k] for k in ks), a) for a, ks in kinds.items()), reverse=True)
    if len(scores) > 1 and scores[0][0] == scores[1][0]:
        return None
    return scores[0][1]


def _words(text: str) -> int:
    return text.count(" ") + 1 if text else 0


def strip_boilerplate(
    paragraphs: Sequence[str],
    *,
    agency_hint: str | None = None,
    media_credits: Iterable[str] = (),
    learned: Collection[str] = (),
    rules: RuleSet | None = None,
) -> BoilerplateResult:
    """Apply every rule to normalized paragraphs (see the module doc for order and attribution).

    ``learned`` holds :func:`transforms.normalize.paragraph_key` keys of lines learned as this
    source's boilerplate; a paragraph whose key is among them is dropped as ``learned.line``.
    """
    rs = rules or default_rules()
    res = BoilerplateResult(paragraphs=[])
    kept: list[str] = []
    whole_line, whole_block = rs.by_kind["line"], rs.by_kind["block"]
    pre_line, pre_block = rs.prefilters["line"], rs.prefilters["block"]
    cutting: Rule | None = None

    for text in paragraphs:
        cap = _find_caption(text, rs)
        if cap is not None and _words(text) <= 120:
            res._fire(cap[0])
            res.images.append(cap[1])
            continue
        hit = _first(whole_line, pre_line, text, "fullmatch")
        if hit is not None:
            res._fire(hit[0])
            continue
        hit = _first(whole_block, pre_block, text, "fullmatch")
        if hit is not None:
            res._fire(hit[0])
            cutting = hit[0]
            continue
        if learned and paragraph_key(text) in learned:
            if LEARNED_RULE_ID not in res.fired:
                res.fired.append(LEARNED_RULE_ID)
            continue
        if cutting is not None:
            if _words(text) <= cutting.max_words:
                continue
            cutting = None
        kept.append(text)

    _apply_dateline(kept, rs, res)
    _apply_strips(kept, rs, res)
    _apply_attribution(kept, rs, res)
    for credit in media_credits:
        for agency, pattern in rs.credit_names.items():
            if credit and pattern.search(credit):
                res.evidence.append(Evidence(agency, "credit", "media.credit"))

    res.paragraphs = kept
    res.agency = choose_agency(res.evidence, agency_hint, rs.agencies)
    return res


def _apply_dateline(kept: list[str], rs: RuleSet, res: BoilerplateResult) -> None:
    rules, pre = rs.by_kind["dateline"], rs.prefilters["dateline"]
    for i in range(min(2, len(kept))):
        hit = _first(rules, pre, kept[i], "match")
        if hit is not None:
            rule, m = hit
            rest = kept[i][m.end():].strip()
            res._fire(rule)
            res.dateline = normalize_text(m.group(0)).rstrip(" -—–:|.") or None
            res.dateline_place = normalize_text(m.group("place")) or None
            if rest:
                kept[i] = rest
            else:
                del kept[i]
            return
        if _words(kept[i]) > _HEAD_SKIP_WORDS:
            return


def _scope_range(scope: str, n: int) -> range:
    if scope == "head":
        return range(0, min(2, n))
    if scope == "tail":
        return range(max(0, n - 2), n)
    return range(n)


def _apply_attribution(kept: list[str], rs: RuleSet, res: BoilerplateResult) -> None:
    rules, pre = rs.by_kind["attribution"], rs.prefilters["attribution"]
    for i, text in enumerate(kept):
        in_scope = [r for r in rules if i in _scope_range(r.scope, len(kept))]
        if not in_scope or pre is None or pre.search(text) is None:
            continue
        for rule in in_scope:
            for inst in rule.instances or (rule,):
                if inst.regex.search(text):
                    res._fire(inst)


def _apply_strips(kept: list[str], rs: RuleSet, res: BoilerplateResult) -> None:
    rules, pre = rs.by_kind["strip"], rs.prefilters["strip"]
    if not rules or not kept:
        return
    n = len(kept)
    ranges = {sc: _scope_range(sc, n) for sc in ("head", "tail", "any")}
    scopes = {r.scope for r in rules}
    candidates = range(n) if "any" in scopes else sorted({i for sc in scopes for i in ranges[sc]})
    windowed = rs.windowed["strip"]
    drop: set[int] = set()
    for i in candidates:
        text = kept[i]
        if pre is None or pre.search(_tail(text)[0] if windowed else text) is None:
            continue
        for rule in rules:
            if i not in ranges[rule.scope]:
                continue
            window, offset = _tail(text) if rule.end_anchored else (text, 0)
            hit = _first((rule,), rule.regex, window, "search")
            if hit is None:
                continue
            res._fire(hit[0])
            m = hit[1]
            text = normalize_text(text[: offset + m.start()] + " " + text[offset + m.end():])
        if text:
            kept[i] = text
        else:
            drop.add(i)
    if drop:
        kept[:] = [t for j, t in enumerate(kept) if j not in drop]
