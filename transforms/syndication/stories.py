"""What clustering decides for each article unit, and the ``stories`` rows each decision changes.

Pure logic shared by the streaming and the batch wiring (``transforms.syndication.dofns``):

- :func:`cluster_input` turns a unit's article row into what clustering needs (a
  :class:`~transforms.syndication.StoryArticle` and a fingerprint, none for a withdrawal notice);
- :class:`StoryTracker` holds the story graph of a streaming job: it assigns an article given its
  verified matches, remembers the id given to every held article (so a new version carries the id
  its first version was given) and turns every change into ``stories`` rows;
- :func:`cluster_batch` makes the same decisions for a whole batch at once: the matches
  :class:`~transforms.syndication.StoryClusterer` would find in time order
  (:func:`batch_matches`), then the story graph;
- :func:`with_cluster` gives a unit its decision: the article's ``cluster_id`` and the ``stories``
  rows to write with it.

How a story shows in the tables
-------------------------------
``articles.cluster_id`` is the id a story had when the article's first version was written and is
never rewritten; later versions of the article carry the same id. (A batch writes after it has seen
everything, so there that is the story's final id.) ``stories`` has one row per
cluster id, upserted with each change (``updated_at`` orders the snapshots). When an article joins
two stories (a bridging copy, or a late copy earlier than a story's first article), the surviving
id is the earliest article's, and each retired id gets a row with ``merged_into`` set to the
survivor (and the survivor's content as of the merge), so

- one row per story: ``WHERE merged_into IS NULL``;
- an article's story: ``COALESCE(s.merged_into, a.cluster_id)`` joining ``stories s`` on
  ``s.cluster_id = a.cluster_id`` (one hop: ids retired earlier are re-pointed at every merge).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from schemas import SCHEMA_VERSION

import numpy as np

from transforms.model import Unit

from .clustering import (
    DEFAULT_MAX_BUCKET,
    DEFAULT_TTL,
    ClusterGraph,
    ClusterUpdate,
    Story,
    StoryArticle,
    single_story,
)
from .fingerprint import (
    ANCHORS,
    LEAD_KEY_SHINGLES,
    DEFAULT_LSH,
    DEFAULT_THRESHOLDS,
    Fingerprint,
    FingerprintStack,
    LSHParams,
    MatchThresholds,
    fingerprint_bodies,
    fingerprint_body,
    verify_rows,
)

__all__ = [
    "DEFAULT_TICK",
    "Assignment",
    "ClusterConfig",
    "ClusterInput",
    "StoryTracker",
    "batch_matches",
    "cluster_batch",
    "cluster_input",
    "story_article",
    "story_row",
    "with_cluster",
]

# Evictions are batched to this granularity of event time: a timer per article would rewrite the
# story state once per article, an hourly one once per hour, for at most an hour of extra state.
DEFAULT_TICK = timedelta(hours=1)


@dataclass(frozen=True)
class ClusterConfig:
    """Everything the cluster stage is configured by (pipeline options map onto it)."""

    thresholds: MatchThresholds = DEFAULT_THRESHOLDS
    lsh: LSHParams = DEFAULT_LSH
    ttl: timedelta = DEFAULT_TTL
    tick: timedelta = DEFAULT_TICK
    max_bucket: int = DEFAULT_MAX_BUCKET

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0) or self.tick <= timedelta(0):
            raise ValueError(f"cluster ttl and tick must be positive, got {self.ttl} and {self.tick}")
        if self.max_bucket < 1:
            raise ValueError(f"max_bucket must be positive, got {self.max_bucket}")


@dataclass(frozen=True)
class ClusterInput:
    """One article unit as clustering sees it: with its fingerprint, or with the body to
    fingerprint later (a batch fingerprints all bodies at once), or with neither (a withdrawal
    notice, never clustered; or a later version, which is only looked up)."""

    message_id: str
    article: StoryArticle
    fingerprint: Fingerprint | None = None
    body: str | None = None

    @property
    def clusterable(self) -> bool:
        return self.fingerprint is not None or self.body is not None

    def to_record(self) -> tuple:
        """A tuple of plain values: Beam's default coder encodes it ten times faster than the
        dataclass (which it pickles)."""
        a = self.article
        content = self.fingerprint.to_bytes() if self.fingerprint is not None else self.body
        return (self.message_id, a.article_id, _micros(a.first_seen), a.feed_id, a.agency, a.is_agency_copy,
                a.title, a.has_dateline, content, a.outlet)

    @classmethod
    def from_record(cls, record: tuple) -> "ClusterInput":
        message_id, article_id, seen, feed_id, agency, own, title, dateline, content, *rest = record
        article = StoryArticle(article_id, _EPOCH + timedelta(microseconds=seen), feed_id, agency, own, title,
                               dateline, outlet=rest[0] if rest else None)
        if isinstance(content, bytes):
            return cls(message_id, article, fingerprint=Fingerprint.from_bytes(content))
        return cls(message_id, article, body=content)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Assignment:
    """The cluster id for one unit's article and the ``stories`` rows to write with it."""

    cluster_id: str | None
    story_rows: tuple[dict, ...] = ()
    # The agency of the syndicated story the article is in (None for a story of one article): what
    # an article naming no agency takes (see with_cluster).
    agency: str | None = None


