"""Pure tests of transforms.syndication.fingerprint: tokens, shingles, signatures, band keys, pair
verification."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from transforms.syndication import (
    DEFAULT_LSH,
    DEFAULT_THRESHOLDS,
    Fingerprint,
    FingerprintStack,
    LSHParams,
    MatchThresholds,
    anchor_keys,
    band_keys,
    estimate_containment,
    estimate_jaccard,
    fingerprint_bodies,
    fingerprint_body,
    lead_keys,
    lead_match,
    match_rule,
    sample_match,
    score_pair,
    tokenize,
    verify_many,
    verify_pair,
    verify_rows,
    word_shingles,
)

from transforms.syndication.fingerprint import ANCHORS, LEAD

REPO_ROOT = Path(__file__).resolve().parents[2]

STORY = "\n".join(
    [
        "KESTREL BAY, June 2 (dpa) - Volunteers in the fishing town of Kestrel Bay relit the beam of its "
        "nineteenth-century lighthouse on Sunday for the first time in 41 years, after a restoration paid "
        "for largely by local donations and a lottery grant.",
        "About 2,000 people gathered on the harbour wall as the lamp, turned by a restored clockwork "
        "mechanism, swept across the water shortly after sunset. Fishing boats sounded their horns as the "
        "light came on.",
        "The tower was switched off in 1983 when the coastguard replaced it with an automatic beacon on "
        "the breakwater. It fell into disrepair, and in 2015 a storm tore away part of the lantern room.",
        "\"Everyone here has a story about this light. My grandfather kept it for thirty years,\" said "
        "Greta Holm, who chairs the Kestrel Bay Lighthouse Trust and led the campaign to save the building.",
        "The trust raised 1.8 million crowns over six years, much of it through a weekly raffle, concerts "
        "and sales of a cookbook written by residents. The national heritage lottery added a further "
        "900,000 crowns in 2021.",
        "Engineers from the maritime museum in Norrhavn spent two winters rebuilding the clockwork, which "
        "must be wound by hand every four hours. Volunteers have signed up to take turns through the summer.",
        "The light will shine every evening from May to September. It is not an official navigation aid, "
        "the coastguard said, and sailors should continue to rely on the automatic beacon.",
        "The trust now plans to open a small museum in the former keeper's cottage next year.",
    ]
)

SAME_EVENT = "\n".join(
    [
        "The old lighthouse at Kestrel Bay shone again on Sunday night, ending four decades of darkness "
        "for a landmark that residents spent six years and 1.8 million crowns bringing back to life.",
        "Crowds lined the harbour as the first beam crossed the bay. Greta Holm, head of the Kestrel Bay "
        "Lighthouse Trust, said the moment was for her grandfather, a former keeper.",
        "The tower went dark in 1983, replaced by an automatic beacon, and a storm in 2015 wrecked its "
        "lantern room. A lottery grant of 900,000 crowns helped pay for the repairs.",
        "Its clockwork drive, rebuilt by engineers from Norrhavn's maritime museum, has to be wound by hand, "
        "and volunteers will take shifts to keep the light turning through the summer months.",
        "The coastguard stressed the restored light is a heritage attraction and not a navigation aid.",
    ]
)

# Two briefs from one template, about different earthquakes: most of their wording is shared.
QUAKE_A = (
    "A magnitude 4.6 earthquake struck the Norrhavn region at 3:12 a.m. on Monday, the seismological "
    "institute said. The quake was centred 20 kilometres west of Kestrel Bay at a depth of 9 kilometres. "
    "There were no immediate reports of damage or casualties."
)
QUAKE_B = (
    "A magnitude 4.2 earthquake struck the Norrhavn region at 8:47 a.m. on Monday, the seismological "
    "institute said. The quake was centred 25 kilometres west of Kestrel Bay at a depth of 9 kilometres. "
    "There were no immediate reports of damage or casualties."
)


def paragraphs(text: str) -> list[str]:
    return text.split("\n")


def truncate_to_share(text: str, share: float) -> str:
    """Keep whole leading paragraphs until at least ``share`` of the words are kept."""
    total = len(tokenize(text))
    kept: list[str] = []
    for paragraph in paragraphs(text):
        if kept and len(tokenize("\n".join(kept))) >= share * total:
            break
        kept.append(paragraph)
    return "\n".join(kept)


def test_tokenize_lowercases_strips_punctuation_and_joins_elisions():
    assert tokenize("Don't STOP, l'été — 5.1% (AFP)!") == ["dont", "stop", "lété", "5", "1", "afp"]


def test_tokenize_keeps_indic_words_whole_and_splits_unspaced_scripts_into_characters():
    assert tokenize("भारत सरकार ने कहा") == ["भारत", "सरकार", "ने", "कहा"]
    assert tokenize("新华社报道") == ["新", "华", "社", "报", "道"]
    assert tokenize("Tokyo東京タワー, “quoted” café") == ["tokyo", "東", "京", "タ", "ワ", "ー", "quoted", "café"]
    assert tokenize("Straße ２０２４") == ["strasse", "2024"]


def test_shingles_are_word_trigrams_running_across_paragraphs():
    assert word_shingles("One two.\nThree four") == {"one two three", "two three four"}
    assert word_shingles("Two words") == {"two words"}
    assert word_shingles(" \n ...") == set()
    with pytest.raises(ValueError):
        word_shingles("a b c", size=0)


def test_identical_text_gives_identical_fingerprint_and_band_keys():
    first, second = fingerprint_body(STORY), fingerprint_body(STORY)
    assert first == second
    assert first.to_bytes() == second.to_bytes()
    assert band_keys(first) == band_keys(second)
    assert first.num_perm == 128
    assert first.word_count == len(tokenize(STORY))
    assert first.shingle_count == len(word_shingles(STORY))


GOLDEN_DIGEST = "184a162b07234ebe5ffc8adf8ee21fdd353b919fe631030710102c2759fbd9a7"
GOLDEN_SAMPLE_DIGEST = "6dfc9285740a2e54ff4b7be6abc20d61d983f6cc020b3dd0d4c4549c72dff8bd"


def test_signature_is_pinned_so_a_library_or_tokeniser_change_cannot_go_unnoticed():
    # If this fails, every signature held in pipeline state is incompatible with new ones: bump
    # FORMAT_VERSION (band keys and serialised fingerprints carry it) and update the digest.
    # The signature alone serialises as format 2, what releases before the sample wrote.
    fp = fingerprint_body(STORY)
    digest = hashlib.sha256(replace(fp, sample=b"", lead=b"").to_bytes()).hexdigest()
    assert digest == GOLDEN_DIGEST
    # The sample is compared across workers and releases too: pinned the same way.
    assert hashlib.sha256(fp.sample).hexdigest() == GOLDEN_SAMPLE_DIGEST


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_signature_is_the_same_in_another_process_with_another_hash_seed(hash_seed):
    code = (
        "import sys; from transforms.syndication import fingerprint_body; "
        "sys.stdout.write(fingerprint_body(sys.stdin.read()).to_bytes().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], input=STORY, capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out == fingerprint_body(STORY).to_bytes().hex()


def test_near_copies_match():
    original = fingerprint_body(STORY)
    paras = paragraphs(STORY)
    no_dateline = [paras[0].replace("KESTREL BAY, June 2 (dpa) - ", ""), *paras[1:]]
    with_related = "\n".join([*no_dateline, "Related: Ferry timetable changes for the summer season"])
    house_style = STORY.replace("harbour", "harbor").replace(" crowns", " kronor").replace("(dpa) - ", "(dpa) -- ")
    new_lede = "\n".join(
        ["Kestrel Bay's lighthouse is shining again after 41 years in the dark, thanks to donations.", *paras[1:]]
    )
    for copy in (with_related, house_style, new_lede):
        assert verify_pair(original, fingerprint_body(copy)), copy[:60]


def test_independently_written_story_about_the_same_event_does_not_match():
    score = score_pair(fingerprint_body(STORY), fingerprint_body(SAME_EVENT))
    assert score.jaccard < 0.1
    assert match_rule(score) is None
    assert not verify_pair(fingerprint_body(STORY), fingerprint_body(SAME_EVENT))


def test_copy_truncated_to_70_percent_matches():
    trimmed = truncate_to_share(STORY, 0.7)
    share = len(tokenize(trimmed)) / len(tokenize(STORY))
    assert 0.7 <= share < 0.8
    original, copy = fingerprint_body(STORY), fingerprint_body(trimmed)
    assert verify_pair(original, copy)
    assert verify_pair(copy, original)
    assert estimate_containment(original, copy) > 0.9


def test_containment_accepts_an_edited_trimmed_copy_that_jaccard_alone_rejects():
    # Trimmed to 70%, a shorter rewritten lede, house spelling and a "Related:" line.
    paras = paragraphs(truncate_to_share(STORY, 0.7))
    lede = "Residents of Kestrel Bay celebrated as their lighthouse was relit after 41 years."
    copy = "\n".join([lede, *paras[1:], "Related: Ferry timetable changes"]).replace("harbour", "harbor")
    original, edited = fingerprint_body(STORY), fingerprint_body(copy)
    score = score_pair(original, edited)
    # This copy's exact Jaccard is 0.49, on the default bar; a stricter bar shows the rule's role.
    strict = MatchThresholds(jaccard=0.6)
    assert score.jaccard < strict.jaccard
    assert match_rule(score, strict) == "containment"
    exact = len(word_shingles(copy) & word_shingles(STORY)) / len(word_shingles(copy))
    assert abs(score.containment - exact) < 0.05


def test_a_copy_trimmed_to_its_lead_joins_by_its_sample_where_the_estimate_cannot_judge():
    # The first three paragraphs alone are entirely inside the story, but far shorter than it: the
    # estimated containment is unreliable at that ratio and its rule refuses; the samples show it.
    lede = "\n".join(paragraphs(STORY)[:3])
    story, trimmed = fingerprint_body(STORY), fingerprint_body(lede)
    score = score_pair(story, trimmed)
    assert score.length_ratio < DEFAULT_THRESHOLDS.min_length_ratio and score.shorter_words >= 80
    assert match_rule(score) is None
    assert sample_match(story, trimmed) and verify_pair(story, trimmed) and verify_pair(trimmed, story)
    # One agency's story is not another's: attributed to two agencies, the lead stays apart.
    assert not verify_pair(story.with_agency("afp"), trimmed.with_agency("efe"))
    assert verify_pair(story.with_agency("afp"), trimmed)  # an unattributed copy is not refused
    # The first paragraph alone is a teaser: nearly all of it inside the story, in order, so it
    # joins; the same words in another order do not.
    first = paragraphs(STORY)[0]
    assert 20 <= len(tokenize(first)) < 80 and verify_pair(story, fingerprint_body(first))
    assert not verify_pair(story, fingerprint_body(" ".join(reversed(tokenize(first)))))
    # Its first fifteen words are too few sample values for the sample rule, but they open the
    # story word for word: the lead rule joins them. Fifteen words from further down do not open it.
    opening = fingerprint_body(" ".join(tokenize(first)[:15]))
    assert not sample_match(story, opening) and lead_match(story, opening) and verify_pair(story, opening)
    assert not verify_pair(story.with_agency("afp"), opening.with_agency("efe"))
    later = fingerprint_body(" ".join(tokenize(paragraphs(STORY)[3])[:15]))
    assert not verify_pair(story, later)


def test_the_sample_rule_wants_the_shared_text_in_order_and_enough_of_it():
    lede = "\n".join(paragraphs(STORY)[:3])
    story, trimmed = fingerprint_body(STORY), fingerprint_body(lede)
    words = tokenize(lede)
    # The same words in another order share the shingles inside each block, not the blocks' order.
    blocks = [words[i:i + 12] for i in range(0, len(words), 12)]
    shuffled = fingerprint_body(" ".join(w for block in reversed(blocks) for w in block))
    assert sample_match(story, trimmed)
    assert not sample_match(story, shuffled, MatchThresholds(sample_containment=0.3))
    assert sample_match(story, shuffled, MatchThresholds(sample_containment=0.3, sample_order=0.05))
    too_many = 4 * len(trimmed.sample_values) + 4
    assert not sample_match(story, trimmed, MatchThresholds(min_shared_shingles=too_many, passage_shingles=too_many))


BRIEF = (
    "Harbour officials in Kestrel Bay closed the northern pier on Thursday after storm waves cracked "
    "its concrete deck, the port authority said. Ferries to the outer islands will leave from the "
    "southern quay until engineers have inspected the structure. "
    "\"We expect the pier to stay shut for at least a fortnight,\" harbourmaster Elin Rask told reporters. "
    "Fishing boats were told to moor in the inner basin."
)


def test_a_brief_trimmed_or_with_a_line_of_chrome_joins_the_brief_it_copies():
    sentences = BRIEF.split(". ")
    full = fingerprint_body(BRIEF)
    trimmed = fingerprint_body(". ".join(sentences[:2]) + ".")
    assert max(full.word_count, trimmed.word_count) < DEFAULT_THRESHOLDS.short_words <= 80
    assert verify_pair(full, trimmed) and verify_pair(trimmed, full)
    # The signatures' rules refuse the pair (its Jaccard is a brief's, under short_jaccard): the
    # samples join it.
    assert match_rule(score_pair(full, trimmed)) is None
    assert not verify_pair(full, trimmed, MatchThresholds(teaser_shingles=10_000, passage_shingles=10_000,
                                                          lead_shingles=10_000, lead_titled_shingles=10_000))
    # Two template briefs about two quakes share most of their words, but not one passage.
    assert not verify_pair(fingerprint_body(QUAKE_A), fingerprint_body(QUAKE_B))


def test_one_passage_shared_word_for_word_joins_a_copy_whose_lede_was_rewritten():
    sentences = BRIEF.split(". ")
    releded = fingerprint_body("The northern pier of Kestrel Bay is shut after waves cracked it, officials said. "
                               + ". ".join(sentences[1:3]) + ".")
    full = fingerprint_body(BRIEF)
    assert verify_pair(full, releded)
    assert not verify_pair(full, releded, MatchThresholds(passage_share=1.0))
    # The same sentences in another order share no passage as long.
    shuffled = fingerprint_body(". ".join(reversed(sentences)))
    assert not verify_pair(full, shuffled, MatchThresholds(short_jaccard=1.0, brief_containment=1.0))


def test_short_texts_need_a_stricter_match():
    a, b = fingerprint_body(QUAKE_A), fingerprint_body(QUAKE_B)
    score = score_pair(a, b)
    assert score.shorter_words < DEFAULT_THRESHOLDS.short_words
    # Similar enough to pass the rules for long texts, so only the short-text rule keeps them apart.
    assert score.jaccard >= DEFAULT_THRESHOLDS.jaccard
    assert verify_pair(a, b, MatchThresholds(short_words=10))
    assert not verify_pair(a, b)
    # A republished brief with a new headline (same body) or one changed word still matches.
    assert verify_pair(a, fingerprint_body(QUAKE_A))
    assert verify_pair(a, fingerprint_body(QUAKE_A.replace("on Monday", "Monday")))


def test_fragments_below_min_words_never_match_even_when_identical():
    tiny = fingerprint_body("More to follow.")
    assert not verify_pair(tiny, fingerprint_body("More to follow."))


def test_empty_body_has_no_band_keys_and_matches_nothing():
    empty = fingerprint_body("  \n ")
    assert empty.is_empty and empty.word_count == 0
    assert band_keys(empty) == ()
    assert not verify_pair(empty, fingerprint_body(""))
    assert estimate_jaccard(empty, fingerprint_body(STORY)) == 0.0


def test_fingerprint_round_trips_through_bytes():
    fp = fingerprint_body(STORY).with_agency("afp").with_title("Flood barrier opens on the river delta")
    data = fp.to_bytes()
    assert data[0] == 4 and fp.sample and fp.agency and fp.title and len(fp.lead) == 4 * LEAD
    assert len(data) == 12 + 4 * 128 + 4 + len(fp.sample) + 6 + len(fp.lead)
    assert Fingerprint.from_bytes(data) == fp
    assert Fingerprint.from_bytes(memoryview(data)) == fp
    # A fingerprint an older release wrote (with a sample, without a lead) still reads.
    sampled = replace(fp, lead=b"", title=0).to_bytes()
    assert sampled[0] == 3 and len(sampled) == 12 + 4 * 128 + 4 + len(fp.sample)
    assert Fingerprint.from_bytes(sampled) == replace(fp, lead=b"", title=0)
    # And one with the signature only, without a sample.
    old = replace(fp, sample=b"", agency=0, lead=b"", title=0).to_bytes()
    assert old[0] == 2 and len(old) == 12 + 4 * 128
    assert Fingerprint.from_bytes(old) == replace(fp, sample=b"", agency=0, lead=b"", title=0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x00", "too short"),
        (b"\x09" + fingerprint_body(STORY).to_bytes()[1:], "format version 9"),
        (replace(fingerprint_body(STORY), sample=b"", lead=b"").to_bytes()[:-4], "must be 524 bytes"),
        (replace(fingerprint_body(STORY), lead=b"").to_bytes()[:-4], "with a sample of"),
        (fingerprint_body(STORY).to_bytes()[:-4], "and a lead of"),
    ],
)
def test_bad_fingerprint_bytes_are_refused_with_a_reason(data, message):
    with pytest.raises(ValueError, match=message):
        Fingerprint.from_bytes(data)


def test_fingerprint_rejects_malformed_fields():
    with pytest.raises(ValueError):
        Fingerprint(signature=b"abc", shingle_count=1, word_count=1)
    with pytest.raises(ValueError):
        Fingerprint(signature=b"abcd", shingle_count=-1, word_count=1)


def test_band_keys_are_one_per_band_and_differ_between_bands_and_parameters():
    fp = fingerprint_body(STORY)
    keys = band_keys(fp)
    bands, rest = keys[:DEFAULT_LSH.bands], keys[DEFAULT_LSH.bands:]
    anchors, leads = rest[:len(anchor_keys(fp))], rest[len(anchor_keys(fp)):]
    assert len(bands) == 42 and all(isinstance(k, bytes) and len(k) == 8 for k in bands)
    # Then the lead's anchors: 9 bytes, so never equal to a band key, at most ANCHORS of them.
    assert anchors == anchor_keys(fp) and 0 < len(anchors) <= ANCHORS and all(len(k) == 9 for k in anchors)
    # Then the opening's key (13 bytes), and the headline's (5 bytes) once the copy has one.
    assert leads == lead_keys(fp) and [len(k) for k in leads] == [13]
    titled = fp.with_title("Flood barrier opens on the river delta")
    assert [len(k) for k in lead_keys(titled)] == [5, 13] and band_keys(titled)[-2:] == lead_keys(titled)
    assert lead_keys(fp.with_title("Weather")) == leads  # too few words to name a story
    assert len(set(keys)) == len(keys)
    other = band_keys(fp, LSHParams(bands=32, rows=4))
    assert not set(other[:32]) & set(bands) and other[32:] == rest


def test_near_copies_share_band_keys_and_unrelated_stories_do_not():
    original = set(band_keys(fingerprint_body(STORY)))
    copy = set(band_keys(fingerprint_body(truncate_to_share(STORY, 0.7))))
    unrelated = set(band_keys(fingerprint_body(SAME_EVENT)))
    assert len(original & copy) >= 5
    assert not original & unrelated


def test_band_keys_refuse_a_signature_of_another_size():
    fp = fingerprint_body(STORY, num_perm=64)
    with pytest.raises(ValueError, match="64 permutations"):
        band_keys(fp)


def test_lsh_parameters_are_validated_and_the_default_finds_containment_matches():
    with pytest.raises(ValueError):
        LSHParams(bands=50, rows=3)
    with pytest.raises(ValueError):
        LSHParams(bands=0, rows=3)
    assert DEFAULT_LSH.candidate_probability(0.36) > 0.85
    assert DEFAULT_LSH.candidate_probability(0.02) < 0.001


def test_verification_is_symmetric():
    a = fingerprint_body(STORY)
    b = fingerprint_body(truncate_to_share(STORY, 0.55))
    assert score_pair(a, b) == score_pair(b, a)
    assert verify_pair(a, b) == verify_pair(b, a)


def test_thresholds_are_validated():
    with pytest.raises(ValueError):
        MatchThresholds(jaccard=0.0)
    with pytest.raises(ValueError):
        MatchThresholds(containment=1.5)
    with pytest.raises(ValueError):
        MatchThresholds(min_words=50, short_words=20)


_MASK = 2**64 - 1


def _fmix64(h: int) -> int:
    h ^= h >> 33
    h = h * 0xFF51AFD7ED558CCD & _MASK
    h ^= h >> 33
    h = h * 0xC4CEB9FE1A85EC53 & _MASK
    return h ^ (h >> 33)


def _reference_token_hash(token: str) -> int:
    p = 0x100000001B3 * 0x9E3779B97F4A7C15 & _MASK | 1
    return _fmix64(sum((byte + 1) * pow(p, k, 2**64) for k, byte in enumerate(token.encode("utf-8"))) & _MASK)


def _reference_shingle_hash(gram: tuple[str, ...]) -> int:
    """The format-2 shingle hash written out in plain Python integers, as the module docstring
    describes it: a polynomial hash of each token's bytes, per-position multipliers, XOR, fmix64."""
    multipliers = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)
    h = 0
    for token, multiplier in zip(gram, multipliers):
        h ^= _reference_token_hash(token) * multiplier & _MASK
    return _fmix64(h)


