"""Incremental clustering of syndicated copies into stories, as pure in-memory logic.

A story's ``cluster_id`` is the ``article_id`` of its earliest article (by ``first_seen``, ties
broken by the smaller ``article_id``), so the same set of articles gets the same ids whatever order
they arrive in.

How a merge shows in the tables
-------------------------------
Articles are written once with the ``cluster_id`` they were given on arrival; that value is never
rewritten. Two clusters become one when an article bridges them (it matches members of both), or
when an article earlier than a cluster's first one arrives late and matches it. The merged cluster
keeps the id of its earliest article, and every update that merged anything carries :class:`Merge`
records: each names the retired id, the surviving id, any ids that had been retired into the
retired one before (so the mapping stays one hop long) and the held articles that carry a retired
id. The sink then

- upserts the surviving story's ``stories`` row (it now lists the outlets and articles of both), and
- records every retired id as an alias of the survivor: a ``stories`` row for the retired id with
  ``merged_into`` set (:class:`transforms.syndication.StoryTracker` makes them), so "one row per
  story" is ``WHERE merged_into IS NULL`` and an article's story is
  ``COALESCE(s.merged_into, a.cluster_id)``.

``Merge.article_ids`` also allows the other policy (re-emitting those articles' rows with the new
id) where the warehouse makes that cheap.

State and TTL
-------------
An article is held (its band keys and fingerprint in :class:`StoryClusterer`, its metadata in
:class:`ClusterGraph`) until the watermark passes ``first_seen + ttl``; :meth:`StoryClusterer.expire`
drops it, and a cluster's story summary goes with its last held member. The default TTL is 72 hours
(:data:`DEFAULT_TTL`): outlets republish a wire story within hours, and outlets in other time zones,
weekend editions and aggregators within two to three days; a match later than that is more often a
follow-up reusing background paragraphs than a copy, and held state grows linearly with the TTL
(articles per hour x TTL x bytes per article), so three days bounds it at a known size.

Beam wiring
-----------
:class:`StoryClusterer` is the reference behaviour. ``transforms.syndication.dofns`` shards it for
streaming: a step keyed by :func:`transforms.syndication.band_keys` holds the latest
``max_bucket`` fingerprints of one band bucket and verifies each newcomer against those within the
TTL (:func:`transforms.syndication.verify_many`), a step keyed by article gathers the verdicts of
all bands, and a single-key step holding a :class:`ClusterGraph` (inside
:class:`transforms.syndication.StoryTracker`) applies :meth:`ClusterGraph.assign` and emits the
article's ``cluster_id`` and the :class:`Merge` records as story rows. A batch finds the same
matches for all its articles at once (:func:`transforms.syndication.batch_matches`).

A match needs the two articles within the TTL of each other, whether or not :meth:`expire` has run
since: evictions only free memory, so the decisions do not depend on when they happen, and the
sharded and batch forms can make the same ones.

State per article held (``python -m benchmarks.bench_fingerprint`` and
``python -m benchmarks.bench_cluster_stage``): 42 band entries and up to 24 anchor entries; with
the fingerprint (1,120 bytes for 600 words, its sample included) in every bucket that is about
78 kB, with only (id, first_seen) in the buckets and the fingerprint held once about 4.8 kB; the story graph's snapshot about 230 bytes; :class:`StoryClusterer` in memory
about 7 kB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from .fingerprint import (
    DEFAULT_LSH,
    DEFAULT_THRESHOLDS,
    Fingerprint,
    FingerprintStack,
    LSHParams,
    MatchThresholds,
    band_keys,
    signature_bound,
    verify_many,
    verify_pair,
)

__all__ = [
    "DEFAULT_MAX_BUCKET",
    "DEFAULT_TTL",
    "ClusterGraph",
    "ClusterUpdate",
    "MatchIndex",
    "Merge",
    "Story",
    "StoryArticle",
    "StoryClusterer",
    "single_story",
]

DEFAULT_TTL = timedelta(hours=72)


@dataclass(frozen=True)
class StoryArticle:
    """What clustering needs to know about an article besides its fingerprint."""

    article_id: str
    first_seen: datetime  # timezone-aware
    feed_id: str
    agency: str | None = None
    is_agency_copy: bool = False  # published by the agency itself, not republished by an outlet
    title: str | None = None
    has_dateline: bool = False  # the copy kept the agency's dateline, i.e. the wire text as sent
    outlet: str | None = None  # articles.outlet: the publishing site, shared by its feeds

    def __post_init__(self) -> None:
        if not self.article_id:
            raise ValueError("article_id must not be empty")
        if self.first_seen.tzinfo is None or self.first_seen.utcoffset() is None:
            raise ValueError(f"first_seen of {self.article_id!r} must be timezone-aware, got {self.first_seen!r}")

    @property
    def canonical_rank(self) -> int:
        """Which copy stands for the story: 0 the agency's own copy, 1 a copy attributed to an agency
        that kept its dateline (outlets that rewrite a story drop or restyle the dateline first),
        2 any other copy. Ties go to the earliest."""
        if self.is_agency_copy:
            return 0
        return 1 if self.agency and self.has_dateline else 2

    @property
    def outlet_name(self) -> str:
        """The outlet a story counts this copy under: its ``outlet``, else its feed (an article
        written before outlets were recorded, or without a host to name)."""
        return self.outlet or self.feed_id

    @property
    def order_key(self) -> tuple[datetime, str]:
        """Earliest first; the id breaks ties so every arrival order picks the same first article."""
        return (self.first_seen, self.article_id)


@dataclass(frozen=True)
class Merge:
    """Cluster ``retired_cluster_id`` (and the ids merged into it before) now is ``cluster_id``."""

    cluster_id: str
    retired_cluster_id: str
    previously_retired: tuple[str, ...]
    article_ids: tuple[str, ...]  # held articles that were in the retired cluster

    @property
    def all_retired(self) -> tuple[str, ...]:
        return (self.retired_cluster_id, *self.previously_retired)


@dataclass(frozen=True)
class ClusterUpdate:
    """The outcome of adding one article."""

    article_id: str
    cluster_id: str
    duplicate: bool  # the id was already held (redelivery or a new version): nothing changed
    matched: tuple[str, ...] = ()  # held articles verified as copies of this one
    merges: tuple[Merge, ...] = ()


@dataclass(frozen=True)
class Story:
    """One row's worth of the ``stories`` table (without processing metadata)."""

    cluster_id: str
    canonical_article_id: str  # see StoryArticle.canonical_rank: the agency's own copy first
    agency: str | None
    title: str | None
    first_seen: datetime
    last_seen: datetime
    feed_ids: tuple[str, ...]
    article_ids: tuple[str, ...]
    outlets: tuple[str, ...] = ()  # distinct StoryArticle.outlet_name, sorted

    @property
    def outlet_count(self) -> int:
        """Distinct outlets, not feeds: two feeds of one site are one outlet."""
        return len(self.outlets)


