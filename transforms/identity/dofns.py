"""Beam wrappers of identity: units keyed by article, repeats dropped and versions numbered."""

from __future__ import annotations

from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration

from transforms import coders  # noqa: F401 - registers the unit's coder
from transforms.model import Unit

from .versions import VersionState, next_version


def unit_key(unit: Unit) -> str:
    """Dedup key: the article's id, or the message id for a unit without an article."""
    article = unit.article
    return article["article_id"] if article else "message:" + unit.message_id


class _VersionCounters:
    def __init__(self) -> None:
        self.duplicates = Metrics.counter("newswire", "duplicates")
        self.versions = Metrics.counter("newswire", "new_versions")

    def count(self, out: Unit) -> None:
        if out.article is None:
            self.duplicates.inc()
        elif out.article["version"] > 1:
            self.versions.inc()


class DedupVersionsStateful(beam.DoFn):
    """Streaming: keyed by ``unit_key``, drop a repeat of seen content and number new content.

    State is kept for ``ttl_seconds`` of event time after the article was last seen (default 7 days:
    feeds keep items for days, and corrections arrive within that window; a repeat after the TTL
    is still caught by the warehouse sink, which checks content hashes before it inserts).
    """

    SEEN = ReadModifyWriteStateSpec("seen", PickleCoder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, ttl_seconds: int) -> None:
        self.ttl = Duration(seconds=ttl_seconds)
        self.counters = _VersionCounters()

    def process(self, element, ts=beam.DoFn.TimestampParam,
                seen=beam.DoFn.StateParam(SEEN), expiry=beam.DoFn.TimerParam(EXPIRY)):
        _, unit = element
        state = seen.read() or VersionState()
        out = next_version(state, unit)
        if out is None:
            yield unit
            return
        self.counters.count(out)
        if out.article is not None:
            seen.write(state)
            expiry.set(ts + self.ttl)
        yield out

    @on_timer(EXPIRY)
    def expire(self, seen=beam.DoFn.StateParam(SEEN)):
        seen.clear()


class _DedupGroup(beam.DoFn):
    """Batch: the same rule over one article's whole group, in fetch order."""

    def __init__(self) -> None:
        self.counters = _VersionCounters()

    def process(self, element):
        _, units = element
        state = VersionState()
        order = sorted(units, key=lambda u: (u.article["fetched_at"] if u.article else _EPOCH, u.message_id))
        for unit in order:
            out = next_version(state, unit)
            if out is None:
                yield unit
                continue
            self.counters.count(out)
            yield out


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class DedupVersions(beam.PTransform):
    """Keyed units → units with repeats dropped and versions numbered.

    Streaming uses a stateful DoFn with a TTL timer. A batch job sees all of an article's items at
    once, so it groups them instead: the same rule (``next_version``), without per-element state
    writes, which the batch engine's state cache makes expensive (it sizes every value it caches).
    """

    def __init__(self, ttl_seconds: int, *, streaming: bool) -> None:
        super().__init__()
        self.ttl_seconds = ttl_seconds
        self.streaming = streaming

    def expand(self, keyed):
        if self.streaming:
            return keyed | "Stateful" >> beam.ParDo(DedupVersionsStateful(self.ttl_seconds))
        return keyed | "Group" >> beam.GroupByKey() | "Versions" >> beam.ParDo(_DedupGroup())