def story_article(row: dict, feed_agency: str | None = None) -> StoryArticle:
    """A StoryArticle from an ``articles`` row; first seen is the fetch time (the event time).

    The copy is the agency's own when it comes from the agency's feed (the poller's ``agency``
    hint) and is not attributed to another agency: an agency feed relaying another agency's story
    is not that story's own copy. An unattributed item of an agency's feed counts as the agency's
    (cleaning attributes only agencies it has a rule pack for).
    """
    agency = row.get("agency")
    own = bool(feed_agency) and agency in (None, feed_agency)
    return StoryArticle(
        article_id=row["article_id"],
        first_seen=row["fetched_at"],
        feed_id=row["feed_id"],
        agency=agency or (feed_agency if own else None),
        is_agency_copy=own,
        title=row.get("title") or None,
        has_dateline=bool(row.get("dateline")),
        outlet=row.get("outlet"),
    )


def cluster_input(unit: Unit, content: str = "fingerprint") -> ClusterInput | None:
    """What clustering needs of a unit; None for a unit without an article.

    ``content``: ``"fingerprint"`` computes it, ``"body"`` carries the body for a batch to
    fingerprint, ``"none"`` carries neither (an article that is only looked up). A withdrawal
    notice never carries any.
    """
    row = unit.article
    if row is None:
        return None
    article = story_article(row, unit.feed_agency)
    if row.get("withdrawn") or content == "none":
        return ClusterInput(unit.message_id, article)
    if content == "body":
        return ClusterInput(unit.message_id, article, body=row["body"])
    if content != "fingerprint":
        raise ValueError(f"content must be 'fingerprint', 'body' or 'none', got {content!r}")
    return ClusterInput(unit.message_id, article, fingerprint=fingerprint_body(row["body"]).with_agency(article.agency)
                        .with_title(article.title))


def with_cluster(unit: Unit, assignment: Assignment) -> Unit:
    """The unit with its article's ``cluster_id`` set and the story rows to write with it
    (``Unit.stories``, written in the unit's transaction)."""
    article = unit.article
    if article is not None:
        article = {**article, "cluster_id": assignment.cluster_id}
        if article.get("agency") is None and assignment.agency:
            # A copy that names no agency (an aggregator's teaser, a repost without its dateline)
            # carries the wire story it joined. Only the joining row takes it: rows written before
            # are never rewritten, and a replayed message is a repeat with no row of its own.
            article["agency"] = assignment.agency
    return unit._replace(article=article, stories=tuple(assignment.story_rows))


def syndicated_agency(story: Story) -> str | None:
    """The agency a story lends its articles: only a story carried by more than one article."""
    return story.agency if len(story.article_ids) > 1 else None


