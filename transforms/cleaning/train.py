"""Retrain the paragraph classifier from the labelled corpora in the repository.

    python -m transforms.cleaning.train [--out transforms/cleaning/models/paragraphs.json]
                                        [--threshold 0.25] [--report]

Training data (repository only, never shipped to workers):

- the golden corpus (``tests/quality/golden``): its items' paragraphs, content where they hold a
  story sentence, boilerplate where they hold a must-go snippet;
- every labelled feed corpus under ``tests/quality/labelled/*/`` (``feeds/*.xml`` and
  ``labels.jsonl`` with ``keep``, ``boilerplate`` and ``boilerplate_kinds``, the blind-corpus
  format), parsed with feedparser as the pollers parse feeds;
- ``tests/quality/labelled/paragraphs.yaml``: items written as labelled paragraph lists.

A paragraph holding a sentence to keep is content even when it also holds a snippet (a dateline, a
trailing slug): the classifier drops whole paragraphs, so it must never learn to drop those. A
paragraph holding neither is left out. Every paragraph is featurized in the context of its item's
paragraph list as the classifier sees it at run time: what the rules (and the HTML structure) leave
of the item, so positions and texts mean the same at training and at run time.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson
import yaml

from .boilerplate import strip_boilerplate
from .clean import pick_body
from .features import FEATURE_NAMES, paragraph_features
from .normalize import clean_title, drop_title_echo, html_to_blocks, split_standfirst
from .parse import parse_raw_item
from .rulepacks import RuleSet, default_rules
from .structure import chrome_paragraphs

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests" / "quality" / "labelled"
MODEL_VERSION = 1
# Boilerplate kinds the classifier names; corpus kinds outside these fold into the nearest one.
KIND_MAP = {"about": "about", "licence": "licence", "code": "code", "slug": "code", "contact": "contact",
            "chrome": "chrome", "related": "related", "caption": "caption", "signature": "chrome",
            "dateline": "chrome"}
_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"'})


def _fold(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).translate(_QUOTES).strip()


def item_paragraphs(raw_json: dict, rs: RuleSet) -> list[str]:
    """The paragraphs the classifier judges for this raw item: what the rules leave of its feed
    text (as ``clean_item`` builds it, structure included)."""
    return after_rules(*_feed_paragraphs(raw_json, rs))


def _feed_paragraphs(raw_json: dict, rs: RuleSet) -> tuple[list[str], RuleSet, dict]:
    """An item's feed paragraphs before the rules, with what ``after_rules`` needs."""
    raw = parse_raw_item(orjson.dumps(raw_json), {}, "train")
    e = raw.entry
    title = clean_title(e.title, site_names=rs.site_names)
    markup, from_content = pick_body(e)
    paras = drop_title_echo(title, html_to_blocks(markup).paragraphs)
    if from_content and e.summary:
        _, paras = split_standfirst(" ".join(html_to_blocks(e.summary).paragraphs) or None, paras)
    return paras, rs, chrome_paragraphs(markup)


def with_ruled(before: Sequence[str], after: Sequence[str], keep: Iterable[str],
               gone: Iterable[tuple[str, str]], ruled: bool = False) -> list[tuple[list[str], list[str | None]]]:
    """The item as the classifier sees it, plus (with ``--with-ruled``) the boilerplate paragraphs
    the rules took, labelled in the context of the item before the rules: the form of a kind of
    boilerplate stays learned when a rule comes to catch its wordings, for the wordings no rule
    knows yet."""
    keep, gone = list(keep), list(gone)
    out = [(list(after), label_paragraphs(after, keep, gone))]
    if ruled:
        taken = set(after)
        labs = [lab if lab not in (None, "content") and p not in taken else None
                for p, lab in zip(before, label_paragraphs(before, keep, gone))]
        if any(labs):
            out.append((list(before), labs))
    return out


def after_rules(paras: Sequence[str], rs: RuleSet, structural=None) -> list[str]:
    return strip_boilerplate(paras, rules=rs, structural=structural).paragraphs


def label_paragraphs(paras: Sequence[str], keep: Iterable[str], gone: Iterable[tuple[str, str]]) -> list[str | None]:
    """Per paragraph: 'content', a boilerplate kind, or None (neither, left out of training)."""
    keep_f = [_fold(k) for k in keep if k.strip()]
    gone_f = [(_fold(s), KIND_MAP.get(k, "chrome")) for s, k in gone if s.strip()]
    out: list[str | None] = []
    for p in paras:
        pf = _fold(p)
        if any(k in pf or (len(pf) > 20 and pf in k) for k in keep_f):
            out.append("content")
            continue
        kind = next((k for s, k in gone_f if s in pf or (len(pf) > 3 and pf in s)), None)
        out.append(kind)
    return out


