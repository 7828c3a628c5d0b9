"""Editorial quality of the main job on a labelled corpus, run as users run it.

    python -m benchmarks quality --corpus DIR [--keep-warehouse PATH] [--verbose]

DIR holds ``feeds.yaml`` (feed URLs ``{serve}/feeds/X.xml``), ``feeds/*.xml`` and ``labels.jsonl``
(one object per item: ``feed_id``, ``link``, ``agency``, ``story``, ``published_at``, ``keep``,
``boilerplate``, ``boilerplate_kinds``). The scorer runs ``newswire run --feeds DIR/feeds.yaml
--serve DIR --warehouse TMP.duckdb --until-idle`` in a subprocess, reads ``articles_latest`` (the
latest version of each article) and ``stories`` (to follow merged stories to their survivor),
matches every label to its article by feed_id + link, and prints:

- leak: share of matched articles whose title or body still contains a boilerplate snippet (a
  snippet that is the whole headline, the body repeating it, only in the body), with
  the count of leaked snippets by kind. Matching collapses whitespace and folds curly quotes on both
  sides, so a snippet the pipeline re-typeset still counts as leaked;
- keep: share of ``keep`` sentences found in the body (whitespace collapsed, case-sensitive, exact
  typography); the same with quotes folded is printed beside it, to tell typography from loss;
- agency: share of labels whose article has the labelled agency (``null`` included);
- syndication: pairwise precision, recall and F1 of the ``story`` labels against the articles'
  stories;
- published_at within 1 s of the label, and the labels with no article (counted as failures in keep,
  agency and published_at; leak is over the articles found).

Floors (issue 11): leak ≤ 2%, keep ≥ 98%, agency ≥ 95%, F1 ≥ 0.95. Exit status 1 below a floor.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

import orjson

from transforms.cleaning.typography import fold_quotes

ROOT = Path(__file__).resolve().parents[1]
FLOORS = {"leak": 0.02, "keep": 0.98, "agency": 0.95, "f1": 0.95}
_SPACE = re.compile(r"\s+")


def collapse(text: str | None) -> str:
    """NFC with every run of whitespace (newlines between paragraphs too) as one space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text or "")).strip()


def fold(text: str | None) -> str:
    return fold_quotes(collapse(text))


@dataclass(frozen=True)
class Label:
    feed_id: str
    link: str
    agency: str | None
    story: str
    published_at: str | None
    keep: tuple[str, ...]
    boilerplate: tuple[str, ...]
    kinds: tuple[str, ...]

    @classmethod
    def from_json(cls, obj: Mapping) -> Label:
        bp = tuple(obj.get("boilerplate") or ())
        kinds = tuple(obj.get("boilerplate_kinds") or ())
        kinds = kinds + ("unknown",) * (len(bp) - len(kinds))
        return cls(feed_id=obj["feed_id"], link=obj["link"], agency=obj.get("agency"),
                   story=str(obj.get("story") or f"{obj['feed_id']} {obj['link']}"),
                   published_at=obj.get("published_at"), keep=tuple(obj.get("keep") or ()),
                   boilerplate=bp, kinds=kinds[: len(bp)])


@dataclass(frozen=True)
class Article:
    feed_id: str
    link: str | None
    title: str
    body: str
    agency: str | None
    story: str | None  # the surviving story id (merged stories followed)
    published_at: datetime | None


@dataclass
class ItemScore:
    label: Label
    article: Article | None
    leaked: list[tuple[str, str]] = field(default_factory=list)  # (kind, snippet)
    lost: list[str] = field(default_factory=list)
    lost_folded: list[str] = field(default_factory=list)
    agency_ok: bool = False
    time_ok: bool = False


