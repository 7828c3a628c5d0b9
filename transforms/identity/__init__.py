"""Identity: which article a clean item is, and which version of it.

``article_id`` names one outlet's article across polls and feeds (guid, else canonical URL, else a
hash of title and body); ``content_hash`` names what a reader sees, so a changed hash is a
correction; ``article_row`` is the ``articles`` row of a cleaned item (version 1). ``replay_key``
names a message's content, for the warehouse's replay check. ``next_version`` applies one unit to
an article's :class:`VersionState`: a repeat loses its article row, new content gets the next
version.

The Beam wrappers are in ``transforms.identity.dofns``: ``unit_key`` and ``DedupVersions``
(streaming: ``DedupVersionsStateful``, with a TTL; batch: grouped by article).
"""

from .ids import article_id, article_row, content_hash, identity_key, replay_key
from .versions import VersionState, next_version

__all__ = ["VersionState", "article_id", "article_row", "content_hash", "identity_key", "next_version", "replay_key"]
