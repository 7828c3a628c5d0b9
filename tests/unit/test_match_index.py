"""MatchIndex finds exactly the matches of the plain rule it implements: every held article that
shares a bucket (the latest ``max_bucket`` of each) with the newcomer, first seen within the TTL of
it, that :func:`verify_pair` accepts. The reference below is that rule written out one candidate at
a time, as the index did before it worked on arrays of rows."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest

from benchmarks.bench_match_growth import prepared, run_bodies
from tests.quality.syndication_corpus import CORPUS_PATH, load_corpus
from transforms.syndication import (
    DEFAULT_LSH,
    DEFAULT_THRESHOLDS,
    Fingerprint,
    FingerprintStack,
    MatchIndex,
    band_keys,
    fingerprint_bodies,
    signature_bound,
    verify_many,
    verify_pair,
)
from transforms.syndication.clustering import _epoch_micros
from transforms.syndication.fingerprint import _sample_gate, _verdicts


class ReferenceIndex:
    def __init__(self, ttl: timedelta, max_bucket: int) -> None:
        self.ttl = ttl // timedelta(microseconds=1)
        self.max_bucket = max_bucket
        self.buckets: dict[bytes, list[str]] = {}
        self.held: dict[str, tuple[int, Fingerprint, tuple[bytes, ...]]] = {}

    def candidates(self, seen: int, keys) -> list[str]:
        found = {a for key in keys for a in self.buckets.get(key, ())}
        return sorted(a for a in found if abs(self.held[a][0] - seen) < self.ttl)

    def matches(self, article_id: str, seen: int, fingerprint: Fingerprint, keys) -> tuple[str, ...]:
        if article_id in self.held:
            return ()
        return tuple(a for a in self.candidates(seen, keys) if verify_pair(fingerprint, self.held[a][1]))

    def insert(self, article_id: str, seen: int, fingerprint: Fingerprint, keys) -> None:
        if article_id in self.held:
            return
        self.held[article_id] = (seen, fingerprint, keys)
        for key in keys:
            bucket = self.buckets.setdefault(key, [])
            bucket.append(article_id)
            del bucket[:-self.max_bucket]

    def remove(self, article_ids) -> None:
        for article_id in article_ids:
            _, _, keys = self.held.pop(article_id)
            for key in keys:
                bucket = self.buckets.get(key, [])
                if article_id in bucket:  # else dropped from it as the bucket filled
                    bucket.remove(article_id)
                if not bucket:
                    self.buckets.pop(key, None)

    def expired(self, watermark: int) -> list[str]:
        return [a for a, (seen, _, _) in self.held.items() if seen + self.ttl <= watermark]


def _bench_articles(n: int):
    """The match_growth benchmark's articles, with whole and trimmed copies of earlier ones."""
    bodies = run_bodies(n)
    rng = random.Random(3)
    for i in range(40, n, 37):
        paragraphs = bodies[rng.randrange(i)].split("\n\n")
        bodies[i] = "\n\n".join(paragraphs if i % 2 else paragraphs[: 2 + i % 3])
    return prepared(bodies)


def _fixture_articles(seed: int):
    items = load_corpus() + load_corpus(CORPUS_PATH.with_name("hard_copies.yaml"))
    items.sort(key=lambda i: (i.first_seen, i.article_id))
    random.Random(seed).shuffle(items)
    stack = fingerprint_bodies([i.body for i in items])
    out = []
    for k, item in enumerate(items):
        fingerprint = stack.fingerprint(k).with_agency(item.agency)
        out.append((item.article_id, _epoch_micros(item.first_seen), fingerprint, band_keys(fingerprint, DEFAULT_LSH)))
    return out


def _same_as_reference(articles, ttl: timedelta, max_bucket: int, expire_every: int) -> int:
    index, reference = MatchIndex(ttl=ttl, max_bucket=max_bucket), ReferenceIndex(ttl, max_bucket)
    matched = 0
    for k, (article_id, seen, fingerprint, keys) in enumerate(articles):
        assert index.candidates(seen, keys) == reference.candidates(seen, keys), article_id
        found = index.matches(article_id, seen, fingerprint, keys)
        assert found == reference.matches(article_id, seen, fingerprint, keys), article_id
        matched += len(found)
        index.insert(article_id, seen, fingerprint, keys)
        reference.insert(article_id, seen, fingerprint, keys)
        if expire_every and k % expire_every == 0:
            gone = index.expired(seen)
            assert sorted(gone) == sorted(reference.expired(seen))
            index.remove(gone)
            reference.remove(gone)
        assert len(index) == len(reference.held)
    return matched


@pytest.mark.parametrize("ttl, max_bucket, expire_every", [
    (timedelta(hours=72), 8, 0),
    (timedelta(minutes=20), 3, 50),  # rows freed and reused, buckets emptied
    (timedelta(minutes=40), 1, 29),
])
def test_the_benchmark_articles_match_as_the_plain_rule_says(ttl, max_bucket, expire_every):
    assert _same_as_reference(_bench_articles(1500), ttl, max_bucket, expire_every) > 20


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ttl, max_bucket", [(timedelta(hours=72), 8), (timedelta(hours=6), 2)])
def test_the_syndication_fixtures_match_as_the_plain_rule_says(seed, ttl, max_bucket):
    assert _same_as_reference(_fixture_articles(seed), ttl, max_bucket, 7) > 20


def test_a_held_article_is_not_matched_again_and_a_pickled_index_goes_on_alike():
    import pickle

    articles = _bench_articles(400)
    index = MatchIndex(ttl=timedelta(minutes=5))
    for article_id, seen, fingerprint, keys in articles[:300]:
        index.insert(article_id, seen, fingerprint, keys)
    index.remove(index.expired(articles[299][1]))
    copy = pickle.loads(pickle.dumps(index))
    assert index.matches(*articles[10]) == ()
    for article in articles[300:]:
        assert copy.matches(*article) == index.matches(*article)
        copy.insert(*article)
        index.insert(*article)


def test_the_low_byte_bound_never_rules_out_what_verify_many_could_accept():
    articles = _bench_articles(1200)
    stack = FingerprintStack.of([a[2] for a in articles])
    low = stack.signatures.astype(np.uint8)
    for article_id, seen, fingerprint, keys in articles[::40]:
        possible = signature_bound(fingerprint, low, stack.shingle_counts, stack.word_counts)
        j = np.count_nonzero(stack.signatures == fingerprint.values, axis=1) / fingerprint.num_perm
        sizes = (float(fingerprint.shingle_count), stack.shingle_counts, fingerprint.word_count, stack.word_counts)
        reachable = _verdicts(j, *sizes, DEFAULT_THRESHOLDS) | _sample_gate(j, *sizes, DEFAULT_THRESHOLDS)
        assert not np.any(reachable & ~possible)
        assert not np.any(verify_many(fingerprint, stack) & ~possible)
        assert possible.sum() < len(possible) // 2  # it does rule most out
