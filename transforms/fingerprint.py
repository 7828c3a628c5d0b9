"""Content fingerprints of clean article bodies, for finding syndicated copies of one story.

A body becomes a set of word 3-gram shingles, the set becomes a MinHash signature (datasketch,
``affine32`` scheme, fixed seed), and the signature is cut into LSH bands whose keys route an
article to the few earlier articles that could be copies of it. A candidate pair is then checked by
:func:`verify_pair` from the two signatures and shingle counts alone, so nothing but a
:class:`Fingerprint` (524 bytes for 128 permutations) needs to be held per article.

Stability: tokens, shingle hashes (SHA-1, datasketch's default), permutations (numpy's
``RandomState`` with a fixed seed) and band keys (BLAKE2b) do not depend on the process, the
machine or ``PYTHONHASHSEED``, so a signature computed on one worker matches one computed anywhere
else. ``tests/unit/test_fingerprint.py`` pins a golden signature so a library upgrade that changes
any of this fails loudly instead of silently splitting every story held in state.

Beam-facing surface: :func:`fingerprint_body` (stateless step), :func:`band_keys` (fan-out keys
for the per-band stateful step), :meth:`Fingerprint.to_bytes` / :meth:`Fingerprint.from_bytes`
(what the state holds) and :func:`verify_pair` (deciding a candidate pair).
"""

from __future__ import annotations

import hashlib
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import regex
from datasketch import MinHash

__all__ = [
    "DEFAULT_LSH",
    "DEFAULT_THRESHOLDS",
    "Fingerprint",
    "LSHParams",
    "MatchThresholds",
    "PairScore",
    "band_keys",
    "estimate_containment",
    "estimate_jaccard",
    "fingerprint_body",
    "match_rule",
    "score_pair",
    "tokenize",
    "verify_pair",
    "word_shingles",
]

SHINGLE_SIZE = 3
# Measured on the fixture corpus (pairs with Jaccard > 0.1): 64 permutations err by 0.088 at the
# 95th percentile, 128 by 0.083, 256 by 0.051 but cost 1.6x the time and twice the state. 128 keeps
# the error well inside the gaps between the thresholds at 0.7 ms per 600-word article.
NUM_PERM = 128
# Changing the seed (or the scheme) changes every signature: bump FORMAT_VERSION with it so state
# written under the old parameters is recognised as incompatible rather than compared wrongly.
MINHASH_SEED = 20240304
MINHASH_SCHEME = "affine32"
FORMAT_VERSION = 1

# Scripts written without spaces between words: each character is a token, so their "word
# 3-grams" are character 3-grams, which is the usual unit for near-duplicate detection there.
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_UNSPACED_CHAR = regex.compile(f"[{_UNSPACED}]")
_UNSPACED_PIECES = regex.compile(f"[{_UNSPACED}]|[^{_UNSPACED}]+")
# Letters, combining marks and digits: marks matter for Indic scripts, whose vowel signs are not
# "word" characters to the stdlib ``re`` and would shatter every word.
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+")
# Deleting apostrophes only ever joins two letters ("don't" -> "dont", "l'été" -> "lété"); anywhere
# else an apostrophe is a separator anyway, so the same deletion serves both cases.
_APOSTROPHES = ("'", "\u2019", "\u02bc")