def single_story(article: StoryArticle) -> Story:
    """The story of an article no other article carries (what ``_Cluster.of(article).story()``
    gives, without building the cluster: a batch has thousands of them)."""
    return Story(
        cluster_id=article.article_id,
        canonical_article_id=article.article_id,
        agency=article.agency,
        title=article.title,
        first_seen=article.first_seen,
        last_seen=article.first_seen,
        feed_ids=(article.feed_id,),
        article_ids=(article.article_id,),
        outlets=(article.outlet_name,),
    )


def _canonical_key(article: StoryArticle) -> tuple[int, datetime, str]:
    return (article.canonical_rank, article.first_seen, article.article_id)


@dataclass
class _Cluster:
    root: StoryArticle  # earliest article ever in the cluster; its id is the cluster id
    members: set[str]  # held article ids
    canonical: StoryArticle
    agency_source: StoryArticle | None  # earliest article naming an agency
    last_seen: datetime
    feed_ids: set[str]
    article_ids: set[str]  # every article that was ever in the cluster, held or not
    outlets: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)  # ids retired into this cluster

    @classmethod
    def of(cls, article: StoryArticle) -> "_Cluster":
        return cls(
            root=article,
            members={article.article_id},
            canonical=article,
            agency_source=article if article.agency else None,
            last_seen=article.first_seen,
            feed_ids={article.feed_id},
            article_ids={article.article_id},
            outlets={article.outlet_name},
        )

    def __setstate__(self, state: dict) -> None:
        # A graph pickled before outlets were kept (state of a job updated in place): its feeds
        # are the outlets it knew.
        state.setdefault("outlets", set(state.get("feed_ids", ())))
        self.__dict__.update(state)

    def absorb(self, other: "_Cluster") -> None:
        self.members |= other.members
        self.feed_ids |= other.feed_ids
        self.article_ids |= other.article_ids
        self.outlets |= other.outlets
        self.aliases |= other.aliases | {other.root.article_id}
        self.last_seen = max(self.last_seen, other.last_seen)
        self.canonical = min(self.canonical, other.canonical, key=_canonical_key)
        sources = [s for s in (self.agency_source, other.agency_source) if s is not None]
        self.agency_source = min(sources, key=lambda s: s.order_key) if sources else None

    def story(self) -> Story:
        agency = self.canonical.agency or (self.agency_source.agency if self.agency_source else None)
        return Story(
            cluster_id=self.root.article_id,
            canonical_article_id=self.canonical.article_id,
            agency=agency,
            title=self.canonical.title,
            first_seen=self.root.first_seen,
            last_seen=self.last_seen,
            feed_ids=tuple(sorted(self.feed_ids)),
            article_ids=tuple(sorted(self.article_ids)),
            outlets=tuple(sorted(self.outlets)),
        )


