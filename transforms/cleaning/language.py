"""Language of an article (ISO 639-1), detected offline from its first few hundred characters.

Detector: py3langid (the maintained fork of langid.py: a naive Bayes model over byte n-grams that
ships inside the package, ~4 MB, no download, built for short texts such as tweets and headlines),
restricted to the languages the ingested agencies publish in (``LANGUAGES``), which both speeds it
up and removes far-fetched answers. lingua-language-detector was measured as well: more accurate on
very short strings but ~3-5x slower per item and ~100 MB installed, which the 2,000 items/s per core
budget of the cleaning chain cannot afford.

Cheap shortcuts before the model (which costs ~100 µs on a 300-character sample): text in Hangul,
Kana, Han, Cyrillic, Devanagari or Thai script is decided by its script; Arabic-script text goes to
the model restricted to ar/fa/ur; Latin-script text in which at least ``EN_SHARE`` of the words are
English function words ("the", "of", "said" … words that other Latin-script languages do not use)
is English — most items are, and English never scores that without being English. A text with too
few letters, or a model answer below ``MIN_CONFIDENCE``, gives None: no language beats a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

# What the twenty agencies' services are written in (and Dutch, a frequent republisher language).
LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl", "tr", "ru", "ar", "fa", "ur",
                              "zh", "ja", "ko", "hi", "id", "ms")
SAMPLE_CHARS = 300
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.5
EN_SHARE = 0.18
EN_MIN_WORDS = 12
_EN_FUNCTION = frozenset(
    "the of and to was for that with said by from has have were are this will after which their "
    "would been its who but had they could than about into over also".split())
_WORDS = re.compile(r"[^\W\d_]+")
# For ASCII text _WORDS's words are the runs of letters: every other byte to a space, then split (a
# table in C instead of a regex tried at every position, ~5x faster).
_ASCII_NOT_LETTER = bytes(c for c in range(128) if not chr(c).isalpha())
_ASCII_LETTER_RUNS = bytes.maketrans(_ASCII_NOT_LETTER, b" " * len(_ASCII_NOT_LETTER))

_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ko", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")


@lru_cache(maxsize=2)
def _identifier(languages: tuple[str, ...]):
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    ident.set_languages(list(languages))
    return ident


def _sample(title: str, paragraphs: Sequence[str]) -> str:
    parts, size = [], 0
    for p in paragraphs:
        parts.append(p)
        size += len(p) + 1
        if size >= SAMPLE_CHARS:
            break
    text = " ".join(parts)[:SAMPLE_CHARS]
    return text if len(text) >= 2 * MIN_LETTERS else f"{title} {text}".strip()


def _words(low: str) -> list[str]:
    if low.isascii():
        return low.encode("ascii").translate(_ASCII_LETTER_RUNS).decode("ascii").split()
    return _WORDS.findall(low)


def detect_language(title: str, paragraphs: Sequence[str]) -> str | None:
    """ISO 639-1 code of the article's language, or None when it cannot be told."""
    text = _sample(title, paragraphs)
    words = _words(text.lower())
    if sum(map(len, words)) < MIN_LETTERS:
        return None
    # (set membership mapped in C: the same count as a generator of booleans, without a Python
    # frame per word of every English article)
    if len(words) >= EN_MIN_WORDS and sum(map(_EN_FUNCTION.__contains__, words)) >= EN_SHARE * len(words):
        return "en"
    if not text.isascii():
        if _ARABIC.search(text):
            lang, prob = _identifier(("ar", "fa", "ur")).classify(text)
            return lang if prob >= MIN_CONFIDENCE else None
        for code, script in _SCRIPTS:
            if len(script.findall(text)) * 4 >= len(text):
                return code
    lang, prob = _identifier(LANGUAGES).classify(text)
    return lang if prob >= MIN_CONFIDENCE else None