def guess_kind(text: str) -> str:
    """A kind for golden snippets, which carry none: from the marks the paragraph bears."""
    low = text.lower()
    if "@" in text:
        return "contact"
    if re.search(r"©|copyright|rights|licen|reproduc|derechos|droits|rechte|diritti", low):
        return "licence"
    if re.search(r"founded|established|agency|agencia|agence|agentur|agenzia|kantor", low):
        return "about"
    if re.search(r"photo|foto|/\w+\)$|credit", low):
        return "caption"
    if re.search(r"related|read also|lire aussi|lea tamb|lee tamb|leggi|leia|baca juga", low):
        return "related"
    if len(text.split()) <= 6 and re.fullmatch(r"[A-Za-z /:.,;0-9-]+", text) and (
            "/" in text or text.isupper() or re.search(r"\d{6}", text)):
        return "code"
    return "chrome"


def golden_items(rs: RuleSet, ruled: bool = False) -> list[tuple[list[str], list[str | None]]]:
    from tests.quality.check_cleaning import load_corpus  # noqa: PLC0415  (repository-only command)

    out = []
    for item in load_corpus():
        before, _, structural = _feed_paragraphs(item.raw, rs)
        out.extend(with_ruled(before, after_rules(before, rs, structural), item.keep,
                              [(g, guess_kind(g)) for g in item.gone], ruled))
    return out


def syndication_items(rs: RuleSet) -> list[tuple[list[str], list[str | None]]]:
    """Story text only: the unedited copies of the syndication fixture corpus (clean bodies)."""
    from tests.quality.syndication_corpus import load_corpus  # noqa: PLC0415  (repository-only)

    out = []
    for item in load_corpus():
        if item.edits:
            continue
        paras = after_rules([p for p in item.body.split("\n") if p.strip()], rs)
        out.append((paras, ["content"] * len(paras)))
    return out