@dataclass
class QualityReport:
    items: list[ItemScore]
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int

    @property
    def found(self) -> list[ItemScore]:
        return [s for s in self.items if s.article is not None]

    @property
    def missing(self) -> int:
        return len(self.items) - len(self.found)

    @property
    def leak(self) -> float:
        found = self.found
        return sum(1 for s in found if s.leaked) / len(found) if found else 0.0

    @property
    def leaked_by_kind(self) -> Counter:
        return Counter(kind for s in self.items for kind, _ in s.leaked)

    def _keep(self, attr: str) -> float:
        total = sum(len(s.label.keep) for s in self.items)
        lost = sum(len(getattr(s, attr)) for s in self.items)
        return (total - lost) / total if total else 1.0

    @property
    def keep(self) -> float:
        return self._keep("lost")

    @property
    def keep_folded(self) -> float:
        return self._keep("lost_folded")

    @property
    def agency(self) -> float:
        return sum(s.agency_ok for s in self.items) / len(self.items) if self.items else 0.0

    @property
    def published(self) -> float:
        return sum(s.time_ok for s in self.items) / len(self.items) if self.items else 0.0

    def below_floors(self) -> list[str]:
        out = []
        if self.leak > FLOORS["leak"]:
            out.append(f"leak {self.leak:.1%} > {FLOORS['leak']:.0%}")
        if self.keep < FLOORS["keep"]:
            out.append(f"keep {self.keep:.1%} < {FLOORS['keep']:.0%}")
        if self.agency < FLOORS["agency"]:
            out.append(f"agency {self.agency:.1%} < {FLOORS['agency']:.0%}")
        if self.f1 < FLOORS["f1"]:
            out.append(f"F1 {self.f1:.3f} < {FLOORS['f1']}")
        return out


