"""Beam's coder for :class:`~transforms.model.Unit`, registered when this module is imported.

Every stage's Beam wrappers import it, so any pipeline of theirs that types a collection of units
(``tuple[str, Unit]`` before the dedup step) encodes each unit as one pickle: pickle writes the
unit's row dicts and their datetimes in C, where Beam's FastPrimitivesCoder walks every dict field
by field and pickles each datetime on its own (a tenth of the batch job's time when units were
dicts; benchmarks/bench_process.py). Units are never keys, so the coder need not be deterministic.
"""

from __future__ import annotations

from apache_beam import coders

from .model import Unit

coders.registry.register_coder(Unit, coders.PickleCoder)