class ClusterGraph:
    """Which held article belongs to which story, merged union-find style.

    Each cluster keeps its member set, so a merge relabels the retired cluster's members directly
    instead of leaving parent pointers to chase: the merge has to report those members anyway, and
    a story has tens of copies, not millions. The surviving id is always the earlier root's. Knows
    nothing about fingerprints: it is fed verified matches.
    """

    def __init__(self) -> None:
        self._articles: dict[str, StoryArticle] = {}
        self._cluster_of: dict[str, str] = {}  # article id -> cluster id
        self._clusters: dict[str, _Cluster] = {}  # cluster id -> cluster

    def __len__(self) -> int:
        return len(self._articles)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._articles

    def article(self, article_id: str) -> StoryArticle:
        return self._articles[article_id]

    def cluster_of(self, article_id: str) -> str:
        """The current cluster id of a held article (``KeyError`` if it is not held)."""
        return self._cluster_of[article_id]

    def members(self, cluster_id: str) -> frozenset[str]:
        return frozenset(self._clusters[cluster_id].members)

    def story(self, cluster_id: str) -> Story:
        return self._clusters[cluster_id].story()

    def stories(self) -> list[Story]:
        return [c.story() for c in self._clusters.values()]

    def add(self, article: StoryArticle) -> tuple[str, bool]:
        """Hold ``article`` in a cluster of its own unless held already; returns (cluster id, new?)."""
        known = self._cluster_of.get(article.article_id)
        if known is not None:
            return known, False
        self._articles[article.article_id] = article
        self._cluster_of[article.article_id] = article.article_id
        self._clusters[article.article_id] = _Cluster.of(article)
        return article.article_id, True

    def link(self, a_id: str, b_id: str) -> Merge | None:
        """Record that two held articles carry one story; returns the merge it caused, if any.

        A pair naming an article no longer held (evicted by TTL between candidate and verdict) is
        ignored: returns None.
        """
        a_cluster = self._cluster_of.get(a_id)
        b_cluster = self._cluster_of.get(b_id)
        if a_cluster is None or b_cluster is None or a_cluster == b_cluster:
            return None
        return self._merge(a_cluster, b_cluster)

    def assign(self, article: StoryArticle, matches: Iterable[str]) -> ClusterUpdate:
        """Add ``article`` and join it to the clusters of the held articles it ``matches``.

        Matched clusters are joined earliest root first, so whether the newcomer is the earliest
        article or not, every retired id is retired directly into the final survivor. The
        newcomer's own transient cluster is never reported as retired: nothing was written with it.
        """
        cluster_id, is_new = self.add(article)
        if not is_new:
            return ClusterUpdate(article.article_id, cluster_id, duplicate=True)
        matched = tuple(sorted({m for m in matches if m in self._cluster_of and m != article.article_id}))
        targets = sorted(
            {self._cluster_of[m] for m in matched},
            key=lambda cid: self._clusters[cid].root.order_key,
        )
        merges = []
        for target in targets:
            merge = self._merge(self._cluster_of[article.article_id], target)
            if merge is not None and merge.retired_cluster_id != article.article_id:
                merges.append(merge)
        return ClusterUpdate(
            article_id=article.article_id,
            cluster_id=self._cluster_of[article.article_id],
            duplicate=False,
            matched=matched,
            merges=tuple(merges),
        )

    def _merge(self, a_cluster: str, b_cluster: str) -> Merge | None:
        if a_cluster == b_cluster:
            return None
        a, b = self._clusters[a_cluster], self._clusters[b_cluster]
        survivor, retired = (a, b) if a.root.order_key <= b.root.order_key else (b, a)
        previously_retired = tuple(sorted(retired.aliases))
        moved = tuple(sorted(retired.members))
        survivor_id = survivor.root.article_id
        survivor.absorb(retired)
        for article_id in moved:
            self._cluster_of[article_id] = survivor_id
        del self._clusters[retired.root.article_id]
        return Merge(survivor_id, retired.root.article_id, previously_retired, moved)

    def evict(self, article_ids: Iterable[str]) -> tuple[str, ...]:
        """Stop holding these articles; returns the cluster ids whose last held member went."""
        emptied = []
        for article_id in article_ids:
            cluster_id = self._cluster_of.pop(article_id, None)
            if cluster_id is None:
                continue
            del self._articles[article_id]
            cluster = self._clusters[cluster_id]
            cluster.members.discard(article_id)
            if not cluster.members:
                del self._clusters[cluster_id]
                emptied.append(cluster_id)
        return tuple(emptied)

    def earliest_first_seen(self) -> datetime | None:
        """``first_seen`` of the oldest held article (what the next TTL eviction is due to)."""
        return min((a.first_seen for a in self._articles.values()), default=None)

    def expired(self, watermark: datetime, ttl: timedelta) -> list[str]:
        """Held articles whose ``first_seen + ttl`` is at or before ``watermark``."""
        cutoff = watermark - ttl
        return [a.article_id for a in self._articles.values() if a.first_seen <= cutoff]