def _datasketch_signature(text: str) -> tuple[bytes, int]:
    from datasketch import MinHash

    tokens = tokenize(text)
    if len(tokens) >= 3:
        grams = {tuple(tokens[i : i + 3]) for i in range(len(tokens) - 2)}
    else:
        grams = {tuple(tokens)} if tokens else set()
    hashes = sorted({_reference_shingle_hash(g) for g in grams})
    minhash = MinHash(num_perm=128, seed=20240304, scheme="affine32", hashfunc=lambda h: h >> 32)
    minhash.update_batch(hashes)
    return minhash.hashvalues.astype("<u4").tobytes(), len(hashes)


@pytest.mark.parametrize("text", [
    STORY,
    "",
    "one",
    "two words",
    "Straße ２０２４ don't l'été",
    "Die Fähre legte um 5 Uhr ab.\nDer Streik dauert 48 Stunden.",
    "东京电力公司周一表示 核电站 恢复运行",
    "Mixed ASCII and ñ text, with 123 numbers and O'Brien's quotes",
])
def test_signature_equals_datasketch_fed_the_reference_shingle_hashes(text):
    # fingerprint_body computes shingle hashes and the MinHash update in a few array operations;
    # the result must be what datasketch computes from the hashes written out one by one.
    fingerprint = fingerprint_body(text)
    signature, distinct = _datasketch_signature(text)
    assert fingerprint.signature == signature
    assert fingerprint.shingle_count == distinct == len(word_shingles(text))
    assert fingerprint.word_count == len(tokenize(text))