def story_row(story: Story, updated_at: datetime, *, cluster_id: str | None = None,
              merged_into: str | None = None) -> dict:
    """The ``stories`` row of a story; with ``cluster_id``/``merged_into``, the row of an id retired
    into it (it carries the survivor's content as of the merge)."""
    return {
        "cluster_id": cluster_id or story.cluster_id,
        "canonical_article_id": story.canonical_article_id,
        "agency": story.agency,
        "title": story.title,
        "first_seen": story.first_seen,
        "last_seen": story.last_seen,
        "outlet_count": story.outlet_count,
        "feed_ids": list(story.feed_ids),
        "article_ids": list(story.article_ids),
        "updated_at": updated_at,
        "schema_version": SCHEMA_VERSION,
        "merged_into": merged_into,
        "outlets": list(story.outlets),
    }


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class StoryTracker:
    """A story graph plus the ids given to articles and the rows every change produces.

    ``updated_at`` of the rows is strictly increasing, so the sink can keep the latest snapshot of a
    story whatever order bundles are written in. Pickles as a whole: this is the state a streaming
    job snapshots.
    """

    def __init__(self, ttl: timedelta = DEFAULT_TTL, clock: Callable[[], datetime] = _utcnow,
                 graph: ClusterGraph | None = None) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.ttl = ttl
        self.graph = graph if graph is not None else ClusterGraph()
        self._clock = clock
        self._given: dict[str, str] = {}  # held article -> cluster id its first version was given
        self._last_update: datetime | None = None

    def __len__(self) -> int:
        return len(self.graph)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_clock"] = None if self._clock is _utcnow else self._clock
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._clock is None:
            self._clock = _utcnow

    def given(self, article_id: str) -> str | None:
        """The cluster id given to a held article's first version (None if it is not held)."""
        return self._given.get(article_id)

    def given_assignment(self, article_id: str) -> Assignment:
        """What a later version (or a redelivery) of a held article is given: its first version's
        id, and the agency of the story it is in now."""
        if article_id not in self.graph:
            return Assignment(self._given.get(article_id))
        story = self.graph.story(self.graph.cluster_of(article_id))
        return Assignment(self._given.get(article_id), agency=syndicated_agency(story))

    def assign(self, article: StoryArticle, matches: Iterable[str], *, at: datetime | None = None) -> Assignment:
        """Add an article with the held articles it was verified to match.

        ``at`` replays a decision made before (its ``updated_at``), so that rebuilding the tracker
        from a log of decisions gives the same state, clock included.
        """
        return self.record(self.graph.assign(article, matches), at=at)

    def record(self, update: ClusterUpdate, *, at: datetime | None = None) -> Assignment:
        """The assignment and story rows of an update made on ``self.graph``."""
        if update.duplicate:
            # A redelivered first version: the same id again, and the story did not change.
            story = self.graph.story(update.cluster_id)
            return Assignment(self._given.get(update.article_id, update.cluster_id),
                              agency=syndicated_agency(story))
        self._given[update.article_id] = update.cluster_id
        updated_at = self._tick(at)
        story = self.graph.story(update.cluster_id)
        rows = [story_row(story, updated_at)]
        for merge in update.merges:
            rows.extend(story_row(story, updated_at, cluster_id=retired, merged_into=merge.cluster_id)
                        for retired in merge.all_retired)
        return Assignment(update.cluster_id, tuple(rows), agency=syndicated_agency(story))

    def _tick(self, at: datetime | None) -> datetime:
        now = at if at is not None else self._clock()
        if self._last_update is not None and now <= self._last_update:
            now = self._last_update + timedelta(microseconds=1)
        self._last_update = now
        return now

    def next_expiry(self) -> datetime | None:
        """When the oldest held article's TTL runs out."""
        earliest = self.graph.earliest_first_seen()
        return None if earliest is None else earliest + self.ttl

    def expire(self, watermark: datetime) -> tuple[str, ...]:
        """Stop holding articles whose TTL ran out by ``watermark``; returns their ids."""
        gone = tuple(sorted(self.graph.expired(watermark, self.ttl)))
        self.graph.evict(gone)
        for article_id in gone:
            self._given.pop(article_id, None)
        return gone