def feed_corpus_items(directory: Path, rs: RuleSet, ruled: bool = False) -> list[tuple[list[str], list[str | None]]]:
    import feedparser  # noqa: PLC0415

    from pollers.items import entry_fields  # noqa: PLC0415

    labels = {}
    for line in (directory / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            lab = json.loads(line)
            labels[(lab["feed_id"], lab["link"])] = lab
    out = []
    for path in sorted((directory / "feeds").glob("*.xml")):
        feed_id = path.stem
        for entry in feedparser.parse(path.read_bytes()).entries:
            fields = entry_fields(entry)
            lab = labels.get((feed_id, fields.get("link")))
            if lab is None:
                continue
            raw = {"schema_version": 1, "feed_id": feed_id, "feed_url": f"file://{path}", "agency_hint": None,
                   "fetched_at": "2026-11-05T12:00:00Z", "http": {}, "entry": fields, "page_html": None}
            before, _, structural = _feed_paragraphs(raw, rs)
            gone = list(zip(lab.get("boilerplate") or (), lab.get("boilerplate_kinds") or ()))
            out.extend(with_ruled(before, after_rules(before, rs, structural), lab.get("keep") or (), gone, ruled))
    return out


def paragraph_list_items(path: Path, rs: RuleSet) -> list[tuple[list[str], list[str | None]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for item in data["items"]:
        pairs = [(str(p[1]), str(p[0])) for p in item]
        paras = after_rules([t for t, _ in pairs], rs)
        keep = [t for t, k in pairs if k == "content"]
        out.append((paras, label_paragraphs(paras, keep, [(t, k) for t, k in pairs if k != "content"])))
    return out


def dataset(rs: RuleSet, sources: Sequence[str] = (), ruled: bool = False,
            hold_out: Sequence[str] = ()) -> tuple[list[list[float]], list[str], Counter]:
    items: list[tuple[list[str], list[str | None]]] = []
    origin: Counter = Counter()

    def add(name: str, got: list) -> None:
        items.extend(got)
        origin[name] += sum(1 for _, labs in got for lab in labs if lab)

    add("golden", golden_items(rs, ruled))
    add("syndication", syndication_items(rs))
    if LABELLED.is_dir():
        for d in sorted(p for p in LABELLED.iterdir() if (p / "labels.jsonl").exists()):
            if d.name not in hold_out:
                add(d.name, feed_corpus_items(d, rs, ruled))
        if (LABELLED / "paragraphs.yaml").exists():
            add("paragraphs.yaml", paragraph_list_items(LABELLED / "paragraphs.yaml", rs))
    for extra in sources:
        add(Path(extra).name, feed_corpus_items(Path(extra), rs, ruled))
    X: list[list[float]] = []
    y: list[str] = []
    for paras, labs in items:
        feats = paragraph_features(paras, rs)
        for f, lab in zip(feats, labs):
            if lab:
                X.append(f)
                y.append(lab)
    return X, y, origin


# Weight of a boilerplate paragraph against a story one in the decision model. Story paragraphs
# outnumber boilerplate ones about eight to one in the corpora; full balancing taught the model that
# any short line is chrome, so boilerplate weighs only this much more.
BOILERPLATE_WEIGHT = 3.0


def _logistic(c: float, weight=None):
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415  (training only)

    return LogisticRegression(C=c, max_iter=5000, class_weight=weight)


def train(X, y, c: float = 1.0, weight: float = BOILERPLATE_WEIGHT):
    """(boilerplate-vs-content model, kind model over the boilerplate paragraphs)."""
    import numpy as np  # noqa: PLC0415

    X = np.asarray(X)
    is_bp = np.asarray([lab != "content" for lab in y])
    binary = _logistic(c, {True: weight, False: 1.0}).fit(X, is_bp)
    kinds = _logistic(c, "balanced").fit(X[is_bp], [lab for lab in y if lab != "content"])
    return binary, kinds


def cross_validated(X, y, c: float, folds: int = 5, weight: float = BOILERPLATE_WEIGHT):
    """P(boilerplate) of every paragraph from a model that did not see it."""
    import numpy as np  # noqa: PLC0415
    from sklearn.model_selection import cross_val_predict  # noqa: PLC0415

    is_bp = np.asarray([lab != "content" for lab in y])
    model = _logistic(c, {True: weight, False: 1.0})
    return cross_val_predict(model, np.asarray(X), is_bp, cv=folds, method="predict_proba")[:, 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("models") / "paragraphs.json")
    ap.add_argument("--threshold", type=float, default=0.8,
                    help="drop a paragraph when P(boilerplate) reaches this")
    ap.add_argument("--max-words", type=int, default=120, help="never drop a paragraph longer than this")
    ap.add_argument("-C", type=float, default=1.0, help="inverse regularization strength")
    ap.add_argument("--also", action="append", default=[], help="another labelled feed corpus directory")
    ap.add_argument("--report", action="store_true", help="print cross-validated drops per threshold")
    ap.add_argument("--boilerplate-weight", type=float, default=BOILERPLATE_WEIGHT,
                    help="weight of a boilerplate paragraph against a story one in the decision model")
    ap.add_argument("--with-ruled", action="store_true",
                    help="also learn from the boilerplate paragraphs the rules remove (their form)")
    ap.add_argument("--hold-out", action="append", default=[], metavar="NAME",
                    help="leave out labelled/NAME (then score it with python -m benchmarks quality: "
                         "a leave-one-out figure, the corpus standing in for text never seen)")
    args = ap.parse_args(argv)
    rs = default_rules()
    X, y, origin = dataset(rs, args.also, args.with_ruled, args.hold_out)
    binary, kinds = train(X, y, args.C, args.boilerplate_weight)
    if args.report:
        import numpy as np  # noqa: PLC0415

        from .features import EVIDENCE_COLUMNS  # noqa: PLC0415

        # As the classifier decides at run time: only paragraphs bearing a mark can be dropped.
        marked = np.asarray(X)[:, EVIDENCE_COLUMNS].any(axis=1)
        p = np.where(marked, cross_validated(X, y, args.C, weight=args.boilerplate_weight), 0.0)
        n_bp = sum(lab != "content" for lab in y)
        for t in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95):
            lost = sum(1 for pi, lab in zip(p, y) if pi >= t and lab == "content")
            caught = sum(1 for pi, lab in zip(p, y) if pi >= t and lab != "content")
            print(f"threshold {t}: content paragraphs dropped {lost}/{len(y) - n_bp}, "
                  f"boilerplate caught {caught}/{n_bp}")
    doc = {
        "version": MODEL_VERSION,
        "features": list(FEATURE_NAMES),
        "boilerplate": {"coef": [round(float(w), 6) for w in binary.coef_[0]],
                        "intercept": round(float(binary.intercept_[0]), 6)},
        "kinds": {"classes": [str(c) for c in kinds.classes_],
                  "coef": [[round(float(w), 6) for w in row] for row in kinds.coef_],
                  "intercept": [round(float(b), 6) for b in kinds.intercept_]},
        "threshold": args.threshold,
        "max_words": args.max_words,
        "C": args.C,
        "with_ruled": args.with_ruled,
        "boilerplate_weight": args.boilerplate_weight,
        "trained_on": dict(sorted(origin.items())),
        "class_counts": dict(sorted(Counter(y).items())),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(y)} paragraphs {dict(sorted(Counter(y).items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
