"""The paragraph classifier: boilerplate of some kind, or story content, from a paragraph's form.

A multinomial logistic regression over :mod:`transforms.cleaning.features`, trained by scikit-learn
(``python -m transforms.cleaning.train``) and shipped as a versioned JSON file in the package
(``models/paragraphs.json``: feature names, the coefficients of a boilerplate-or-content model and
of a model naming the boilerplate kind, the decision threshold and what it was trained on). At run
time it is evaluated here in plain Python over the few paragraphs that may bear a mark of
boilerplate (a cheap test rules the others out first, see ``features.may_bear_mark``), so no
scikit-learn is needed on the workers and numpy's per-call overhead is not paid on a row or two.

A paragraph is dropped when the probability that it is boilerplate reaches the model's threshold
(set high enough that story sentences stay: losing a sentence is worse than leaking a line). Its
``removed_rules`` entry is ``classifier.<kind>@<score>``: the most likely boilerplate kind and the
probability that the paragraph is boilerplate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import mul
from pathlib import Path

import numpy as np

from .features import EVIDENCE_COLUMNS, FEATURE_NAMES, may_bear_mark, paragraph_features
from .rulepacks import RuleSet

MODEL_PATH = Path(__file__).with_name("models") / "paragraphs.json"
RULE_PREFIX = "classifier."
# Paragraphs judged: the last TAIL of an item, and any of fewer than SHORT_WORDS words.
TAIL = 3
SHORT_WORDS = 30


@dataclass(frozen=True)
class Verdict:
    kind: str     # the most likely boilerplate kind
    score: float  # probability that the paragraph is boilerplate

    @property
    def rule_id(self) -> str:
        return f"{RULE_PREFIX}{self.kind}@{self.score:.2f}"


@dataclass(frozen=True)
class ParagraphModel:
    """Two linear models: boilerplate or content (the decision), and which kind (the name)."""

    version: int
    weights: np.ndarray       # (features,) of the boilerplate-vs-content model
    bias: float
    kinds: tuple[str, ...]
    kind_coef: np.ndarray     # (kinds, features)
    kind_intercept: np.ndarray
    threshold: float          # drop when P(boilerplate) >= threshold
    # Never drop a paragraph longer than this: an about-paragraph is long, a story paragraph longer.
    max_words: int
    # The same coefficients as Python floats, for judge's plain-Python sums.
    _w: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _kinds: tuple[tuple[tuple[float, ...], float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_w", tuple(self.weights.tolist()))
        object.__setattr__(self, "_kinds", tuple(zip(map(tuple, self.kind_coef.tolist()),
                                                     self.kind_intercept.tolist())))

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ParagraphModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURE_NAMES:
            raise ValueError(f"{path}: trained on other features than transforms.cleaning.features has; "
                             "retrain with python -m transforms.cleaning.train")
        kinds = data["kinds"]
        return cls(version=int(data["version"]),
                   weights=np.asarray(data["boilerplate"]["coef"], dtype=np.float64),
                   bias=float(data["boilerplate"]["intercept"]),
                   kinds=tuple(kinds["classes"]),
                   kind_coef=np.asarray(kinds["coef"], dtype=np.float64),
                   kind_intercept=np.asarray(kinds["intercept"], dtype=np.float64),
                   threshold=float(data["threshold"]), max_words=int(data.get("max_words", 120)))

    def boilerplate_probability(self, features: Sequence[Sequence[float]]) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))

    def judge(self, paragraphs: Sequence[str], rs: RuleSet) -> list[Verdict | None]:
        """Per paragraph: a Verdict when it is boilerplate, None when it is content."""
        if not paragraphs:
            return []
        n = len(paragraphs)
        # Only paragraphs boilerplate can be are read: the last three, and short ones elsewhere (a
        # long paragraph amid the story is story). This keeps the cost within the cleaning budget.
        # Of those, only the ones that may bear a mark can go (see below), so the features are
        # computed for them alone; a cheap test of the marks rules out the others.
        cand = [i for i, t in enumerate(paragraphs)
                if (n - i <= TAIL or t.count(" ") < SHORT_WORDS) and may_bear_mark(paragraphs, i, rs)]
        out: list[Verdict | None] = [None] * n
        if not cand:
            return out
        # A few rows at most: plain Python sums beat numpy's per-call overhead on matrices this small.
        w, bias, threshold, max_words = self._w, self.bias, self.threshold, self.max_words
        for i, v in zip(cand, paragraph_features(paragraphs, rs, only=cand)):
            # Form alone (short, at the end) never removes text: a story's last line looks like that
            # too. A paragraph goes only when it also bears a mark (a cue word, an address, a code …).
            if not any(v[j] for j in EVIDENCE_COLUMNS) or paragraphs[i].count(" ") + 1 > max_words:
                continue
            z = sum(map(mul, v, w)) + bias
            p = 1.0 / (1.0 + math.exp(-z)) if z > -700.0 else 0.0  # math.exp overflows where numpy's is inf
            if p >= threshold:
                logits = [sum(map(mul, v, c)) + b for c, b in self._kinds]
                out[i] = Verdict(kind=self.kinds[logits.index(max(logits))], score=p)
        return out


@lru_cache(maxsize=1)
def default_model() -> ParagraphModel | None:
    """The bundled model, or None when the package carries none (then only rules apply)."""
    if not MODEL_PATH.exists():
        return None
    return ParagraphModel.load(MODEL_PATH)
