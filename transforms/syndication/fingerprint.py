"""Content fingerprints of clean article bodies, for finding syndicated copies of one story.

A body becomes a set of word 3-gram shingles, the set becomes a MinHash signature (datasketch's
``affine32`` scheme and permutations, fixed seed), and the signature is cut into LSH bands whose
keys route an article to the few earlier articles that could be copies of it. A candidate pair is
then checked by :func:`verify_pair` from the two signatures and shingle counts alone, so nothing but
a :class:`Fingerprint` (524 bytes for 128 permutations) needs to be held per article.

Shingle hashes (format 2): a token's hash is a polynomial hash of its UTF-8 bytes (mod 2**64,
then MurmurHash3's 64-bit finalizer), and a 3-gram's hash combines its three token hashes
(multiply by a per-position odd constant, XOR, the finalizer again). Both are computed with array
operations over the bytes of many texts at once (:func:`fingerprint_bodies`), without a Python
object per token. The signature is exactly datasketch's ``MinHash(seed, scheme="affine32")`` fed
those hashes' upper 32 bits (``tests/unit/test_fingerprint.py`` checks it against datasketch with a
pure-Python reference of the shingle hash). Hashing every 3-gram string with SHA-1, datasketch's
default (format 1), gives estimates as good at three to four times the cost, which the batch job's
throughput floor could not afford.

Stability: tokens, shingle hashes, permutations (numpy's ``RandomState`` with a fixed seed) and
band keys (BLAKE2b) do not depend on the process, the machine or ``PYTHONHASHSEED``, so a signature
computed on one worker matches one computed anywhere else. ``tests/unit/test_fingerprint.py`` pins
a golden signature so a library upgrade that changes any of this fails loudly instead of silently
splitting every story held in state.

Beam-facing surface: :func:`fingerprint_body` (stateless step), :func:`band_keys` (fan-out keys
for the per-band stateful step), :meth:`Fingerprint.to_bytes` / :meth:`Fingerprint.from_bytes`
(what the state holds) and :func:`verify_pair` (deciding a candidate pair).
"""

from __future__ import annotations

import bisect
import hashlib
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import regex

__all__ = [
    "DEFAULT_LSH",
    "DEFAULT_THRESHOLDS",
    "Fingerprint",
    "FingerprintStack",
    "LSHParams",
    "agency_code",
    "anchor_keys",
    "lead_keys",
    "lead_match",
    "title_code",
    "sample_match",
    "MatchThresholds",
    "PairScore",
    "band_keys",
    "estimate_containment",
    "estimate_jaccard",
    "fingerprint_bodies",
    "fingerprint_body",
    "match_rule",
    "score_pair",
    "signature_bound",
    "tokenize",
    "verify_many",
    "verify_pair",
    "verify_rows",
    "word_shingles",
]

SHINGLE_SIZE = 3
# Measured on the fixture corpus (pairs with Jaccard > 0.1): 64 permutations err by 0.088 at the
# 95th percentile, 128 by 0.083, 256 by 0.051 but cost 1.6x the time and twice the state. 128 keeps
# the error well inside the gaps between the thresholds at 0.35 ms per 600-word article (0.25 ms in
# a batch).
NUM_PERM = 128
# Changing the seed (or the scheme) changes every signature: bump FORMAT_VERSION with it so state
# written under the old parameters is recognised as incompatible rather than compared wrongly.
MINHASH_SEED = 20240304
MINHASH_SCHEME = "affine32"
FORMAT_VERSION = 2
# Serialised fingerprints that carry a shingle sample or an agency (below) are format 3; one with
# neither is written as format 2, byte for byte what earlier releases wrote and still read. Band
# keys carry FORMAT_VERSION, the signature's: the sample does not change them.
SAMPLED_FORMAT_VERSION = 3
# Format 4 adds the lead and the headline's code after format 3's sample.
LEAD_FORMAT_VERSION = 4

# The shingle sample: every shingle whose hash is 0 modulo SAMPLE_RATE, in text order (first
# occurrence), at most MAX_SAMPLE of them, as the upper 32 bits of the hash. Chosen by hash, not by
# position, so two copies sample the same shingles wherever the copies differ: a shingle shared by
# both is in both samples or in neither. That makes the share of a short copy's sample found in a
# long one an unbiased estimate of containment, exact in the shingles shared, at any length ratio,
# which the MinHash estimate is not (its error grows with the ratio). One in four keeps ~40 values
# in a 150-word trimmed copy (containment within about 0.07) for 4 bytes each; 256 values cover
# the first ~1,000 words, where a trimmed copy's text lies.
SAMPLE_RATE = 4
MAX_SAMPLE = 256
# Consecutive sample pairs of the lead that become candidate keys besides the LSH bands (see
# anchor_keys): copies trimmed to a few paragraphs share their lead, not enough of the whole to
# meet in a band.
ANCHORS = 24
# The lead: the first LEAD 3-gram hashes of the body, every one, in text order (upper 32 bits, as
# the sample's). A teaser (an outlet's first sentence or two of the story, 10 to 50 words) has one
# to a dozen sample values, too few for the sample rule to tell a copy from a coincidence, but its
# whole text is inside the full story's lead: the lead rule compares the two leads exactly (see
# lead_match). 48 values cover a teaser of 50 words for 192 bytes, a sixth of a fingerprint.
LEAD = 48
# The longer text's lead must carry the teaser from its opening: the first 3-gram they share at
# most this far in (a dateline or a place name before the first sentence), never a later paragraph
# (a follow-up repeating yesterday's first sentence as its background).
LEAD_OFFSET = 8
# Candidate keys besides the bands and anchors, for teasers that share no band and too few sample
# values for an anchor: the body's first LEAD_KEY_SHINGLES 3-grams (its first words), and the
# headline folded as the body is (an aggregator's teaser keeps the headline; see title_code).
LEAD_KEY_SHINGLES = 3
TITLE_MIN_TOKENS = 4

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
_SAMPLED = struct.Struct("<HH")  # format 3 adds: agency code, sample length (then the sample)
_LEAD = struct.Struct("<IH")  # format 4 adds: title code, lead length (then the lead)


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


# In folded ASCII text the tokens are exactly the runs of [a-z0-9]: every other byte becomes a space.
_ASCII_SEPARATORS = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789" else 0x20 for c in range(256))
_SPACE = 0x20