_HEADER = struct.Struct("<BBHII")  # format version, reserved, num_perm, word_count, shingle_count


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` with punctuation removed.

    NFKC folds full-width and compatibility forms (``２０２４`` -> ``2024``), ``casefold`` lowers
    case beyond ASCII (``Straße`` -> ``strasse``). Digits are kept: numbers are often what tells
    two formulaic stories apart.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    for apostrophe in _APOSTROPHES:  # str.replace: several times faster than str.translate here
        folded = folded.replace(apostrophe, "")
    tokens = _TOKEN.findall(folded)
    if folded.isascii():
        return tokens
    split: list[str] = []
    for token in tokens:
        if token.isascii() or not _UNSPACED_CHAR.search(token):
            split.append(token)
        else:
            split.extend(_UNSPACED_PIECES.findall(token))
    return split


def word_shingles(text: str, size: int = SHINGLE_SIZE) -> set[str]:
    """The set of word ``size``-grams of ``text``, each as its tokens joined by one space.

    Shingles run across paragraph breaks, so an outlet that splits or joins paragraphs differently
    still produces the same set. A text with fewer than ``size`` tokens yields one shingle of all
    its tokens; an empty text yields the empty set.
    """
    return _shingles(tokenize(text), size)


def _shingles(tokens: list[str], size: int) -> set[str]:
    if size < 1:
        raise ValueError(f"shingle size must be at least 1, got {size}")
    if not tokens:
        return set()
    if len(tokens) < size:
        return {" ".join(tokens)}
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


@lru_cache(maxsize=8)
def _template(num_perm: int) -> MinHash:
    # Generating permutations costs more than hashing an article; build them once per process.
    return MinHash(num_perm=num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME)


@dataclass(frozen=True)
class Fingerprint:
    """MinHash signature of one body plus the counts needed to judge a match.

    ``signature`` holds ``num_perm`` little-endian uint32 values. ``shingle_count`` (exact set
    size) turns an estimated Jaccard into an estimated containment; ``word_count`` decides whether
    the stricter rules for short texts apply.
    """

    signature: bytes
    shingle_count: int
    word_count: int

    def __post_init__(self) -> None:
        if not self.signature or len(self.signature) % 4:
            raise ValueError(f"signature must be a non-empty multiple of 4 bytes, got {len(self.signature)}")
        if self.shingle_count < 0 or self.word_count < 0:
            raise ValueError("shingle_count and word_count must not be negative")

    @property
    def num_perm(self) -> int:
        return len(self.signature) // 4

    @property
    def values(self) -> np.ndarray:
        """The signature as a read-only uint32 array (no copy)."""
        return np.frombuffer(self.signature, dtype="<u4")

    @property
    def is_empty(self) -> bool:
        """True for a body without a single token; such a fingerprint never matches anything."""
        return self.shingle_count == 0

    def to_bytes(self) -> bytes:
        """Compact, versioned form for Beam state and coders: a 12-byte header plus the signature."""
        return _HEADER.pack(FORMAT_VERSION, 0, self.num_perm, self.word_count, self.shingle_count) + self.signature

    @classmethod
    def from_bytes(cls, data: bytes) -> "Fingerprint":
        """Inverse of :meth:`to_bytes`; raises ``ValueError`` saying what is wrong with ``data``."""
        if len(data) < _HEADER.size:
            raise ValueError(f"fingerprint too short: {len(data)} bytes, the header alone is {_HEADER.size}")
        version, _reserved, num_perm, word_count, shingle_count = _HEADER.unpack_from(data)
        if version != FORMAT_VERSION:
            raise ValueError(
                f"fingerprint format version {version} is not {FORMAT_VERSION}: it was written with other "
                "MinHash parameters and cannot be compared; recompute it from the article body"
            )
        expected = _HEADER.size + 4 * num_perm
        if len(data) != expected:
            raise ValueError(f"fingerprint of {num_perm} permutations must be {expected} bytes, got {len(data)}")
        return cls(bytes(data[_HEADER.size :]), shingle_count, word_count)


def fingerprint_body(body: str, num_perm: int = NUM_PERM) -> Fingerprint:
    """Fingerprint a clean body (plain text, paragraphs separated by newlines).

    Call it after boilerplate removal: site chrome left in the body would make unrelated stories of
    one site look alike, and the same story on two sites look different.
    """
    tokens = tokenize(body)
    shingles = _shingles(tokens, SHINGLE_SIZE)
    minhash = _template(num_perm).copy()
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    signature = minhash.hashvalues.astype("<u4", copy=False).tobytes()
    return Fingerprint(signature=signature, shingle_count=len(shingles), word_count=len(tokens))


@dataclass(frozen=True)
class LSHParams:
    """How a signature is cut into bands: ``bands`` x ``rows`` values, ``bands * rows <= num_perm``.

    Two texts with Jaccard ``s`` share at least one band with probability ``1 - (1 - s**rows)**bands``.
    Banding must find every pair :func:`verify_pair` could accept. The lowest such Jaccard comes from
    its containment rule: a copy half as long as the original with 80% of it inside has ``s`` of
    about 0.36. The default 42 x 3 (126 of 128 values) makes those candidates with P = 0.87, and
    P = 0.98 at ``s`` = 0.45, 0.996 at 0.5, while unrelated articles (``s`` = 0.02) meet with
    P = 0.0003, i.e. a few candidates per article against 10,000 held ones, each verified in
    microseconds. 32 x 4 would keep 10 fewer band entries per article but finds pairs at
    ``s`` = 0.36 with P = 0.42 only; 64 x 2 would turn half the pairs at ``s`` = 0.1 into candidates.
    """

    bands: int = 42
    rows: int = 3
    num_perm: int = NUM_PERM

    def __post_init__(self) -> None:
        if self.bands < 1 or self.rows < 1:
            raise ValueError("bands and rows must be positive")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"{self.bands} bands x {self.rows} rows need more than {self.num_perm} permutations")

    def candidate_probability(self, jaccard: float) -> float:
        """Probability that two texts of the given Jaccard similarity share a band."""
        return 1.0 - (1.0 - jaccard**self.rows) ** self.bands


DEFAULT_LSH = LSHParams()


def band_keys(fingerprint: Fingerprint, params: LSHParams = DEFAULT_LSH) -> tuple[bytes, ...]:
    """One 8-byte key per band: BLAKE2b of (format version, bands, rows, band index, band values).

    The band index keeps equal values in different bands apart; the parameters keep state written
    under other banding apart. An empty fingerprint has no keys: it must not meet every other empty
    body in one bucket.
    """
    if fingerprint.num_perm != params.num_perm:
        raise ValueError(f"fingerprint has {fingerprint.num_perm} permutations, LSH expects {params.num_perm}")
    if fingerprint.is_empty:
        return ()
    sig = fingerprint.signature
    width = 4 * params.rows
    keys = []
    for band in range(params.bands):
        h = hashlib.blake2b(digest_size=8, person=b"nw-lsh-band")
        h.update(struct.pack("<BHHH", FORMAT_VERSION, params.bands, params.rows, band))
        h.update(sig[band * width : (band + 1) * width])
        keys.append(h.digest())
    return tuple(keys)


def estimate_jaccard(a: Fingerprint, b: Fingerprint) -> float:
    """Share of equal signature positions: an unbiased estimate of the shingle sets' Jaccard."""
    if a.num_perm != b.num_perm:
        raise ValueError(f"cannot compare signatures of {a.num_perm} and {b.num_perm} permutations")
    if a.is_empty or b.is_empty:
        return 0.0
    return float(np.count_nonzero(a.values == b.values)) / a.num_perm


def estimate_containment(a: Fingerprint, b: Fingerprint, jaccard: float | None = None) -> float:
    """Estimated share of the smaller shingle set that lies in the larger one.

    With exact set sizes ``n_a``, ``n_b`` and ``J = |A & B| / |A | B|``, the intersection is
    ``J (n_a + n_b) / (1 + J)``; dividing by ``min(n_a, n_b)`` gives the containment. This needs
    no state beyond the signature, unlike keeping shingle hashes. Its error grows with the size
    ratio (roughly ``sd(J) * (n_a + n_b) / n_min``), which is why :func:`verify_pair` uses it only
    when the shorter text has at least ``min_length_ratio`` of the longer one's shingles. On the
    fixture corpus's same-story pairs within that ratio it is off the exact containment by 0.02 on
    average and 0.08 at worst, while keeping the shingle hashes instead would cost 4 bytes per
    shingle (2.4 kB for a 600-word article, against 524 bytes for the whole fingerprint).
    """
    if a.is_empty or b.is_empty:
        return 0.0
    j = estimate_jaccard(a, b) if jaccard is None else jaccard
    smaller = min(a.shingle_count, b.shingle_count)
    intersection = j * (a.shingle_count + b.shingle_count) / (1.0 + j)
    return min(1.0, intersection / smaller)


@dataclass(frozen=True)
class MatchThresholds:
    """When two fingerprints are copies of one story (defaults tuned on tests/fixtures/syndication;
    ``python -m tests.quality.check_syndication --sweep`` shows the margins).

    On that corpus the closest different-story pairs are a follow-up reusing half of the first
    story's text (Jaccard 0.31, containment 0.55) and two template earthquake briefs (Jaccard 0.61);
    same-story pairs that no rule accepts directly still join through a third copy.

    - ``jaccard``: full copies, whatever was edited at the edges.
    - ``containment`` with ``min_length_ratio``: trimmed copies (the shorter text is mostly inside
      the longer one); the ratio guard keeps the estimate in the range where it is accurate, and
      stops a long story from absorbing a brief that merely shares a stock paragraph.
    - ``short_words`` / ``short_jaccard``: if the shorter text has fewer words than ``short_words``,
      only a near-identical text matches. A brief of two or three sentences has some 30-80
      shingles, and briefs of one kind are written from a template ("A magnitude 5.1 earthquake
      struck ... There were no immediate reports of damage"): one shared stock sentence is already
      a third of such a text, so containment says nothing and even Jaccard needs a higher bar.
      Republished briefs score 0.8-1.0 (same body, or one figure restyled); template briefs about
      different events reach 0.65, so the bar sits at 0.75.
    - ``min_words``: below this, a text is a headline-like fragment with too little wording to
      attribute it to a story ("More to follow."); it keeps a cluster of its own.
    """

    jaccard: float = 0.5
    containment: float = 0.8
    min_length_ratio: float = 0.5
    short_words: int = 80
    short_jaccard: float = 0.75
    min_words: int = 8

    def __post_init__(self) -> None:
        for name in ("jaccard", "containment", "min_length_ratio", "short_jaccard"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.min_words < 1 or self.short_words < self.min_words:
            raise ValueError("need 1 <= min_words <= short_words")


DEFAULT_THRESHOLDS = MatchThresholds()


@dataclass(frozen=True)
class PairScore:
    """The evidence :func:`verify_pair` decides on, exposed for diagnostics and tuning."""

    jaccard: float
    containment: float
    length_ratio: float
    shorter_words: int


def score_pair(a: Fingerprint, b: Fingerprint) -> PairScore:
    """Estimated Jaccard, containment of the smaller in the larger, shingle-count ratio and the
    word count of the shorter text. Symmetric in ``a`` and ``b``."""
    j = estimate_jaccard(a, b)
    larger = max(a.shingle_count, b.shingle_count)
    ratio = min(a.shingle_count, b.shingle_count) / larger if larger else 0.0
    return PairScore(
        jaccard=j,
        containment=estimate_containment(a, b, j),
        length_ratio=ratio,
        shorter_words=min(a.word_count, b.word_count),
    )


def match_rule(score: PairScore, thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> str | None:
    """Which rule accepts a scored pair: ``"short"``, ``"jaccard"``, ``"containment"``, or None."""
    if score.shorter_words < thresholds.min_words:
        return None
    if score.shorter_words < thresholds.short_words:
        return "short" if score.jaccard >= thresholds.short_jaccard else None
    if score.jaccard >= thresholds.jaccard:
        return "jaccard"
    if score.length_ratio >= thresholds.min_length_ratio and score.containment >= thresholds.containment:
        return "containment"
    return None


def verify_pair(a: Fingerprint, b: Fingerprint, thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> bool:
    """Decide whether two articles carry the same story (symmetric, so arrival order cannot matter)."""
    if a.is_empty or b.is_empty:
        return False
    return match_rule(score_pair(a, b), thresholds) is not None