def cluster_batch(inputs: Iterable[ClusterInput], config: ClusterConfig = ClusterConfig(),
                  clock: Callable[[], datetime] = _utcnow) -> dict[str, Assignment]:
    """Assign every input of a batch, keyed by message id: the decisions a streaming job would
    make, written as a batch can write them.

    Inputs are taken in fetch order (ties by message id, as the dedup step orders versions); the
    first input of an article id is its first version, later ones are versions or repeats and join
    the same story. The matches are :class:`~transforms.syndication.StoryClusterer`'s, found for the
    whole batch at once (:func:`batch_matches`). A batch writes after it has seen everything, so
    every article gets its story's final id (a streaming job writes the id a story had when the
    article arrived, and records merges in ``merged_into``), and only the final row of each story
    is returned, attached to the unit that last changed it.
    """
    ordered = sorted(inputs, key=lambda i: (i.article.first_seen, i.message_id))
    given: dict[str, str | None] = {}  # article id -> id given to its first version
    owner: dict[str, str] = {}  # message id -> article id
    firsts: list[ClusterInput] = []
    for item in ordered:
        article_id = item.article.article_id
        owner[item.message_id] = article_id
        if article_id not in given:
            given[article_id] = None
            if item.clusterable:
                firsts.append(item)
    graph = ClusterGraph()
    retired_into: dict[str, str] = {}  # one hop: merges re-point ids retired before
    carrier: dict[str, str] = {}  # surviving cluster id -> message id of the unit that last changed it
    alone: list[ClusterInput] = []  # matched no article and matched by none: a story of its own
    if firsts:
        if all(i.fingerprint is None for i in firsts):
            stack = fingerprint_bodies([i.body for i in firsts], config.lsh.num_perm)
        else:
            stack = FingerprintStack.of([i.fingerprint or fingerprint_body(i.body, config.lsh.num_perm)
                                         for i in firsts])
        # What the containment rule checks, and the headlines' candidate keys.
        stack = stack.with_agencies([i.article.agency for i in firsts]).with_titles([i.article.title for i in firsts])
        times = np.array([_micros(i.article.first_seen) for i in firsts], dtype=np.int64)
        matches = batch_matches(stack, times, config)
        matched_later = np.zeros(len(firsts), dtype=bool)
        for found in matches:
            matched_later[found] = True
        for index, (item, matched) in enumerate(zip(firsts, matches)):
            if not len(matched) and not matched_later[index]:
                # Most articles of a batch: no story graph needed to know their story is their own.
                given[item.article.article_id] = item.article.article_id
                alone.append(item)
                continue
            update = graph.assign(item.article, [firsts[m].article.article_id for m in matched])
            given[item.article.article_id] = update.cluster_id
            for merge in update.merges:
                for retired in merge.all_retired:
                    retired_into[retired] = merge.cluster_id
                    carrier.pop(retired, None)
            carrier[update.cluster_id] = item.message_id
    updated_at = clock()
    carried: dict[str, list[dict]] = {}
    for cluster_id, message_id in carrier.items():
        carried.setdefault(message_id, []).append(story_row(graph.story(cluster_id), updated_at))
    for item in alone:
        carried.setdefault(item.message_id, []).append(story_row(single_story(item.article), updated_at))
    agencies = {cluster_id: syndicated_agency(graph.story(cluster_id)) for cluster_id in carrier}
    out = {}
    for message_id, article_id in owner.items():
        cluster_id = given[article_id]
        final = retired_into.get(cluster_id, cluster_id) if cluster_id else None
        out[message_id] = Assignment(final, tuple(carried.get(message_id, ())), agency=agencies.get(final))
    return out


# Mixes a band's values into one 64-bit key (equal values, equal keys; a rare collision only adds a
# candidate that verification then rejects).
_BAND_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9),
             np.uint64(0x27D4EB2F165667C5))


# Candidate pairs made and verified at a time by batch_matches: a few megabytes of arrays.
_PAIRS_PER_CHUNK = 65_536