# How many articles one LSH bucket remembers (the most recent). A bucket collects articles whose
# signatures agree on one band; copies of a story meet in many buckets at once, so a newcomer still
# finds a widely carried story through the latest copies in each. A bucket that more articles than
# this share within the TTL holds templated text (market reports, boilerplate that escaped cleaning,
# or a synthetic corpus): remembering all of them would make the work per article, and the state
# of a streaming job, grow with the number of articles held.
DEFAULT_MAX_BUCKET = 8
# Below this many candidates, verifying one by one is cheaper than building the arrays.
_VECTOR_MIN = 8


class _BandIndex:
    """LSH buckets of held fingerprints: band key -> row(s) of the held articles with that band.

    Each held article has a row (rows are reused): its id, first seen, fingerprint and keys by row,
    its signature, sizes and agency in arrays. A newcomer's candidates are then gathered, kept
    within the TTL and verified as an array of rows, with no step per candidate in Python: a bucket
    that more articles share fills up to ``max_bucket`` as more are held, and the cost of that
    must not grow the work per article. Almost every bucket holds a single article, so a bucket is
    the bare row (the one int object of that row, shared by all its buckets) until a second one
    arrives; a list per bucket would double the memory held per article. A bucket keeps at most
    ``max_bucket`` rows, the most recent.
    """

    def __init__(self, params: LSHParams, max_bucket: int = DEFAULT_MAX_BUCKET) -> None:
        if max_bucket < 1:
            raise ValueError(f"max_bucket must be positive, got {max_bucket}")
        self.params = params
        self.max_bucket = max_bucket
        self._buckets: dict[bytes, int | list[int]] = {}
        self._rows: dict[str, int] = {}  # held article -> its row
        self._ids: list[str | None] = []  # row -> held article (None: a free row)
        self._fingerprints: list[Fingerprint | None] = []
        self._samples: list[np.ndarray | None] = []  # each fingerprint's sample as an array (no copy)
        self._leads: list[np.ndarray | None] = []  # and its lead
        self._keys: list[tuple[bytes, ...]] = []
        self._free: list[int] = []
        self._seen = np.zeros(64, dtype=np.int64)  # first seen, microseconds since the epoch
        self._signatures = np.zeros((64, params.num_perm), dtype=np.uint32)
        self._low = np.zeros((64, params.num_perm), dtype=np.uint8)  # each value's lowest byte
        self._shingles = np.zeros(64, dtype=np.float64)
        self._words = np.zeros(64, dtype=np.int64)
        self._agencies = np.zeros(64, dtype=np.int64)
        self._titles = np.zeros(64, dtype=np.int64)

    def __setstate__(self, state: dict) -> None:
        # An index pickled before fingerprints carried a lead: its rows have none.
        state.setdefault("_leads", [None if f is None else f.lead_values for f in state["_fingerprints"]])
        state.setdefault("_titles", np.zeros(len(state["_words"]), dtype=np.int64))
        self.__dict__.update(state)

    def __len__(self) -> int:
        return len(self._rows)

    def ids(self, rows) -> list[str]:
        return [self._ids[row] for row in rows]

    def fingerprint(self, row: int) -> Fingerprint:
        return self._fingerprints[row]

    def might_match(self, fingerprint: Fingerprint, rows: np.ndarray, thresholds: MatchThresholds) -> np.ndarray:
        """The rows :func:`verify_many` could accept, judged from their signatures' low bytes
        (:func:`signature_bound`): a quarter of the bytes of the full signatures to read."""
        return rows[signature_bound(fingerprint, self._low[rows], self._shingles[rows], self._words[rows], thresholds)]

    def signature_stack(self, rows: np.ndarray) -> FingerprintStack:
        """The rows' signatures, sizes and agencies, without their samples (see :meth:`sample`)."""
        return FingerprintStack(self._signatures[rows], self._shingles[rows], self._words[rows],
                                agencies=self._agencies[rows], titles=self._titles[rows])

    def sample(self, row: int) -> np.ndarray:
        return self._samples[row]

    def lead(self, row: int) -> np.ndarray:
        return self._leads[row]

    def _store(self, article_id: str, seen: int, fingerprint: Fingerprint, keys: tuple[bytes, ...]) -> int:
        if self._free:
            row = self._free.pop()
            self._ids[row], self._fingerprints[row], self._keys[row] = article_id, fingerprint, keys
        else:
            row = len(self._ids)
            self._ids.append(article_id)
            self._fingerprints.append(fingerprint)
            self._samples.append(None)
            self._leads.append(None)
            self._keys.append(keys)
            if row == len(self._words):
                grow = len(self._words)
                self._seen = np.concatenate([self._seen, np.zeros(grow, dtype=np.int64)])
                self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures[:grow])])
                self._low = np.concatenate([self._low, np.zeros_like(self._low[:grow])])
                self._shingles = np.concatenate([self._shingles, np.zeros(grow)])
                self._words = np.concatenate([self._words, np.zeros(grow, dtype=np.int64)])
                self._agencies = np.concatenate([self._agencies, np.zeros(grow, dtype=np.int64)])
                self._titles = np.concatenate([self._titles, np.zeros(grow, dtype=np.int64)])
        self._rows[article_id] = row
        self._samples[row] = fingerprint.sample_values
        self._leads[row] = fingerprint.lead_values
        self._seen[row] = seen
        self._agencies[row] = fingerprint.agency
        self._titles[row] = fingerprint.title
        self._signatures[row] = fingerprint.values
        self._low[row] = fingerprint.values.astype(np.uint8)
        self._shingles[row] = fingerprint.shingle_count
        self._words[row] = fingerprint.word_count
        return row

    def candidates(self, keys: tuple[bytes, ...], seen: int, ttl_micros: int) -> np.ndarray:
        """Rows sharing a bucket with ``keys`` and first seen less than ``ttl_micros`` from
        ``seen``, each once (in no particular order)."""
        found: set[int] = set()
        get = self._buckets.get
        for key in keys:
            held = get(key)
            if held is None:
                continue
            if type(held) is int:
                found.add(held)
            else:
                found.update(held)
        rows = np.fromiter(found, dtype=np.intp, count=len(found))
        return rows[np.abs(self._seen[rows] - seen) < ttl_micros]

    def insert(self, article_id: str, seen: int, fingerprint: Fingerprint, keys: tuple[bytes, ...]) -> None:
        row = self._store(article_id, seen, fingerprint, keys)
        buckets = self._buckets
        for key in keys:
            held = buckets.get(key)
            if held is None or (type(held) is int and self.max_bucket == 1):
                buckets[key] = row
            elif type(held) is int:
                buckets[key] = [held, row]
            else:
                held.append(row)
                if len(held) > self.max_bucket:
                    del held[0]  # forgotten by this bucket only; still held, and found through others

    def remove(self, article_id: str) -> None:
        row = self._rows.pop(article_id, None)
        if row is None:
            return
        keys = self._keys[row]
        self._ids[row], self._fingerprints[row], self._samples[row], self._keys[row] = None, None, None, ()
        self._leads[row] = None
        self._free.append(row)
        for key in keys:
            held = self._buckets.get(key)
            if held is None:
                continue
            if type(held) is int:
                if held == row:
                    del self._buckets[key]
                continue
            if row in held:
                held.remove(row)
            if len(held) == 1:
                self._buckets[key] = held[0]
            elif not held:
                del self._buckets[key]

    def bucket_count(self) -> int:
        return len(self._buckets)


