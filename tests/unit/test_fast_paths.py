"""Shortcuts taken for speed give exactly the answers of the plain path they stand in for.

Each fast path (a cache, a prefilter, an ASCII-only formula) is compared with the general code it
replaces, on tricky strings made to hit its edges and on the texts of the golden corpus.
"""

from __future__ import annotations

import itertools
import random

import orjson
import pytest

from tests.quality.check_cleaning import load_corpus
from transforms.cleaning import clean_item, default_rules, html_to_blocks, parse_raw_item, pick_body
from transforms.model import _WORD, word_count


def _regex_word_count(text: str) -> int:
    return len(_WORD.findall(text))


@pytest.fixture(scope="module")
def golden_texts() -> list[str]:
    """Every body paragraph, title and summary of the golden corpus, as the chain sees them."""
    texts: list[str] = []
    for item in load_corpus():
        raw = parse_raw_item(orjson.dumps(item.raw), {}, item.id)
        texts += html_to_blocks(pick_body(raw.entry)[0]).paragraphs
        texts += html_to_blocks(raw.entry.summary).paragraphs
        texts.append(raw.entry.title or "")
        texts.append("\n".join(clean_item(raw).body))
    return texts


# --- word count ---------------------------------------------------------------------------------

def test_ascii_word_count_equals_the_regex_on_every_short_string_of_its_alphabet():
    # Letters, digits, every joiner, "_" (a word character that is not a letter) and separators:
    # all strings up to five characters, so every way joiners sit between runs is covered.
    alphabet = "a1_'-.,: \n!"
    for n in range(6):
        for chars in itertools.product(alphabet, repeat=n):
            text = "".join(chars)
            assert word_count(text) == _regex_word_count(text), repr(text)


def test_ascii_word_count_equals_the_regex_on_random_and_real_text(golden_texts):
    rng = random.Random(11)
    samples = ["".join(rng.choice("ab9Z_'-.,:;!? \t\n\"()") for _ in range(rng.randint(0, 60)))
               for _ in range(5000)]
    samples += ["U.S. forces", "3,000.50 yuan", "a-b-c", "a--b", "'quoted'", "rock'n'roll", "end.", ".start"]
    for text in samples + golden_texts:
        assert word_count(text) == _regex_word_count(text), repr(text)
    assert sum(t.isascii() for t in golden_texts) > 100  # the fast path was really taken
    assert any(not t.isascii() for t in golden_texts)  # and the regex path too


def test_non_ascii_text_keeps_the_regex_count():
    assert word_count("İki kıyı devletinin bakanları") == 4
    assert word_count("两个沿海国家") == 6
    assert word_count("l’équipe a gagné") == 3