def batch_matches(stack: FingerprintStack, times: np.ndarray, config: ClusterConfig = ClusterConfig()
                  ) -> list[np.ndarray]:
    """For articles in arrival order (``times`` ascending, microseconds), the earlier articles each
    one is verified to match, as :class:`~transforms.syndication.StoryClusterer` would find them.

    The incremental clusterer looks a newcomer up in its LSH buckets, each holding the latest
    ``max_bucket`` articles with that band, keeps those within the TTL and verifies them. Here one
    sort over every (band, values) key of the batch lines the buckets up in arrival order, so the
    candidates of the entry at position ``p`` are the ``max_bucket`` entries before it in its run;
    they are verified a stretch of positions at a time, so memory does not grow with the batch.
    """
    n, _num_perm = stack.signatures.shape
    lsh = config.lsh
    bands = stack.signatures[:, : lsh.bands * lsh.rows].reshape(n, lsh.bands, lsh.rows).astype(np.uint64)
    keys = np.zeros((n, lsh.bands), dtype=np.uint64)
    for r in range(lsh.rows):
        keys ^= bands[:, :, r] * _BAND_MIX[r % len(_BAND_MIX)]
        keys *= _BAND_MIX[(r + 1) % len(_BAND_MIX)]
    keys ^= np.arange(lsh.bands, dtype=np.uint64) * _BAND_MIX[3]
    keys ^= keys >> np.uint64(29)
    article = np.repeat(np.arange(n), lsh.bands)
    keys = keys.ravel()
    held = np.repeat(stack.shingle_counts > 0, lsh.bands)  # an empty text has no band keys
    anchors, owners = _anchor_keys(stack)
    leads, lead_owners = _lead_keys(stack)
    keys = np.concatenate([keys[held], anchors, leads])
    article = np.concatenate([article[held], owners, lead_owners])
    order = np.argsort(keys, kind="stable")  # stable: arrival order within a bucket
    keys, article = keys[order], article[order]
    run = np.concatenate([[0], np.cumsum(keys[1:] != keys[:-1])])
    ttl = _seconds_micros(config.ttl)
    # Candidates are made a stretch of positions at a time and verified once about
    # _PAIRS_PER_CHUNK are pending: all of them at once were max_bucket pairs per key, several
    # arrays of them alive together (gigabytes at 100,000 articles), for the few that pass. A pair
    # found in two chunks (two shared bands) is verified twice, with the same verdict, kept once.
    stretch = max(1, _PAIRS_PER_CHUNK // config.max_bucket)
    found, pending, count = [], [], 0
    for start in range(1, len(keys) + 1, stretch):
        p_all = np.arange(start, min(start + stretch, len(keys)))
        for d in range(1, config.max_bucket + 1):
            p = p_all[p_all >= d]
            q = p - d
            ok = (run[p] == run[q]) & (times[article[p]] - times[article[q]] < ttl)
            if ok.any():
                pending.append(article[p][ok] * n + article[q][ok])
                count += len(pending[-1])
        if pending and (count >= _PAIRS_PER_CHUNK or start + stretch >= len(keys)):
            pairs = _distinct(np.concatenate(pending))
            found.append(pairs[verify_rows(stack, pairs // n, pairs % n, config.thresholds)])
            pending, count = [], 0
    pairs = _distinct(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)
    left, right = pairs // n, pairs % n
    split = np.searchsorted(left, np.arange(n + 1))
    return [right[split[i]:split[i + 1]] for i in range(n)]


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending: ``np.unique`` without its overhead (a sort of 100,000
    integers takes a twentieth of ``np.unique``'s time on them)."""
    values.sort()
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if len(values) else values


def _anchor_keys(stack: FingerprintStack) -> tuple[np.ndarray, np.ndarray]:
    """Every row's :func:`~transforms.syndication.anchor_keys` as 64-bit keys (equal pairs, equal
    keys), once per row, with the row of each, rows ascending (the arrival order of a bucket)."""
    if stack.sample_offsets is None or not len(stack.sample_values):
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    starts = stack.sample_offsets[:-1]
    pairs = np.maximum(np.minimum(np.diff(stack.sample_offsets), ANCHORS + 1) - 1, 0)
    owners = np.repeat(np.arange(len(starts)), pairs)
    first = np.repeat(starts, pairs) + (np.arange(pairs.sum()) - np.repeat(np.cumsum(pairs) - pairs, pairs))
    values = stack.sample_values.astype(np.uint64)
    keys = ((values[first] << np.uint64(32)) | values[first + 1]) * _BAND_MIX[0]
    keys ^= keys >> np.uint64(31)
    keys = (keys ^ _BAND_MIX[2]) * _BAND_MIX[1]
    order = np.lexsort((keys, owners))
    keys, owners = keys[order], owners[order]
    once = np.ones(len(keys), dtype=bool)
    once[1:] = (keys[1:] != keys[:-1]) | (owners[1:] != owners[:-1])
    return keys[once], owners[once]


def _lead_keys(stack: FingerprintStack) -> tuple[np.ndarray, np.ndarray]:
    """Every row's :func:`~transforms.syndication.lead_keys` as 64-bit keys (the headline's code,
    the first ``LEAD_KEY_SHINGLES`` lead values), with the row of each, rows ascending."""
    keys, owners = [], []
    n = len(stack)
    if stack.titles is not None:
        titled = np.flatnonzero(stack.titles != 0)
        k = (stack.titles[titled].astype(np.uint64) | (np.uint64(0x7E) << np.uint64(40))) * _BAND_MIX[1]
        keys.append((k ^ (k >> np.uint64(29))) * _BAND_MIX[3])
        owners.append(titled)
    if stack.lead_offsets is not None:
        starts, lengths = stack.lead_offsets[:-1], np.diff(stack.lead_offsets)
        led = np.flatnonzero((lengths >= LEAD_KEY_SHINGLES) & (stack.shingle_counts > 0))
        k = np.full(len(led), np.uint64(0x1E), dtype=np.uint64)
        for i in range(LEAD_KEY_SHINGLES):
            k = (k ^ stack.lead_values[starts[led] + i].astype(np.uint64)) * _BAND_MIX[(i + 2) % len(_BAND_MIX)]
            k ^= k >> np.uint64(31)
        keys.append(k)
        owners.append(led)
    if not keys:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    keys_all, owners_all = np.concatenate(keys), np.concatenate(owners).astype(np.int64)
    order = np.argsort(owners_all, kind="stable")
    return keys_all[order], owners_all[order]


def _seconds_micros(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)