class MatchIndex:
    """The matching half of :class:`StoryClusterer`: the held articles' fingerprints in LSH buckets
    (at most ``max_bucket`` per bucket, the latest), and the held articles a newcomer copies.

    A candidate shares a bucket with the newcomer and was first seen within the TTL of it, whether
    or not :meth:`remove` has run since; it matches if :func:`verify_pair` says so. An article
    already held is matched to nothing again (a redelivery, or a later version). Times are
    microseconds since the epoch, as Beam state keeps them. The local streaming graph holds one on
    a single key (``transforms.syndication.dofns``); it pickles as a whole.

    Work per newcomer: a look-up per key, then array operations over its candidates (at most
    ``max_bucket`` per key), so it does not grow with the number of articles held
    (``python -m benchmarks match_growth``).
    """

    def __init__(self, thresholds: MatchThresholds = DEFAULT_THRESHOLDS, lsh: LSHParams = DEFAULT_LSH,
                 ttl: timedelta = DEFAULT_TTL, max_bucket: int = DEFAULT_MAX_BUCKET) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.thresholds = thresholds
        self.lsh = lsh
        self.ttl_micros = ttl // timedelta(microseconds=1)
        self._index = _BandIndex(lsh, max_bucket)
        self._seen: dict[str, int] = {}  # held article -> first seen, microseconds since the epoch

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._seen

    def candidates(self, seen: int, keys: tuple[bytes, ...]) -> list[str]:
        """The held articles an article first seen at ``seen`` with these band keys is verified
        against: those sharing a bucket with it within the TTL (sorted)."""
        return sorted(self._index.ids(self._index.candidates(keys, seen, self.ttl_micros)))

    def matches(self, article_id: str, seen: int, fingerprint: Fingerprint,
                keys: tuple[bytes, ...] | None = None) -> tuple[str, ...]:
        """The held articles ``article_id`` (first seen at ``seen``) copies, sorted; none if held."""
        if article_id in self._seen:
            return ()
        keys = band_keys(fingerprint, self.lsh) if keys is None else keys
        index = self._index
        rows = index.candidates(keys, seen, self.ttl_micros)
        if len(rows) < _VECTOR_MIN:
            found = [row for row in rows.tolist() if verify_pair(fingerprint, index.fingerprint(row), self.thresholds)]
        else:
            # Most candidates fail on their signatures: only those their low bytes do not rule
            # out are compared in full, and only those that reach the sample rule have their
            # samples read.
            rows = index.might_match(fingerprint, rows, self.thresholds)
            if not len(rows):
                return ()
            listed = rows.tolist()
            verdicts = verify_many(fingerprint, index.signature_stack(rows), self.thresholds,
                                   sample_of=lambda k: index.sample(listed[k]),
                                   lead_of=lambda k: index.lead(listed[k]))
            found = rows[verdicts].tolist()
        return tuple(sorted(index.ids(found)))

    def insert(self, article_id: str, seen: int, fingerprint: Fingerprint,
               keys: tuple[bytes, ...] | None = None) -> bool:
        """Hold an article (nothing changes if it is held already); True if it was new."""
        if article_id in self._seen:
            return False
        self._index.insert(article_id, seen, fingerprint, band_keys(fingerprint, self.lsh) if keys is None else keys)
        self._seen[article_id] = seen
        return True

    def remove(self, article_ids: Iterable[str]) -> None:
        for article_id in article_ids:
            if self._seen.pop(article_id, None) is not None:
                self._index.remove(article_id)

    def expired(self, watermark: int) -> list[str]:
        """Held articles whose ``first seen + ttl`` is at or before ``watermark`` (microseconds)."""
        return [a for a, seen in self._seen.items() if seen + self.ttl_micros <= watermark]

    def next_expiry(self) -> int | None:
        """When the oldest held article's TTL runs out (microseconds), None if nothing is held."""
        return min(self._seen.values()) + self.ttl_micros if self._seen else None

    def bucket_count(self) -> int:
        return self._index.bucket_count()


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