def _token_buffer(text: str) -> bytes:
    """The text's tokens (as :func:`tokenize` finds them) in UTF-8, separated by single spaces or
    runs of them: tokens are then the maximal runs of non-space bytes."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    for apostrophe in _APOSTROPHES:
        folded = folded.replace(apostrophe, "")
    if folded.isascii():
        return folded.encode("ascii").translate(_ASCII_SEPARATORS)
    return " ".join(tokenize(text)).encode("utf-8")


_U64 = np.uint64
_MASK64 = (1 << 64) - 1
# Token hash: sum of (byte + 1) * P**k over the token's bytes, mod 2**64, then fmix64. Computed for
# all tokens of many texts at once from prefix sums, with P**-k undoing each token's offset.
_P = 0x100000001B3 * 0x9E3779B97F4A7C15 & _MASK64 | 1
_P_INVERSE = pow(_P, -1, 1 << 64)
# One odd multiplier per position in the 3-gram, so that reordered words hash differently.
_POSITION = tuple(_U64(m) for m in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9))
_FMIX64 = (_U64(33), _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53))
# MurmurHash3's 32-bit finalizer, which datasketch's affine32 scheme applies before permuting.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
# Bytes hashed, and (shingle x permutation) values computed, at once: bounds the arrays to ~8 MB.
_CHUNK_BYTES = 1 << 20
_CHUNK_ROWS = 16384


def _fmix64(h: np.ndarray) -> np.ndarray:
    shift, m1, m2 = _FMIX64
    h ^= h >> shift
    h *= m1
    h ^= h >> shift
    h *= m2
    h ^= h >> shift
    return h


@lru_cache(maxsize=4)
def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """P**k and P**-k mod 2**64 for k < length (cumulative products wrap like the arithmetic)."""
    def run(base: int) -> np.ndarray:
        steps = np.full(length, _U64(base), dtype=np.uint64)
        steps[0] = 1
        return np.cumprod(steps, dtype=np.uint64)

    return run(_P), run(_P_INVERSE)


def _token_hashes(buffers: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(hash of every token, index of the buffer it is in), in order, for buffers from
    :func:`_token_buffer`."""
    joined = b" ".join(buffers)
    if not joined:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    buf = np.frombuffer(joined, dtype=np.uint8)
    in_token = buf != _SPACE
    edges = np.diff(in_token.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    powers, inverse = _powers(1 << max(16, (len(buf) - 1).bit_length()))
    prefix = np.empty(len(buf) + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum((buf.astype(np.uint64) + _U64(1)) * powers[: len(buf)], out=prefix[1:])
    hashes = _fmix64((prefix[ends] - prefix[starts]) * inverse[starts])
    offsets = np.cumsum([0] + [len(b) + 1 for b in buffers[:-1]])
    owners = np.searchsorted(offsets, starts, side="right") - 1
    return hashes, owners


def fingerprint_bodies(bodies: list[str], num_perm: int = NUM_PERM) -> "FingerprintStack":
    """:func:`fingerprint_body` of many bodies at once, as arrays (row ``i`` is ``bodies[i]``).

    Tokenising is one pass per body in C (``bytes.translate``); everything after it runs over all
    bodies together, so a batch costs a few array operations instead of a few per body.
    """
    n = len(bodies)
    signatures = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    shingle_counts = np.zeros(n, dtype=np.int64)
    word_counts = np.zeros(n, dtype=np.int64)
    sample_counts = np.zeros(n, dtype=np.int64)
    lead_counts = np.zeros(n, dtype=np.int64)
    samples: list[np.ndarray] = []
    leads: list[np.ndarray] = []
    buffers = [_token_buffer(body) for body in bodies]
    # One (permutations x shingles) work array for every chunk: allocating it afresh each time
    # costs page faults that, in a busy process, outweigh the arithmetic.
    scratch: list[np.ndarray] = []
    first = 0
    while first < n:  # chunks of about _CHUNK_BYTES of text
        last, size = first, 0
        while last < n and (last == first or size + len(buffers[last]) <= _CHUNK_BYTES):
            size += len(buffers[last]) + 1
            last += 1
        sample, lead = _fingerprint_chunk(buffers[first:last], num_perm, signatures[first:last],
                                          shingle_counts[first:last], word_counts[first:last],
                                          sample_counts[first:last], lead_counts[first:last], scratch)
        samples.append(sample)
        leads.append(lead)
        first = last
    values = np.concatenate(samples) if samples else np.empty(0, dtype=np.uint32)
    offsets = np.concatenate([[0], np.cumsum(sample_counts)]).astype(np.int64)
    lead_values = np.concatenate(leads) if leads else np.empty(0, dtype=np.uint32)
    lead_offsets = np.concatenate([[0], np.cumsum(lead_counts)]).astype(np.int64)
    return FingerprintStack(signatures, shingle_counts.astype(np.float64), word_counts, values, offsets,
                            np.zeros(n, dtype=np.int64), lead_values, lead_offsets, np.zeros(n, dtype=np.int64))


def _lead(h: np.ndarray, who: np.ndarray, n: int, counts: np.ndarray) -> np.ndarray:
    """The lead (``LEAD``) of every body from its 3-gram hashes in text order: its first ``LEAD``
    hashes' upper 32 bits, repeats included; fills ``counts`` with each body's lead length."""
    starts = np.searchsorted(who, np.arange(n))
    keep = (np.arange(len(who)) - starts[who]) < LEAD
    counts[:] = np.bincount(who[keep], minlength=n)
    return (h[keep] >> _U64(32)).astype(np.uint32)


def _sample(h: np.ndarray, who: np.ndarray, n: int, counts: np.ndarray) -> np.ndarray:
    """The sample (module doc) of every body from its 3-gram hashes in text order; fills
    ``counts`` with each body's sample length and returns the values, body after body."""
    chosen = (h & _U64(SAMPLE_RATE - 1)) == 0
    values = (h[chosen] >> _U64(32)).astype(np.uint32)
    owners = who[chosen]
    _, first = np.unique((owners.astype(np.uint64) << _U64(32)) | values, return_index=True)
    first.sort()  # first occurrences, back in text order (owners ascend with it)
    values, owners = values[first], owners[first]
    starts = np.searchsorted(owners, np.arange(n))
    rank = np.arange(len(owners)) - starts[owners]
    keep = rank < MAX_SAMPLE
    counts[:] = np.bincount(owners[keep], minlength=n)
    return values[keep]


def _fingerprint_chunk(buffers: list[bytes], num_perm: int, signatures: np.ndarray,
                       shingle_counts: np.ndarray, word_counts: np.ndarray, sample_counts: np.ndarray,
                       lead_counts: np.ndarray, scratch: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    th, owner = _token_hashes(buffers)
    n = len(buffers)
    counts = np.bincount(owner, minlength=n)
    word_counts[:] = counts
    p0, p1, p2 = _POSITION
    parts, owners = [], []
    if len(th) >= SHINGLE_SIZE:
        inside = owner[:-2] == owner[2:]  # the 3-gram starting here ends in the same body
        parts.append(((th[:-2] * p0) ^ (th[1:-1] * p1) ^ (th[2:] * p2))[inside])
        owners.append(owner[:-2][inside])
    starts = np.cumsum(counts) - counts
    for count in (1, 2):  # a body shorter than a shingle: one shingle of all its tokens
        short = np.flatnonzero(counts == count)
        if len(short):
            h = th[starts[short]] * p0
            if count == 2:
                h ^= th[starts[short] + 1] * p1
            parts.append(h)
            owners.append(short)
    if not parts:
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.uint32)
    h, who = _fmix64(np.concatenate(parts)), np.concatenate(owners)
    in_order = len(parts[0]) if len(th) >= SHINGLE_SIZE else 0  # the 3-grams, in text order
    sample = _sample(h[:in_order], who[:in_order], n, sample_counts)
    lead = _lead(h[:in_order], who[:in_order], n, lead_counts)
    if len(parts) > 1:  # the short bodies' shingles were appended after the others
        order = np.argsort(who, kind="stable")
        h, who = h[order], who[order]
    for segment in np.split(h, np.flatnonzero(np.diff(who)) + 1):
        segment.sort()  # in place, body by body: cheaper than one sort by (body, hash)
    distinct = np.ones(len(h), dtype=bool)
    distinct[1:] = (h[1:] != h[:-1]) | (who[1:] != who[:-1])
    h, who = h[distinct], who[distinct]
    shingle_counts[:] = np.bincount(who, minlength=n)
    hv = (h >> _U64(32)).astype(np.uint32)
    s1, m1, s2, m2, s3 = _FMIX32
    hv ^= hv >> s1
    hv *= m1
    hv ^= hv >> s2
    hv *= m2
    hv ^= hv >> s3
    a, b = _permutations(num_perm)
    with_shingles = np.flatnonzero(shingle_counts)
    offsets = np.concatenate([[0], np.cumsum(shingle_counts[with_shingles])])
    i = 0
    while i < len(with_shingles):
        j = max(int(np.searchsorted(offsets, offsets[i] + _CHUNK_ROWS, side="right")) - 1, i + 1)
        lo, hi = offsets[i], offsets[j]
        # Permutations along rows, so that each body's shingles are contiguous for reduceat.
        if not scratch or scratch[0].shape[1] < hi - lo:
            scratch[:] = [np.empty((num_perm, max(hi - lo, min(_CHUNK_ROWS, len(hv)))), dtype=np.uint32)]
        permuted = scratch[0][:, : hi - lo]
        np.multiply.outer(a, hv[lo:hi], out=permuted)
        permuted += b[:, None]
        signatures[with_shingles[i:j]] = np.minimum.reduceat(permuted, offsets[i:j] - lo, axis=1).T
        i = j
    return sample, lead


@lru_cache(maxsize=8)
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` of ``datasketch.MinHash(num_perm, seed=MINHASH_SEED, scheme="affine32")``:
    odd 32-bit multipliers and 32-bit offsets drawn from numpy's ``RandomState(MINHASH_SEED)``, in
    datasketch's order (``tests/unit/test_fingerprint.py`` compares them). Drawn here rather than
    taken from a MinHash: importing datasketch imports scipy, a second or two of every process's
    start-up. Built once per process; drawing them costs more than hashing an article."""
    gen = np.random.RandomState(MINHASH_SEED)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def agency_code(agency: str | None) -> int:
    """A 16-bit code of an agency slug (0: none), as fingerprints carry it: two copies attributed
    to different agencies are two reports, not copies (see :func:`sample_match`). Codes of two
    slugs collide with probability 1/65535, which only leaves that one check out for them."""
    if not agency:
        return 0
    return int.from_bytes(hashlib.blake2b(agency.encode("utf-8"), digest_size=2, person=b"nw-agency").digest(),
                          "little") or 1


def title_code(title: str | None) -> int:
    """A 32-bit code of a headline's tokens (folded as :func:`tokenize` folds a body), 0 for none or
    for a headline under ``TITLE_MIN_TOKENS`` tokens ("Weather", "Markets today" name no story).
    Only a candidate key: two stories under one headline meet, and verification keeps them apart."""
    if not title:
        return 0
    tokens = tokenize(title)
    if len(tokens) < TITLE_MIN_TOKENS:
        return 0
    return int.from_bytes(hashlib.blake2b(" ".join(tokens).encode("utf-8"), digest_size=4,
                                          person=b"nw-title").digest(), "little") or 1


@dataclass(frozen=True)
class Fingerprint:
    """MinHash signature of one body plus the counts needed to judge a match.

    ``signature`` holds ``num_perm`` little-endian uint32 values. ``shingle_count`` (exact set
    size) turns an estimated Jaccard into an estimated containment; ``word_count`` decides whether
    the stricter rules for short texts apply. ``sample`` (little-endian uint32 values, see
    ``SAMPLE_RATE``) and ``agency`` (:func:`agency_code` of the copy's agency, 0 if unknown) feed
    the containment rule of :func:`sample_match`; a fingerprint without a sample (written by an
    older release) is judged by the signature alone. ``lead`` (the first ``LEAD`` 3-gram hashes,
    little-endian uint32) feeds :func:`lead_match`, and ``title`` (:func:`title_code` of the
    headline, 0 if none) is one more candidate key; a fingerprint written before them has neither.
    """

    signature: bytes
    shingle_count: int
    word_count: int
    sample: bytes = b""
    agency: int = 0
    lead: bytes = b""
    title: int = 0

    def __post_init__(self) -> None:
        if not self.signature or len(self.signature) % 4:
            raise ValueError(f"signature must be a non-empty multiple of 4 bytes, got {len(self.signature)}")
        if self.shingle_count < 0 or self.word_count < 0:
            raise ValueError("shingle_count and word_count must not be negative")
        if len(self.sample) % 4 or len(self.sample) > 4 * 0xFFFF:
            raise ValueError(f"sample must be a multiple of 4 bytes below 256 kB, got {len(self.sample)}")
        if not 0 <= self.agency <= 0xFFFF:
            raise ValueError(f"agency code must fit 16 bits, got {self.agency}")
        if len(self.lead) % 4 or len(self.lead) > 4 * 0xFFFF:
            raise ValueError(f"lead must be a multiple of 4 bytes below 256 kB, got {len(self.lead)}")
        if not 0 <= self.title <= 0xFFFFFFFF:
            raise ValueError(f"title code must fit 32 bits, got {self.title}")

    @property
    def num_perm(self) -> int:
        return len(self.signature) // 4

    @property
    def values(self) -> np.ndarray:
        """The signature as a read-only uint32 array (no copy)."""
        return np.frombuffer(self.signature, dtype="<u4")

    @property
    def sample_values(self) -> np.ndarray:
        """The shingle sample in text order, as a read-only uint32 array (no copy)."""
        return np.frombuffer(self.sample, dtype="<u4")

    @property
    def lead_values(self) -> np.ndarray:
        """The lead's 3-gram hashes in text order, as a read-only uint32 array (no copy)."""
        return np.frombuffer(self.lead, dtype="<u4")

    @property
    def is_empty(self) -> bool:
        """True for a body without a single token; such a fingerprint never matches anything."""
        return self.shingle_count == 0

    def with_agency(self, agency: str | None) -> "Fingerprint":
        """This fingerprint for a copy attributed to ``agency`` (a slug, or None)."""
        code = agency_code(agency)
        return self if code == self.agency else replace(self, agency=code)

    def with_title(self, title: str | None) -> "Fingerprint":
        """This fingerprint for a copy headlined ``title`` (its :func:`title_code` is a candidate key)."""
        code = title_code(title)
        return self if code == self.title else replace(self, title=code)

    def to_bytes(self) -> bytes:
        """Compact, versioned form for Beam state and coders: a 12-byte header plus the signature,
        then (format 3) the agency code, the sample length and the sample, then (format 4) the title
        code, the lead length and the lead."""
        if not self.sample and not self.agency and not self.lead and not self.title:
            return _HEADER.pack(FORMAT_VERSION, 0, self.num_perm, self.word_count, self.shingle_count) + self.signature
        sampled = self.signature + _SAMPLED.pack(self.agency, len(self.sample) // 4) + self.sample
        if not self.lead and not self.title:
            return _HEADER.pack(SAMPLED_FORMAT_VERSION, 0, self.num_perm, self.word_count, self.shingle_count) + sampled
        return (_HEADER.pack(LEAD_FORMAT_VERSION, 0, self.num_perm, self.word_count, self.shingle_count)
                + sampled + _LEAD.pack(self.title, len(self.lead) // 4) + self.lead)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Fingerprint":
        """Inverse of :meth:`to_bytes`; raises ``ValueError`` saying what is wrong with ``data``."""
        if len(data) < _HEADER.size:
            raise ValueError(f"fingerprint too short: {len(data)} bytes, the header alone is {_HEADER.size}")
        version, _reserved, num_perm, word_count, shingle_count = _HEADER.unpack_from(data)
        if version not in (FORMAT_VERSION, SAMPLED_FORMAT_VERSION, LEAD_FORMAT_VERSION):
            raise ValueError(
                f"fingerprint format version {version} is not {FORMAT_VERSION}, {SAMPLED_FORMAT_VERSION} or "
                f"{LEAD_FORMAT_VERSION}: it "
                "was written with other MinHash parameters and cannot be compared; recompute it from the "
                "article body"
            )
        end = _HEADER.size + 4 * num_perm
        if version == FORMAT_VERSION:
            if len(data) != end:
                raise ValueError(f"fingerprint of {num_perm} permutations must be {end} bytes, got {len(data)}")
            return cls(bytes(data[_HEADER.size:]), shingle_count, word_count)
        if len(data) < end + _SAMPLED.size:
            raise ValueError(f"fingerprint of {num_perm} permutations with a sample must be at least "
                             f"{end + _SAMPLED.size} bytes, got {len(data)}")
        agency, sample_length = _SAMPLED.unpack_from(data, end)
        sample_end = end + _SAMPLED.size + 4 * sample_length
        if version == SAMPLED_FORMAT_VERSION:
            if len(data) != sample_end:
                raise ValueError(f"fingerprint with a sample of {sample_length} must be {sample_end} bytes, "
                                 f"got {len(data)}")
            return cls(bytes(data[_HEADER.size:end]), shingle_count, word_count,
                       bytes(data[end + _SAMPLED.size:sample_end]), agency)
        if len(data) < sample_end + _LEAD.size:
            raise ValueError(f"fingerprint with a sample of {sample_length} and a lead must be at least "
                             f"{sample_end + _LEAD.size} bytes, got {len(data)}")
        title, lead_length = _LEAD.unpack_from(data, sample_end)
        expected = sample_end + _LEAD.size + 4 * lead_length
        if len(data) != expected:
            raise ValueError(f"fingerprint with a sample of {sample_length} and a lead of {lead_length} must be "
                             f"{expected} bytes, got {len(data)}")
        return cls(bytes(data[_HEADER.size:end]), shingle_count, word_count,
                   bytes(data[end + _SAMPLED.size:sample_end]), agency, bytes(data[sample_end + _LEAD.size:]), title)


def fingerprint_body(body: str, num_perm: int = NUM_PERM) -> Fingerprint:
    """Fingerprint a clean body (plain text, paragraphs separated by newlines).

    Call it after boilerplate removal: site chrome left in the body would make unrelated stories of
    one site look alike, and the same story on two sites look different.
    """
    return fingerprint_bodies([body], num_perm).fingerprint(0)


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
    """One 8-byte key per band: BLAKE2b of (format version, bands, rows, band index, band values),
    followed by the fingerprint's :func:`anchor_keys`.

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
    for band, prefix in enumerate(_band_hashers(params)):
        h = prefix.copy()
        h.update(sig[band * width : (band + 1) * width])
        keys.append(h.digest())
    return (*keys, *anchor_keys(fingerprint), *lead_keys(fingerprint))


_ANCHOR = struct.Struct("<BII")
_ANCHOR_TAG = 0xA5  # 9-byte keys: never equal to a band's 8-byte key


def anchor_keys(fingerprint: Fingerprint) -> tuple[bytes, ...]:
    """Candidate keys from the lead: each pair of consecutive values among the first
    ``ANCHORS + 1`` of the sample, once each, in order.

    A copy trimmed to its first paragraphs shares a fifth or a quarter of a long original's
    shingles, too few for the two to meet in an LSH band reliably (P = 0.48 at Jaccard 0.25), but
    it shares the lead and so the lead's sample pairs. A pair spans some ten words, so two different
    stories share one only where they share a phrase of that length; what meets through one is
    verified like any candidate.
    """
    values = fingerprint.sample_values[: ANCHORS + 1]
    return tuple(dict.fromkeys(_ANCHOR.pack(_ANCHOR_TAG, int(a), int(b)) for a, b in zip(values[:-1], values[1:])))


_TITLE_KEY = struct.Struct("<BI")  # 5 bytes
_LEAD_KEY = struct.Struct("<BIII")  # 13 bytes: neither is ever equal to a band's or an anchor's key
_TITLE_TAG, _LEAD_TAG = 0x7E, 0x1E


def lead_keys(fingerprint: Fingerprint) -> tuple[bytes, ...]:
    """Candidate keys for teasers: the headline's code (when the copy has one) and the body's
    first ``LEAD_KEY_SHINGLES`` 3-grams.

    A teaser of one or two sentences shares neither a band (its Jaccard with the full story is
    under 0.1) nor, with one to five sample values, an anchor pair with it; but an aggregator's
    teaser keeps the headline, and a copy trimmed to its first sentence begins with the story's
    first words. Stories that share a headline or their first five words meet in these buckets
    and are verified like any candidate.
    """
    keys = []
    if fingerprint.title:
        keys.append(_TITLE_KEY.pack(_TITLE_TAG, fingerprint.title))
    lead = fingerprint.lead_values
    if len(lead) >= LEAD_KEY_SHINGLES:
        keys.append(_LEAD_KEY.pack(_LEAD_TAG, *(int(v) for v in lead[:LEAD_KEY_SHINGLES])))
    return tuple(keys)


@lru_cache(maxsize=8)
def _band_hashers(params: LSHParams) -> tuple:
    """Per band, a BLAKE2b state that has already absorbed the band's header: copying it is
    cheaper than building it again for every article."""
    hashers = []
    for band in range(params.bands):
        h = hashlib.blake2b(digest_size=8, person=b"nw-lsh-band")
        h.update(struct.pack("<BHHH", FORMAT_VERSION, params.bands, params.rows, band))
        hashers.append(h)
    return tuple(hashers)


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
      different events reach 0.65, so the bar sits at 0.75. Estimates with 128 permutations stray
      by about 0.04 (one standard deviation) around those: on the corpus the closest such pairs are
      estimated at 0.77 (same story) and 0.67 (different events).
    - ``min_words``: below this, a text is a headline-like fragment with too little wording to
      attribute it to a story ("More to follow."); it keeps a cluster of its own.
    - ``sample_*`` and ``min_shared_shingles``: the containment rule of :func:`sample_match`, for
      pairs of texts of at least ``short_words`` the rules above reject whose estimated containment
      reaches ``sample_gate`` (a loose bound: the estimate strays at small length ratios, and the
      gate only saves the exact check's cost on unrelated candidates). The shorter copy's sample
      must be ``sample_containment`` inside the longer one's, sharing at least
      ``min_shared_shingles`` (estimated: shared sample values x ``SAMPLE_RATE``) in the same order
      (``sample_order``: the longest run of shared values in order, as a share of them), and the
      copies' agencies must not differ when both are known. Trimmed copies score 0.9-1.0, with a
      rewritten lede or an inserted line 0.75-0.9; a follow-up reusing half the first story 0.55,
      independent reports of one event (same names and numbers) under 0.3; two agencies' reports
      are apart by their agencies whatever they share.
    - ``teaser_*``: a text of ``teaser_words`` to ``short_words`` words (an aggregator's teaser, a
      summary-only feed's first paragraph) joins a long text (at least ``short_words``) by the same
      rule with the stricter ``teaser_containment`` and ``teaser_shingles``: nearly all of it inside,
      in order.
    - ``brief_*``: two texts both under ``short_words`` (a brief and a copy of it trimmed to its
      first sentences, or with a line of chrome left in) join by the sample rule only when the
      shorter is all but whole inside the longer: ``brief_containment`` of its sample, in order,
      with ``teaser_shingles`` shared, and an estimated containment from the signatures of at
      least ``brief_gate`` (a second, independent estimate: a brief's sample has some ten values).
      Template briefs about two events (earthquakes, market closes) differ inside every sentence,
      by their figures and places: the closest fixture pair, an aftershock report beside the
      quake's, has 0.79 of the shorter inside (0.82 of its sample, 0.80 estimated), where a trimmed
      brief has all of it.
    - ``passage_*``: the sample rule's second test, for every pair it sees (briefs included): one
      run of shared sample values, consecutive in both samples, covering ``passage_share`` of the
      shorter's sample and ``passage_shingles`` (estimated). That is one passage carried word for
      word by both, with the copies differing only around it (a rewritten lede, a line of chrome
      left in, a lost last sentence). Template briefs differ inside their sentences (longest
      passage 0.36 of a sample on the fixtures), a follow-up reusing background shares a passage
      a third of it (0.31); same-story pairs the containment test misses in the blind corpora
      have 0.64 and more.
    - ``lead_*``: the lead rule (:func:`lead_match`), for a shorter text whose every 3-gram is in
      its lead (at most ``LEAD`` + 2 words: a teaser of one or two sentences, which the sample rule
      cannot judge from its few sample values): at least ``lead_containment`` of its 3-grams, and
      ``lead_shingles``, inside the longer text's lead from its opening (``LEAD_OFFSET``), in the
      same order, and agencies that do not differ. That is the longer copy's opening carried word
      for word (a follow-up repeating it as background further down is not its copy). Under one
      headline (both copies' :func:`title_code` equal), ``lead_titled_shingles`` suffice: an
      outlet's first sentence of eight or nine words, whose opening alone a template brief could
      share, is the story's when it is published under the story's headline too; two template briefs differ
      inside their first sentence (the aftershock beside the quake: 0.79 of the shorter inside),
      and two agencies' reports of one event share names, not ten words in a row.
    """

    jaccard: float = 0.5
    containment: float = 0.8
    min_length_ratio: float = 0.5
    short_words: int = 80
    short_jaccard: float = 0.75
    min_words: int = 8
    sample_containment: float = 0.7
    sample_order: float = 0.8
    sample_gate: float = 0.35
    min_shared_shingles: int = 40
    teaser_words: int = 20
    teaser_containment: float = 0.8
    teaser_shingles: int = 20
    brief_containment: float = 0.9
    brief_gate: float = 0.8
    passage_share: float = 0.6
    passage_shingles: int = 16
    lead_containment: float = 0.9
    lead_shingles: int = 8
    lead_titled_shingles: int = 6

    def __post_init__(self) -> None:
        for name in ("jaccard", "containment", "min_length_ratio", "short_jaccard", "sample_containment",
                     "sample_order", "sample_gate", "teaser_containment", "brief_containment", "brief_gate", "passage_share",
                     "lead_containment"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.min_words < 1 or self.short_words < self.min_words:
            raise ValueError("need 1 <= min_words <= short_words")
        if (self.min_shared_shingles < 1 or self.teaser_shingles < 1 or self.passage_shingles < 1
                or self.lead_shingles < 1 or self.lead_titled_shingles < 1):
            raise ValueError("min_shared_shingles, teaser_shingles, passage_shingles and the lead_* shingles "
                             "must be positive")
        if self.teaser_words < self.min_words:
            raise ValueError("need min_words <= teaser_words (teasers start at teaser_words, end at short_words)")


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
    """Decide whether two articles carry the same story (symmetric, so arrival order cannot matter):
    :func:`match_rule` on the signatures, else :func:`sample_match` where its gate lets it."""
    if a.is_empty or b.is_empty:
        return False
    score = score_pair(a, b)
    if match_rule(score, thresholds) is not None:
        return True
    if lead_match(a, b, thresholds):
        return True
    # The gate as _sample_gate computes it over arrays, in plain floats (the same arithmetic).
    if score.shorter_words < thresholds.teaser_words or score.containment < thresholds.sample_gate:
        return False
    return sample_match(a, b, thresholds)


def _lead_gate(w_a, w_b, t: MatchThresholds):
    """Pairs the lead rule may judge (scalars or arrays): the shorter text long enough to hold
    ``lead_titled_shingles`` 3-grams (or ``lead_shingles``, whichever is fewer) and short enough
    for its lead to be all of it."""
    shorter = np.minimum(w_a, w_b)
    fewest = min(t.lead_shingles, t.lead_titled_shingles)
    return ((shorter >= max(t.min_words, fewest + SHINGLE_SIZE - 1))
            & (shorter - (SHINGLE_SIZE - 1) <= LEAD))


def _leads_match(x: np.ndarray, y: np.ndarray, thresholds: MatchThresholds, same_title: bool = False) -> bool:
    """:func:`lead_match`'s test of two leads: the shorter's 3-grams found in the longer's, in
    order (the longest run in the same order), at least ``lead_containment`` of them and
    ``lead_shingles`` (``lead_titled_shingles`` for two copies under one headline), from the
    longer's opening (the first within ``LEAD_OFFSET``)."""
    short, long = (x, y) if len(x) <= len(y) else (y, x)
    shingles = thresholds.lead_titled_shingles if same_title else thresholds.lead_shingles
    need = max(shingles, thresholds.lead_containment * len(short))
    if not len(short) or len(short) < need:
        return False
    position: dict[int, int] = {}
    for at, value in enumerate(long.tolist()):
        position.setdefault(value, at)
    found = [position[v] for v in short.tolist() if v in position]
    if len(found) < need or min(found) > LEAD_OFFSET:
        return False
    return _ordered_run(np.asarray(found)) >= need


def lead_match(a: Fingerprint, b: Fingerprint, thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> bool:
    """The lead rule: the shorter text, a teaser of one or two sentences whose 3-grams are all in
    its lead, is (nearly) word for word inside the longer one's lead, in order, and the two
    copies are not attributed to two different agencies (see ``MatchThresholds.lead_*``)."""
    if a.is_empty or b.is_empty or not a.lead or not b.lead:
        return False
    if a.agency and b.agency and a.agency != b.agency:
        return False
    if not bool(_lead_gate(a.word_count, b.word_count, thresholds)):
        return False
    return _leads_match(a.lead_values, b.lead_values, thresholds, a.title != 0 and a.title == b.title)


def _with_leads(verdicts: np.ndarray, a: Fingerprint, word_counts: np.ndarray, agencies: tuple,
                lead_of: Callable[[int], np.ndarray], thresholds: MatchThresholds,
                titles: np.ndarray | None = None) -> np.ndarray:
    """Where no rule said yes yet, :func:`lead_match` of ``a`` with row ``k`` (its lead
    ``lead_of(k)``, its headline's code ``titles[k]``) for the rows its gate lets through."""
    if not a.lead or a.is_empty:
        return verdicts
    mine = a.lead_values
    gate = ~verdicts & ~_agencies_differ(*agencies) & _lead_gate(a.word_count, word_counts, thresholds)
    for k in np.flatnonzero(gate):
        same_title = bool(a.title) and titles is not None and int(titles[k]) == a.title
        verdicts[k] = _leads_match(mine, lead_of(k), thresholds, same_title)
    return verdicts


def _sample_gate(j, n_a, n_b, w_a, w_b, t: MatchThresholds):
    """Pairs worth the exact containment check (scalars or arrays): long enough and with an
    estimated containment at the gate, computed as ``_verdicts`` computes it."""
    smaller = np.minimum(n_a, n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        containment = np.minimum(1.0, j * (n_a + n_b) / (1.0 + j) / smaller)
    return (np.minimum(w_a, w_b) >= t.teaser_words) & (smaller > 0) & (containment >= t.sample_gate)


# What the sample rule asks of a pair, by the lengths of its two texts (see _sample_needs).
_LONG, _TEASER, _BRIEF, _BRIEF_PASSAGE_ONLY = 0, 1, 2, 3


def _sample_kind(j, n_a, n_b, w_a, w_b, t: MatchThresholds):
    """Which of the sample rule's sets of thresholds a pair is judged by (scalars or arrays):
    two long texts, a teaser beside a long text, two briefs, or two briefs whose estimated
    containment is under ``brief_gate`` (only a shared passage joins them)."""
    smaller = np.minimum(n_a, n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        containment = np.minimum(1.0, j * (n_a + n_b) / (1.0 + j) / smaller)
    brief = np.maximum(w_a, w_b) < t.short_words
    return np.where(brief, np.where(containment >= t.brief_gate, _BRIEF, _BRIEF_PASSAGE_ONLY),
                    np.where(np.minimum(w_a, w_b) < t.short_words, _TEASER, _LONG))


def _ordered_run(order: np.ndarray) -> int:
    """Length of the longest increasing subsequence of ``order`` (patience sorting)."""
    tails: list[int] = []
    for value in order.tolist():
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
        else:
            tails[at] = value
    return len(tails)


def sample_match(a: Fingerprint, b: Fingerprint, thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> bool:
    """The containment rule: the shorter copy is (mostly) inside the longer one, as their shingle
    samples show exactly, whatever their length ratio.

    What it takes, each for a reason:

    - both copies long enough (``short_words``): in a brief, one stock sentence is a third of it;
      or a teaser (``teaser_words``) nearly whole (``teaser_*``) in a long one, or a brief all but
      whole (``brief_containment``) in another brief;
    - agencies that do not differ when both are known: two agencies' reports of one event share
      names, places and figures (and so some phrases) but are two stories;
    - ``sample_containment`` of the shorter sample in the longer, and ``min_shared_shingles``
      shared: a short text sharing a stock paragraph with a long one is mostly outside it;
    - the shared values in the same order in both (``sample_order``): a copy keeps the order of
      the text it copies, while phrases two reports happen to share fall anywhere;
    - or, instead of the last two, one passage shared word for word (``passage_*``) covering most
      of the shorter sample: a copy re-leded or with a line of chrome differs only around it.
    """
    if a.is_empty or b.is_empty or min(a.word_count, b.word_count) < thresholds.teaser_words:
        return False
    if a.agency and b.agency and a.agency != b.agency:
        return False
    kind = int(_sample_kind(estimate_jaccard(a, b), float(a.shingle_count), float(b.shingle_count),
                            a.word_count, b.word_count, thresholds))
    return _samples_match(a.sample_values, b.sample_values, thresholds, kind)


def _sample_needs(t: MatchThresholds, kind):
    """(containment, shared shingles) the containment test of the sample rule needs for a pair of
    this ``_sample_kind`` (scalars or arrays); a containment above 1 turns the test off."""
    containment = np.choose(kind, (t.sample_containment, t.teaser_containment, t.brief_containment, 2.0))
    return containment, np.where(kind == _LONG, t.min_shared_shingles, t.teaser_shingles)


def _shared_floor(t: MatchThresholds, kind):
    """(share of the shorter sample, shingles) a pair must share for either test of the sample
    rule (containment, or one shared passage) to pass: what the array pre-filters check."""
    containment, shingles = _sample_needs(t, kind)
    return np.minimum(containment, t.passage_share), np.minimum(shingles, t.passage_shingles)


def _longest_passage(s: np.ndarray, l: np.ndarray) -> int:
    """The most shared sample values that follow one another in both samples with nothing
    between them in either: one passage of text both copies carry word for word. ``s`` and ``l``
    are the shared values' positions in the shorter and the longer sample, in the shorter's order."""
    if not len(s):
        return 0
    breaks = np.flatnonzero((np.diff(s) != 1) | (np.diff(l) != 1))
    edges = np.concatenate([[-1], breaks, [len(s) - 1]])
    return int(np.diff(edges).max())


def _samples_match(x: np.ndarray, y: np.ndarray, thresholds: MatchThresholds, kind: int = _LONG) -> bool:
    """:func:`sample_match`'s test of the two samples themselves: the containment test, else the
    passage test."""
    short, long = (x, y) if len(x) <= len(y) else (y, x)
    if not len(short):
        return False
    common, in_short, in_long = np.intersect1d(short, long, assume_unique=True, return_indices=True)
    shared = len(common)
    containment, shingles = _sample_needs(thresholds, kind)
    contained = shared >= containment * len(short) and shared * SAMPLE_RATE >= shingles
    may_share_passage = (shared >= thresholds.passage_share * len(short)
                         and shared * SAMPLE_RATE >= thresholds.passage_shingles)
    if not (contained or may_share_passage):
        return False
    order = np.argsort(in_short)  # both tests read the shared values in the shorter's order
    s, l = in_short[order], in_long[order]
    if contained and _ordered_run(l) >= thresholds.sample_order * shared:
        return True
    if not may_share_passage:
        return False
    passage = _longest_passage(s, l)
    return passage >= thresholds.passage_share * len(short) and passage * SAMPLE_RATE >= thresholds.passage_shingles


def _ragged_row(values: np.ndarray | None, offsets: np.ndarray | None, row: int) -> np.ndarray:
    """Row ``row`` of a ragged array stored as values and ``(n + 1,)`` offsets (empty when absent)."""
    if offsets is None:
        return np.empty(0, dtype=np.uint32)
    return values[offsets[row]:offsets[row + 1]]


@dataclass(frozen=True)
class FingerprintStack:
    """Many fingerprints as arrays, to verify a newcomer against all of them in one step.

    The samples are ragged: row ``i``'s is ``sample_values[sample_offsets[i]:sample_offsets[i+1]]``;
    a stack built without them has none (every row is judged by its signature alone).
    """

    signatures: np.ndarray  # (n, num_perm) uint32
    shingle_counts: np.ndarray  # (n,)
    word_counts: np.ndarray  # (n,)
    sample_values: np.ndarray | None = None  # uint32, row after row
    sample_offsets: np.ndarray | None = None  # (n + 1,)
    agencies: np.ndarray | None = None  # (n,) agency codes
    lead_values: np.ndarray | None = None  # uint32, row after row (ragged like the samples)
    lead_offsets: np.ndarray | None = None  # (n + 1,)
    titles: np.ndarray | None = None  # (n,) title codes

    def __len__(self) -> int:
        return len(self.word_counts)

    def lead(self, row: int) -> np.ndarray:
        return _ragged_row(self.lead_values, self.lead_offsets, row)

    def title(self, row: int) -> int:
        return 0 if self.titles is None else int(self.titles[row])

    def sample(self, row: int) -> np.ndarray:
        return _ragged_row(self.sample_values, self.sample_offsets, row)

    def agency(self, row: int) -> int:
        return 0 if self.agencies is None else int(self.agencies[row])

    def fingerprint(self, row: int) -> Fingerprint:
        return Fingerprint(self.signatures[row].astype("<u4").tobytes(), int(self.shingle_counts[row]),
                           int(self.word_counts[row]), self.sample(row).astype("<u4").tobytes(), self.agency(row),
                           self.lead(row).astype("<u4").tobytes(), self.title(row))

    def with_agencies(self, agencies: list[str | None]) -> "FingerprintStack":
        """The stack with each row's copy attributed to ``agencies[row]`` (slugs or None)."""
        return replace(self, agencies=np.array([agency_code(a) for a in agencies], dtype=np.int64))

    def with_titles(self, titles: list[str | None]) -> "FingerprintStack":
        """The stack with each row's copy headlined ``titles[row]`` (see :func:`title_code`)."""
        return replace(self, titles=np.array([title_code(t) for t in titles], dtype=np.int64))

    @classmethod
    def of(cls, fingerprints: list[Fingerprint]) -> "FingerprintStack":
        if not fingerprints:
            raise ValueError("a stack needs at least one fingerprint")
        lengths = [len(f.sample) // 4 for f in fingerprints]
        leads = [len(f.lead) // 4 for f in fingerprints]
        return cls(
            signatures=np.frombuffer(b"".join(f.signature for f in fingerprints), dtype="<u4").reshape(
                len(fingerprints), -1),
            shingle_counts=np.array([f.shingle_count for f in fingerprints], dtype=np.float64),
            word_counts=np.array([f.word_count for f in fingerprints], dtype=np.int64),
            sample_values=np.frombuffer(b"".join(f.sample for f in fingerprints), dtype="<u4"),
            sample_offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            agencies=np.array([f.agency for f in fingerprints], dtype=np.int64),
            lead_values=np.frombuffer(b"".join(f.lead for f in fingerprints), dtype="<u4"),
            lead_offsets=np.concatenate([[0], np.cumsum(leads)]).astype(np.int64),
            titles=np.array([f.title for f in fingerprints], dtype=np.int64),
        )


def _agencies_differ(a, b):
    return (a != 0) & (b != 0) & (a != b)


def _with_samples(verdicts: np.ndarray, gate: np.ndarray, agencies: tuple, samples, kinds: np.ndarray,
                  thresholds: MatchThresholds) -> np.ndarray:
    """Where the signature rules said no and the gate lets a pair through, :func:`sample_match`
    decides: its agency check over the arrays first (most pairs of unrelated stories that get this
    far come from two agencies), then the samples, ``samples(k)`` giving the k-th pair's two."""
    for k in np.flatnonzero(gate & ~verdicts & ~_agencies_differ(*agencies)):
        verdicts[k] = _samples_match(*samples(k), thresholds, int(kinds[k]))
    return verdicts


def verify_many(a: Fingerprint, others: FingerprintStack,
                thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
                sample_of: Callable[[int], np.ndarray] | None = None,
                lead_of: Callable[[int], np.ndarray] | None = None) -> np.ndarray:
    """:func:`verify_pair` of ``a`` with each fingerprint of ``others``, as a boolean array.

    The same arithmetic in the same order, so each answer equals verify_pair's (the tests check it);
    verifying a few hundred candidates costs what a handful cost one by one. ``sample_of(k)``, when
    given, is row ``k``'s sample values, and ``others`` need not hold the samples: only the few rows
    that get past the signature rules to the sample rule read one. ``lead_of(k)`` is row ``k``'s
    lead in the same way (read only for rows the lead rule's gate lets through).
    """
    if others.signatures.shape[1] != a.num_perm:
        raise ValueError(f"cannot compare signatures of {a.num_perm} and {others.signatures.shape[1]} permutations")
    equal = np.count_nonzero(others.signatures == a.values, axis=1)
    j = equal / a.num_perm
    sizes = (float(a.shingle_count), others.shingle_counts, a.word_count, others.word_counts)
    verdicts = _verdicts(j, *sizes, thresholds)
    agencies = (np.int64(a.agency), others.agencies if others.agencies is not None else np.zeros(len(others), np.int64))
    verdicts = _with_leads(verdicts, a, others.word_counts, agencies, others.lead if lead_of is None else lead_of,
                           thresholds, others.titles)
    if not a.sample or a.is_empty:
        return verdicts
    mine = a.sample_values
    kinds = _sample_kind(j, *sizes, thresholds)
    sample = others.sample if sample_of is None else sample_of
    gate = _sample_gate(j, *sizes, thresholds) & ~verdicts & ~_agencies_differ(*agencies)
    gated = np.flatnonzero(gate)
    if len(gated) > 1:
        # The containment and shared-count tests of _samples_match for all gated rows at once (a
        # sample holds a value once, so the values of a row found in ``mine`` are the shared
        # ones); only rows that pass them are checked one by one, for the order test.
        theirs = [sample(k) for k in gated]
        lengths = np.fromiter(map(len, theirs), dtype=np.int64, count=len(theirs))
        owner = np.repeat(np.arange(len(gated)), lengths)
        values = np.concatenate(theirs)
        ordered = np.sort(mine)  # membership by binary search: np.isin's set-up costs more here
        found = ordered[np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)] == values
        shared = np.bincount(owner[found], minlength=len(gated))
        shorter = np.minimum(len(mine), lengths)
        containment, shingles = _shared_floor(thresholds, kinds[gated])
        gate[gated] = (shorter > 0) & (shared >= containment * shorter) & (shared * SAMPLE_RATE >= shingles)
    return _with_samples(verdicts, gate, agencies, lambda k: (mine, sample(k)), kinds, thresholds)


def signature_bound(a: Fingerprint, low: np.ndarray, shingle_counts: np.ndarray, word_counts: np.ndarray,
                    thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Which of the rows :func:`verify_many` could accept, from the lowest byte of each of their
    signature values (``low``: (n, num_perm) uint8) and their sizes: False rows are rejected.

    Two equal values have equal low bytes, so the count of equal low bytes bounds the count of
    equal values from above; the signature rules and the sample rule's gate only grow with that
    count, so a row they reject at the bound they reject at its true value (as in
    :func:`verify_rows`). Unrelated rows pass only where their low bytes agree by chance (one
    value in 256), so the full signatures of the few rows left are all that need reading.
    """
    bound = np.count_nonzero(low == a.values.astype(np.uint8), axis=1) / a.num_perm
    sizes = (float(a.shingle_count), shingle_counts, a.word_count, word_counts)
    return _may_pass(bound, sizes, thresholds)


def _may_pass(bound: np.ndarray, sizes: tuple, thresholds: MatchThresholds) -> np.ndarray:
    """Where a similarity ``bound`` (from above) lets the signature rules or the sample gate pass."""
    return (_verdicts(bound, *sizes, thresholds) | _sample_gate(bound, *sizes, thresholds)
            | _lead_gate(sizes[2], sizes[3], thresholds))


def verify_rows(stack: FingerprintStack, left: np.ndarray, right: np.ndarray,
                thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> np.ndarray:
    """:func:`verify_pair` of rows ``left[k]`` and ``right[k]`` of ``stack``, for every ``k``.

    Two passes: the lowest byte of each signature value is compared first. Two values that are
    equal have equal low bytes, so that count bounds the number of equal values from above, and a
    pair the rules reject even at that bound is rejected without reading the full signatures. Only
    the few pairs left are compared in full; the verdicts are exactly verify_pair's.
    """
    num_perm = stack.signatures.shape[1]
    if not len(left):
        return np.zeros(0, dtype=bool)
    sizes = (stack.shingle_counts[left], stack.shingle_counts[right], stack.word_counts[left],
             stack.word_counts[right])
    low = stack.signatures.astype(np.uint8)
    bound = _equal_counts(low, left, right)
    # The containment rule's gate grows with the number of equal values too, so the bound serves
    # it as well: a pair whose bound fails both is rejected without its full signatures.
    maybe = np.flatnonzero(_may_pass(bound / num_perm, sizes, thresholds))
    verdicts = np.zeros(len(left), dtype=bool)
    if len(maybe):
        equal = _equal_counts(stack.signatures, left[maybe], right[maybe])
        j, near = equal / num_perm, tuple(x[maybe] for x in sizes)
        found = _verdicts(j, *near, thresholds)
        if stack.sample_offsets is not None:
            l, r = left[maybe], right[maybe]
            codes = stack.agencies if stack.agencies is not None else np.zeros(len(stack), np.int64)
            gate = _sample_gate(j, *near, thresholds)
            gate &= ~found & ~_agencies_differ(codes[l], codes[r])
            # The containment and shared-count tests for all gated pairs at once; only pairs that
            # pass them are checked one by one (the order test), which is what _samples_match does.
            kinds = _sample_kind(j, *near, thresholds)
            gate[gate] = _shared_enough(stack, l[gate], r[gate], kinds[gate], thresholds)
            found = _with_samples(found, gate, (codes[l], codes[r]),
                                  lambda k: (stack.sample(l[k]), stack.sample(r[k])), kinds, thresholds)
        if stack.lead_offsets is not None:
            l, r = left[maybe], right[maybe]
            codes = stack.agencies if stack.agencies is not None else np.zeros(len(stack), np.int64)
            gate = ~found & ~_agencies_differ(codes[l], codes[r]) & _lead_gate(near[2], near[3], thresholds)
            for k in np.flatnonzero(gate):
                title = stack.title(l[k])
                found[k] = _leads_match(stack.lead(l[k]), stack.lead(r[k]), thresholds,
                                        title != 0 and title == stack.title(r[k]))
        verdicts[maybe] = found
    return verdicts


def _ragged_rows(stack: FingerprintStack, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples of ``rows`` concatenated, the position in ``rows`` each value came from, and
    each row's sample length."""
    starts, lengths = stack.sample_offsets[rows], np.diff(stack.sample_offsets)[rows]
    owner = np.repeat(np.arange(len(rows)), lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return stack.sample_values[np.repeat(starts, lengths) + within], owner, lengths


def _shared_enough(stack: FingerprintStack, left: np.ndarray, right: np.ndarray, kinds: np.ndarray,
                   thresholds: MatchThresholds) -> np.ndarray:
    """Whether pair k's samples share enough for :func:`_samples_match` to go on: at least
    ``sample_containment`` of the shorter sample and ``min_shared_shingles``. Each sample holds a
    value once, so a value both rows hold appears exactly twice in the pair's sorted values."""
    if not len(left):
        return np.zeros(0, dtype=bool)
    a, a_owner, a_len = _ragged_rows(stack, left)
    b, b_owner, b_len = _ragged_rows(stack, right)
    keys = np.concatenate([(a_owner.astype(np.uint64) << np.uint64(32)) | a,
                           (b_owner.astype(np.uint64) << np.uint64(32)) | b])
    keys.sort()
    twice = keys[1:][keys[1:] == keys[:-1]]
    shared = np.bincount((twice >> np.uint64(32)).astype(np.int64), minlength=len(left))
    shorter = np.minimum(a_len, b_len)
    containment, shingles = _shared_floor(thresholds, kinds)
    return (shorter > 0) & (shared >= containment * shorter) & (shared * SAMPLE_RATE >= shingles)


def _equal_counts(signatures: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Equal values of rows left[k] and right[k], in chunks through work arrays reused from chunk
    to chunk (fresh large arrays cost page faults that outweigh the comparisons)."""
    step = 4096
    num_perm = signatures.shape[1]
    equal = np.empty(len(left), dtype=np.int64)
    gathered = np.empty((2, min(step, len(left)), num_perm), dtype=signatures.dtype)
    same = np.empty(gathered.shape[1:], dtype=bool)
    for lo in range(0, len(left), step):
        k = min(step, len(left) - lo)
        np.take(signatures, left[lo:lo + k], axis=0, out=gathered[0, :k])
        np.take(signatures, right[lo:lo + k], axis=0, out=gathered[1, :k])
        np.equal(gathered[0, :k], gathered[1, :k], out=same[:k])
        equal[lo:lo + k] = np.count_nonzero(same[:k], axis=1)
    return equal


def _verdicts(j, n_a, n_b, w_a, w_b, t: MatchThresholds) -> np.ndarray:
    """match_rule over arrays (scalars broadcast); an empty text never matches."""
    smaller, larger = np.minimum(n_a, n_b), np.maximum(n_a, n_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(larger > 0, smaller / larger, 0.0)
        containment = np.minimum(1.0, j * (n_a + n_b) / (1.0 + j) / smaller)
    shorter_words = np.minimum(w_a, w_b)
    long_match = (j >= t.jaccard) | ((ratio >= t.min_length_ratio) & (containment >= t.containment))
    verdict = np.where(shorter_words < t.short_words, j >= t.short_jaccard, long_match)
    return verdict & (shorter_words >= t.min_words) & (smaller > 0)
