"""Versions and duplicates of one article: the rule the dedup step applies to each of its units.

A unit whose content hash the article has shown before is a repeat (its article row is dropped, its
raw row still goes on); other content is the article's next version. The streaming step keeps a
:class:`VersionState` per article in keyed state, the batch step one per group
(``transforms.identity.dofns``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transforms.model import Unit

# How many distinct content hashes one article keeps: corrections past this many are rare, and the
# sink still rejects a repeat of an evicted hash, so the bound only costs a re-check there.
_MAX_HASHES = 32


@dataclass
class VersionState:
    """What the pipeline remembers of one article: its latest version and recent content hashes."""

    version: int = 0
    hashes: list[str] = field(default_factory=list)


def next_version(state: VersionState, unit: Unit) -> Unit | None:
    """Apply one unit to an article's state (mutated). Returns the unit to emit, with its version,
    or the unit without its article when the content is a repeat (None only if there was no article).
    """
    row = unit.article
    if row is None:
        return None
    if row["content_hash"] in state.hashes:
        # The raw row still goes on: the message itself must be recorded as received.
        return unit._replace(article=None)
    state.version += 1
    state.hashes = (state.hashes + [row["content_hash"]])[-_MAX_HASHES:]
    return unit._replace(article={**row, "version": state.version})
