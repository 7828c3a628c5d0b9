"""Remove site chrome and agency boilerplate from article paragraphs, and attribute the agency.

The rules are data (``transforms/cleaning/rules/*.yaml``, loaded by
:mod:`transforms.cleaning.rulepacks`); this module applies them to the paragraphs of one article, in
this order:

1. whole-paragraph rules over every paragraph: ``caption`` (the paragraph becomes an image caption
   and credit), ``line`` (dropped), ``block`` (dropped together with the short paragraphs after it,
   a "Related posts" list or a comment form, until the first long paragraph; a block that
   ``takes: headlines`` only takes lines that end in no sentence mark, the linked headlines);
2. ``byline`` rules on the first three remaining paragraphs ("By Jane Doe"), else on the last one
   (a signature at the end): the line leaves the body and names the byline;
3. ``dateline`` rules on the first remaining paragraph (the second, if the first is short and has
   none): the dateline is cut from the text and kept with its place;
4. ``strip`` rules cut a matching span out of the head/tail/any paragraph (a trailing "(Reporting by
   …)" or "Enditem");
5. ``attribution`` rules look for agency evidence in the lead without removing anything.

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
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from transforms.model import Image

from .classifier import ParagraphModel
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
# Prefix of the rule ids of paragraphs dropped for the chrome wrapper they sat in.
STRUCTURE_PREFIX = "structure."
# A first paragraph longer than this is the lede: the classifier does not take it.
_LEDE_WORDS = 12
# ... unless the model is this sure (a licence or "originally published by" line above the story).
_LEDE_SCORE = 0.97


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
    byline: str | None = None
    images: list[Image] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)      # rule ids, once each, in firing order
    learned_removed: list[str] = field(default_factory=list)  # keys of paragraphs dropped as learned
    evidence: list[Evidence] = field(default_factory=list)

    def _fire(self, rule: Rule, text: str | None = None, rs: RuleSet | None = None) -> None:
        if rule.id not in self.fired:
            self.fired.append(rule.id)
        if rule.evidence and rule.agency:
            self.evidence.append(Evidence(rule.agency, rule.evidence, rule.id))
        elif rule.evidence and text and rs is not None:
            # A generic credit, licence or about-line ("Repórter da Agência Brasil"): the agencies
            # it names are its evidence.
            self.evidence.extend(Evidence(agency, rule.evidence, rule.id) for agency in agencies_named(text, rs))


def _tail(text: str) -> tuple[str, int]:
    """The part of ``text`` an end-anchored rule can match, and its offset in ``text``."""
    if len(text) <= TAIL_WINDOW:
        return text, 0
    return text[-TAIL_WINDOW:], len(text) - TAIL_WINDOW


def _find_caption(text: str, rs: RuleSet) -> tuple[Rule, Image] | None:
    matcher = rs.matchers["caption"]
    if matcher.edge is not None and matcher._bucket(text).regex is None:
        return None  # no caption rule ends with this text's last character (most paragraphs)
    window, offset = _tail(text) if matcher.windowed else (text, 0)
    hit = matcher.first(window, "search")
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


def agencies_named(text: str | None, rules: RuleSet | None = None) -> list[str]:
    """Agencies whose name or tag appears in ``text`` (a photo credit, an author field).

    A name inside a longer name of another agency does not count: "Associated Press of Pakistan"
    names APP only, not AP.
    """
    if not text:
        return []
    rs = rules or default_rules()
    spans: dict[str, tuple[int, int]] = {}
    for agency, pattern in rs.credit_names.items():
        best = max(((m.start(), m.end()) for m in pattern.finditer(text)),
                   key=lambda se: se[1] - se[0], default=None)
        if best is not None:
            spans[agency] = best
    return [a for a, (s, e) in spans.items()
            if not any(b != a and bs <= s and e <= be and be - bs > e - s for b, (bs, be) in spans.items())]


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


_HEAD = 8  # characters of a paragraph key compared before the whole key is computed


@lru_cache(maxsize=16)
def _learned_heads(learned: frozenset[str]) -> frozenset[str]:
    return frozenset(k[:_HEAD] for k in learned)


def _maybe_learned(text: str, heads: frozenset[str]) -> bool:
    """Cheap test on the start of a paragraph: False means its key is certainly not learned."""
    head = paragraph_key(text[:3 * _HEAD])[:_HEAD]
    return head in heads or (len(head) < _HEAD and len(text) > 3 * _HEAD)


# What ends a sentence (or a quoted one): a line ending in none of these reads as a headline.
_SENTENCE_ENDS = (".", "!", "?", "…", ":", ";", '"', "”", "»", "'", "’", ")")


def is_headline(text: str) -> bool:
    """A line that reads as a headline, not a sentence: it ends in no sentence mark."""
    return bool(text) and not text.endswith(_SENTENCE_ENDS)


def _words(text: str) -> int:
    return text.count(" ") + 1 if text else 0


def strip_boilerplate(
    paragraphs: Sequence[str],
    *,
    agency_hint: str | None = None,
    media_credits: Iterable[str] = (),
    signatures: Iterable[str] = (),
    learned: Collection[str] = (),
    rules: RuleSet | None = None,
    structural: Mapping[str, str] | None = None,
    model: ParagraphModel | None = None,
) -> BoilerplateResult:
    """Apply every rule to normalized paragraphs (see the module doc for order and attribution).

    ``media_credits`` (photo credits from the feed) naming an agency are ``credit`` evidence;
    ``signatures`` (the feed's author field) naming one are ``signature`` evidence. ``learned``
    holds :func:`transforms.cleaning.paragraph_key` keys of lines learned as this source's
    boilerplate; a paragraph whose key is among them is dropped as ``learned.line``.

    After the rules, two kinds of evidence that do not depend on a wording drop whole paragraphs
    the rules kept: ``structural`` (paragraph text → the chrome wrapper it sat in, from
    :func:`transforms.cleaning.structure.chrome_paragraphs`), reported as ``structure.<wrapper>``;
    and, last, ``model``'s verdicts on what the rules left (:mod:`transforms.cleaning.classifier`),
    reported as ``classifier.<kind>@<score>``. The model never takes a lede of more than a few
    words, and never every paragraph: a body it would empty keeps them.
    """
    rs = rules or default_rules()
    res = BoilerplateResult(paragraphs=[])
    kept: list[str] = []
    whole = rs.matchers["whole"]
    has_captions = rs.matchers["caption"].regex is not None
    cutting: Rule | None = None
    if learned and not isinstance(learned, frozenset):
        learned = frozenset(learned)
    learned_heads = _learned_heads(learned) if learned else None
    for text in paragraphs:
        if has_captions:
            cap = _find_caption(text, rs)
            if cap is not None and _words(text) <= 120:
                res._fire(cap[0], text, rs)
                res.images.append(cap[1])
                continue
        hit = whole.first(text, "fullmatch")
        if hit is not None:
            res._fire(hit[0], text, rs)
            if hit[0].kind == "block":
                cutting = hit[0]
            continue
        if learned_heads and _maybe_learned(text, learned_heads):
            key = paragraph_key(text)
            if key in learned:
                if LEARNED_RULE_ID not in res.fired:
                    res.fired.append(LEARNED_RULE_ID)
                res.learned_removed.append(key)
                continue
        if cutting is not None:
            if _words(text) <= cutting.max_words and (cutting.takes == "short" or is_headline(text)):
                continue
            cutting = None
        if structural and text in structural:
            rid = f"{STRUCTURE_PREFIX}{structural[text]}"
            if rid not in res.fired:
                res.fired.append(rid)
            continue
        kept.append(text)

    _apply_byline(kept, rs, res)
    dateline_at = _apply_dateline(kept, rs, res)
    _apply_strips(kept, rs, res)
    _apply_attribution(kept, rs, res)
    if model is not None and kept:
        _apply_model(kept, model, rs, res, dateline_at=dateline_at)
    for kind, texts in (("credit", media_credits), ("signature", signatures)):
        for text in texts:
            res.evidence.extend(Evidence(agency, kind, f"feed.{kind}") for agency in agencies_named(text, rs))

    res.paragraphs = kept
    res.agency = choose_agency(res.evidence, agency_hint, rs.agencies)
    return res


# The evidence an agency named in a paragraph the model drops is, by the paragraph's kind: credits,
# licences and about-lines name the agency whose copy it is; related headlines, chrome and stamps
# name whatever they link to, and are no evidence.
_MODEL_EVIDENCE = {"about": "about", "copyright": "copyright", "licence": "copyright", "byline": "signature",
                   "slug": "signature", "contact": "signature", "caption": "credit"}


def _apply_model(kept: list[str], model: ParagraphModel, rs: RuleSet, res: BoilerplateResult,
                 dateline_at: int | None = None) -> None:
    """Drop what the classifier calls boilerplate among the paragraphs the rules left.

    It judges the text the rules leave (a story line whose trailer a strip rule cut is judged
    without it), after attribution has seen everything.
    """
    verdicts = model.judge(kept, rs)
    # A first paragraph followed by the dateline paragraph stands above the story (a licence or
    # "originally published by" line), so it is no lede to protect.
    # Only the first paragraph's verdict needs it: the dateline search is skipped for the others.
    # (So is a first paragraph above the one the dateline was cut from.)
    above_dateline = verdicts[0] is not None and (
        bool(dateline_at) or (res.dateline is None and len(kept) > 1
                              and rs.matchers["dateline"].first(kept[1], "match") is not None))
    drop = {i for i, v in enumerate(verdicts) if v is not None
            and (i > 0 or above_dateline or _words(kept[0]) <= _LEDE_WORDS or v.score >= _LEDE_SCORE)}
    if not drop or len(drop) == len(kept):  # the model alone would empty the body: keep the text
        return
    for i in sorted(drop):
        rid = verdicts[i].rule_id
        if rid not in res.fired:
            res.fired.append(rid)
        # A credit the model took out in a wording no pack knows ("Repórter da Agência Brasil",
        # "republicado com informações da Lusa") still says whose copy this is.
        evidence = _MODEL_EVIDENCE.get(verdicts[i].kind)
        if evidence is not None:
            res.evidence.extend(Evidence(agency, evidence, rid) for agency in agencies_named(kept[i], rs))
    kept[:] = [t for j, t in enumerate(kept) if j not in drop]
    if res.byline is None and max(drop) >= len(kept):  # the tail it dropped hid a closing byline
        _apply_byline(kept, rs, res)
    if res.dateline is None and min(drop) < 2:  # a licence line above the lede hid its dateline
        _apply_dateline(kept, rs, res)
        _apply_attribution(kept, rs, res)


def _apply_byline(kept: list[str], rs: RuleSet, res: BoilerplateResult) -> None:
    matcher = rs.matchers["byline"]
    # The first three paragraphs, then the last one: some outlets sign a story at its end
    # ("Von Jana Stern"). A byline is a whole paragraph of names, so a story's last sentence is none.
    n = len(kept)
    for i in (*range(min(3, n)), *((n - 1,) if n > 3 else ())):
        hit = matcher.first(kept[i], "fullmatch")
        if hit is not None:
            rule, m = hit
            res._fire(rule)
            res.byline = normalize_text(m.group("byline")) or None
            org = m.groupdict().get("org")
            if org:  # "By Jane Doe, Associated Press" signs the story like a signature line
                res.evidence.extend(Evidence(agency, "signature", rule.id) for agency in agencies_named(org, rs))
            del kept[i]
            return


# A place on a line of its own above the lead, as page templates print the dateline in its own
# element: "INNSBRUCK", "SANTA CRUZ DE TENERIFE", "МОСКВА", "Innsbruck", "Rio de Janeiro". Every
# word capitalized (or a connector), no punctuation but a hyphen or a full stop in an abbreviation.
_PLACE_ALONE = re.compile(
    r"[A-ZÀ-ÞĀ-žА-ЯЁ][\w'’.-]{1,30}(?:\s(?:(?:de|do|da|dos|das|del|di|la|el|am|an|upon|sur|DE|DEL|DO|DA|LA|EL)\s)?"
    r"[A-ZÀ-ÞĀ-žА-ЯЁ][\w'’.-]{1,30}){0,3}")
# The lead under it is a paragraph of at least this many words.
_LEAD_UNDER_PLACE_WORDS = 12
PLACE_ALONE_RULE_ID = "generic.dateline_alone"


def _place_alone(kept: list[str], res: BoilerplateResult) -> int | None:
    """Take a place printed alone above a long lead as the dateline (the first paragraph, or the
    second after a short kicker); the index of the lead, or None."""
    for i in range(min(2, len(kept) - 1)):
        text = kept[i]
        if (len(text) <= 40 and not text.endswith(".") and _PLACE_ALONE.fullmatch(text)
                and _words(kept[i + 1]) >= _LEAD_UNDER_PLACE_WORDS and kept[i + 1][:1].isupper()):
            res.fired.append(PLACE_ALONE_RULE_ID)
            res.dateline = res.dateline_place = text
            del kept[i]
            return i
        if _words(text) > _HEAD_SKIP_WORDS:
            return None
    return None


def _apply_dateline(kept: list[str], rs: RuleSet, res: BoilerplateResult) -> int | None:
    """Cut the dateline from the lead; the index of the paragraph it was cut from, or None."""
    matcher = rs.matchers["dateline"]
    # A dateline may still open the lead under the place ("(ANSA) - …" under "GENOVA"): the search
    # below takes it too.
    alone = _place_alone(kept, res)
    # The first paragraph, or the second after a short kicker; an agency's own dateline ("PLACE
    # (TAG) -") followed by a sentence is specific enough to be taken from the second or third
    # paragraph after a longer one too (a teaser or standfirst printed above the story).
    past_long = False
    for i in range(min(3, len(kept))):
        late = past_long or i == 2
        if late and "(" not in kept[i][:120] and "/" not in kept[i][:120]:
            break  # no agency tag near its start: no dateline to take this far down (and a cheap test)
        hit = matcher.first(kept[i], "match")
        if hit is not None and late and (
                hit[0].evidence != "dateline" or not kept[i][hit[1].end():][:1].isupper()):
            hit = None
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
            return i
        if _words(kept[i]) > _HEAD_SKIP_WORDS:
            past_long = True
    return alone


def _scope_range(scope: str, n: int) -> range:
    if scope == "head":
        return range(0, min(2, n))
    if scope == "tail":
        return range(max(0, n - 2), n)
    return range(n)


def _apply_attribution(kept: list[str], rs: RuleSet, res: BoilerplateResult) -> None:
    matcher = rs.matchers["attribution"]
    if matcher.regex is None:
        return
    n = len(kept)
    # Only paragraphs some rule's scope covers can give evidence (the rules are "head" ones: the
    # first two), so the others are not looked at.
    scopes = {r.scope for r in matcher.rules}
    candidates = range(n) if "any" in scopes else sorted({i for sc in scopes for i in _scope_range(sc, n)})
    for i in candidates:
        text = kept[i]
        in_scope = [r for r in matcher.rules if i in _scope_range(r.scope, n)]
        if not in_scope or matcher.regex.search(text) is None:
            continue
        for rule in in_scope:  # every agency named counts: two of them make a tie, not a guess
            for inst in rule.instances or (rule,):
                if inst.regex.search(text):
                    res._fire(inst)


_MAX_STRIPS = 4  # per paragraph: a tail can carry several trailers ("… Enditem © Xinhua")


def _apply_strips(kept: list[str], rs: RuleSet, res: BoilerplateResult) -> None:
    matcher = rs.matchers["strip"]
    if matcher.regex is None or not kept:
        return
    n = len(kept)
    scopes = {r.scope for r in matcher.rules}
    candidates = range(n) if "any" in scopes else sorted({i for sc in scopes for i in _scope_range(sc, n)})
    drop: set[int] = set()
    for i in candidates:
        text = kept[i]
        for _ in range(_MAX_STRIPS):
            window, offset = _tail(text) if matcher.windowed else (text, 0)
            hit = matcher.first(window, "search")
            if hit is None or i not in _scope_range(hit[0].scope, n):
                break
            rule, m = hit
            res._fire(rule, m.group(0), rs)
            text = normalize_text(text[: offset + m.start()] + " " + text[offset + m.end():])
            if not text:
                break
        if text:
            kept[i] = text
        else:
            drop.add(i)
    if drop:
        kept[:] = [t for j, t in enumerate(kept) if j not in drop]