def test_fingerprints_of_many_bodies_at_once_equal_one_by_one():
    bodies = [STORY, "", "one", "two words", "Straße ２０２４ don't l'été", "东京电力公司 核电站",
              " ", "A'B c-d", STORY.replace("lighthouse", "beacon"), "x\ny\nz w"] * 3
    stack = fingerprint_bodies(bodies)
    assert len(stack) == len(bodies)
    for row, body in enumerate(bodies):
        assert stack.fingerprint(row) == fingerprint_body(body), body


def _pairs_pool() -> list[Fingerprint]:
    """Fingerprints whose pairs cover every rule: copies, trims, briefs, fragments, empty text."""
    story_paras = paragraphs(STORY)
    texts = [STORY, truncate_to_share(STORY, 0.7), truncate_to_share(STORY, 0.5), "\n".join(story_paras[2:]),
             story_paras[0], story_paras[0] + " A second sentence of a brief.", "Only four words here.", "",
             STORY.replace("lighthouse", "beacon").replace("harbour", "harbor"), "Unrelated words " * 30]
    return [fingerprint_body(t) for t in texts]


@pytest.mark.parametrize("thresholds", [DEFAULT_THRESHOLDS, MatchThresholds(jaccard=0.3, short_words=20),
                                        MatchThresholds(containment=0.5, min_length_ratio=0.2)])