def _utc(value: str | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:  # the warehouse's TIMESTAMP is UTC without a zone
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def pairwise(truth: Sequence[str], predicted: Sequence[str | None]) -> tuple[float, float, float, int, int]:
    """(precision, recall, F1, true pairs, predicted pairs) of two labellings of the same items.

    A ``None`` prediction (an article with no story, or no article) pairs with nothing. With no
    predicted pairs precision is 1 (nothing claimed, nothing wrong); with no true pairs recall is 1.
    """
    tp = n_true = n_pred = 0
    for i, j in combinations(range(len(truth)), 2):
        same_t = truth[i] == truth[j]
        same_p = predicted[i] is not None and predicted[i] == predicted[j]
        n_true += same_t
        n_pred += same_p
        tp += same_t and same_p
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, n_true, n_pred


def score(labels: Sequence[Label], articles: Iterable[Article]) -> QualityReport:
    """Match each label to its article (feed_id + link) and score it."""
    by_key: dict[tuple[str, str], Article] = {}
    for a in articles:
        if a.link:
            by_key.setdefault((a.feed_id, a.link.strip()), a)
    items = []
    for lab in labels:
        art = by_key.get((lab.feed_id, lab.link.strip()))
        s = ItemScore(label=lab, article=art)
        if art is None:
            s.lost = list(lab.keep)
            s.lost_folded = list(lab.keep)
            items.append(s)
            continue
        body = collapse(art.body)
        folded_body = fold(art.body)
        folded_text = fold(art.title) + "\n" + folded_body
        s.lost = [k for k in lab.keep if collapse(k) not in body]
        s.lost_folded = [k for k in lab.keep if fold(k) not in folded_body]
        # A snippet that is the whole headline (the body's first line repeating it) leaks from the
        # body only: in the title it is the title.
        title_f = fold(art.title)
        s.leaked = [(kind, snip) for snip, kind in zip(lab.boilerplate, lab.kinds)
                    if fold(snip) and fold(snip) in (folded_body if fold(snip) == title_f else folded_text)]
        s.agency_ok = (art.agency or None) == (lab.agency or None)
        want = _utc(lab.published_at)
        got = _utc(art.published_at)
        s.time_ok = want is not None and got is not None and abs((got - want).total_seconds()) <= 1.0
        items.append(s)
    truth = [s.label.story for s in items]
    predicted = [s.article.story if s.article else None for s in items]
    p, r, f1, n_true, n_pred = pairwise(truth, predicted)
    return QualityReport(items=items, precision=p, recall=r, f1=f1, true_pairs=n_true, predicted_pairs=n_pred)


def load_labels(path: Path) -> list[Label]:
    return [Label.from_json(orjson.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def read_articles(warehouse: Path) -> list[Article]:
    """The latest version of every article, with its story followed through merges."""
    import duckdb  # noqa: PLC0415  (only the runner needs it)

    sql = """
        WITH s AS (SELECT cluster_id, merged_into FROM stories WHERE TRUE
                   QUALIFY ROW_NUMBER() OVER (PARTITION BY cluster_id ORDER BY updated_at DESC) = 1)
        SELECT a.feed_id, a.link, a.title, a.body, a.agency,
               COALESCE(s.merged_into, a.cluster_id) AS story, a.published_at
        FROM articles_latest AS a LEFT JOIN s ON s.cluster_id = a.cluster_id
    """
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(sql).fetchall()
    return [Article(feed_id=r[0], link=r[1], title=r[2] or "", body=r[3] or "", agency=r[4], story=r[5],
                    published_at=r[6]) for r in rows]


def run_job(corpus: Path, warehouse: Path, timeout: float = 600.0) -> None:
    """``newswire run --until-idle`` on the corpus, as a user runs it."""
    cmd = [sys.executable, "-m", "pipeline.cli", "run", "--feeds", str(corpus / "feeds.yaml"),
           "--serve", str(corpus), "--warehouse", str(warehouse), "--until-idle"]
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    if proc.returncode != 0:
        tail = proc.stdout.decode(errors="replace")[-2000:]
        raise RuntimeError(f"newswire run exited {proc.returncode}:\n{tail}")


def format_report(rep: QualityReport, verbose: bool = False) -> str:
    found = rep.found
    lines = [
        f"items labelled {len(rep.items)}, articles found {len(found)}, missing {rep.missing}",
        f"leak     {rep.leak:7.1%}  articles keeping boilerplate ({sum(1 for s in found if s.leaked)}"
        f"/{len(found)}; floor {FLOORS['leak']:.0%})",
        "         by kind: " + (", ".join(f"{k} {n}" for k, n in sorted(rep.leaked_by_kind.items(),
                                                                     key=lambda kv: (-kv[1], kv[0])))
                                 or "none"),
        f"keep     {rep.keep:7.1%}  must-keep sentences in the body (floor {FLOORS['keep']:.0%}); "
        f"{rep.keep_folded:.1%} with quotes folded",
        f"agency   {rep.agency:7.1%}  (floor {FLOORS['agency']:.0%})",
        f"syndication P {rep.precision:.3f} R {rep.recall:.3f} F1 {rep.f1:.3f} "
        f"({rep.true_pairs} true pairs, {rep.predicted_pairs} predicted; floor F1 {FLOORS['f1']})",
        f"published_at within 1 s {rep.published:.1%}",
    ]
    if verbose:
        for s in rep.items:
            lab = s.label
            if s.article is None:
                lines.append(f"- MISSING {lab.feed_id} {lab.link}")
                continue
            for kind, snip in s.leaked:
                lines.append(f"- leak [{kind}] {lab.feed_id} {lab.link}: {snip[:100]}")
            for k in s.lost:
                lines.append(f"- lost {lab.feed_id} {lab.link}: {k[:100]}")
            if not s.agency_ok:
                lines.append(f"- agency {lab.feed_id} {lab.link}: want {lab.agency} got {s.article.agency}")
            if not s.time_ok:
                lines.append(f"- published {lab.feed_id} {lab.link}: want {lab.published_at} "
                             f"got {s.article.published_at}")
    return "\n".join(lines)


def evaluate(corpus: Path, keep_warehouse: Path | None = None) -> QualityReport:
    labels = load_labels(corpus / "labels.jsonl")
    with tempfile.TemporaryDirectory(prefix="newswire-quality-") as tmp:
        wh = keep_warehouse or Path(tmp) / "quality.duckdb"
        if keep_warehouse is not None:
            for p in wh.parent.glob(wh.name + "*"):  # a fresh run: no state from an earlier one
                if p.is_dir():
                    import shutil  # noqa: PLC0415
                    shutil.rmtree(p)
                else:
                    p.unlink()
        run_job(corpus, wh)
        return score(labels, read_articles(wh))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=None, help="directory with feeds.yaml, feeds/, labels.jsonl")
    ap.add_argument("--keep-warehouse", type=Path, default=None, metavar="PATH",
                    help="write the warehouse here (replaced) and keep it for inspection")
    ap.add_argument("--verbose", action="store_true", help="list every leak, lost sentence and wrong field")
    # ``python -m benchmarks`` passes every benchmark the same options: others' are not ours to refuse.
    args, _ = ap.parse_known_args(argv)
    if args.corpus is None:
        print("quality: no --corpus given, nothing scored (python -m benchmarks quality --corpus DIR)")
        return 0
    rep = evaluate(args.corpus.resolve(), args.keep_warehouse.resolve() if args.keep_warehouse else None)
    print(f"corpus {args.corpus}")
    print(format_report(rep, args.verbose))
    below = rep.below_floors()
    if below:
        print("below floor: " + "; ".join(below))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