class StoryClusterer:
    """Assigns every arriving article to a story: LSH candidates, pair verification, merging.

    ``add`` is idempotent per ``article_id``: a redelivered item or a new version (a correction)
    keeps its cluster and is not matched again; the fingerprint of its first version stays held,
    which is what later copies of a lightly corrected text still match. The matching is a
    :class:`MatchIndex`'s and the stories a :class:`ClusterGraph`'s: the local streaming graph
    holds the same two, each on a single-key step.
    """

    def __init__(
        self,
        thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
        lsh: LSHParams = DEFAULT_LSH,
        ttl: timedelta = DEFAULT_TTL,
        max_bucket: int = DEFAULT_MAX_BUCKET,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.thresholds = thresholds
        self.lsh = lsh
        self.ttl = ttl
        self.graph = ClusterGraph()
        self._matches = MatchIndex(thresholds, lsh, ttl, max_bucket)

    def __len__(self) -> int:
        return len(self.graph)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self.graph

    def add(self, article: StoryArticle, fingerprint: Fingerprint) -> ClusterUpdate:
        if article.article_id in self.graph:
            return self.graph.assign(article, ())
        # What the containment rule checks, and the headline's candidate key.
        fingerprint = fingerprint.with_agency(article.agency).with_title(article.title)
        seen = _epoch_micros(article.first_seen)
        keys = band_keys(fingerprint, self.lsh)
        matches = self._matches.matches(article.article_id, seen, fingerprint, keys)
        self._matches.insert(article.article_id, seen, fingerprint, keys)
        return self.graph.assign(article, matches)

    def expire(self, watermark: datetime) -> tuple[str, ...]:
        """Drop articles whose TTL ran out by ``watermark``; returns their ids (sorted)."""
        gone = sorted(self.graph.expired(watermark, self.ttl))
        self._matches.remove(gone)
        self.graph.evict(gone)
        return tuple(gone)

    def cluster_of(self, article_id: str) -> str:
        return self.graph.cluster_of(article_id)

    def story(self, cluster_id: str) -> Story:
        return self.graph.story(cluster_id)

    def stories(self) -> list[Story]:
        return self.graph.stories()

    def bucket_count(self) -> int:
        """Number of non-empty LSH buckets held (for state-size accounting)."""
        return self._matches.bucket_count()