def test_verifying_many_at_once_gives_verify_pairs_answers(thresholds):
    pool = _pairs_pool()
    stack = FingerprintStack.of(pool)
    left, right = zip(*[(i, j) for i in range(len(pool)) for j in range(len(pool))])
    at_once = verify_rows(stack, np.array(left), np.array(right), thresholds)
    one_by_one = [verify_pair(pool[i], pool[j], thresholds) for i, j in zip(left, right)]
    assert at_once.tolist() == one_by_one
    assert any(one_by_one) and not all(one_by_one)
    for i, a in enumerate(pool):
        assert verify_many(a, stack, thresholds).tolist() == one_by_one[i * len(pool):(i + 1) * len(pool)]


@pytest.mark.parametrize("thresholds", [DEFAULT_THRESHOLDS, MatchThresholds(containment=0.5, min_length_ratio=0.2)])
def test_verifying_many_with_samples_read_on_demand_gives_the_same_answers(thresholds):
    pool = _pairs_pool()
    full = FingerprintStack.of(pool)
    bare = FingerprintStack(full.signatures, full.shingle_counts, full.word_counts, agencies=full.agencies)
    read = []

    def sample_of(k):
        read.append(k)
        return full.sample(k)

    for a in pool:
        assert verify_many(a, bare, thresholds, sample_of=sample_of).tolist() == verify_many(
            a, full, thresholds).tolist()
    assert 0 < len(read) < len(pool) ** 2  # only the rows that reach the sample rule are read


def test_a_stack_gives_its_fingerprints_back():
    pool = _pairs_pool()
    stack = FingerprintStack.of(pool)
    assert len(stack) == len(pool)
    assert [stack.fingerprint(i) for i in range(len(pool))] == pool
    with pytest.raises(ValueError):
        FingerprintStack.of([])


def test_fingerprinting_does_not_load_datasketch_or_scipy():
    # The permutations are drawn as datasketch draws them (the signature tests above compare), so
    # the pipeline's processes need not import datasketch, whose import pulls in scipy.
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from transforms.syndication import fingerprint_body; fingerprint_body('a b c d'); "
            "print(any(m.split('.')[0] in ('datasketch', 'scipy') for m in sys.modules))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

