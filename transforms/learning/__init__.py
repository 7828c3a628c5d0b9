"""Learning: the lines one source (feed) repeats across many of its items, learned as boilerplate.

``SourceLines`` counts a source's lines (and ``QuickLines``, the quick tier, its short edge lines
across a few unrelated stories) and decides, by the thresholds of ``LearnConfig``, which
are its boilerplate; ``FeedLearner`` is what the pipeline holds per feed around it (the learned
set, forgetting, and the ``learned_boilerplate`` rows that changed); ``story_key``,
``observation_time``, ``feed_key`` and ``fetch_order`` say how an item counts and in which order.
Cleaning drops the learned lines (``clean_item(raw, learned=...)``).

The Beam wrapper is in ``transforms.learning.dofns``: ``CleanWithLearnedLines``, the cleaning
chain keyed by feed (streaming: keyed state with a TTL; batch: each feed's items in fetch order).
"""

from .learned import LearnConfig, QuickLines, SourceLines, edge_lines, headline_words, observe_article, related
from .learner import FeedLearner, carries, feed_key, fetch_order, observation_time, story_key

__all__ = ["FeedLearner", "LearnConfig", "QuickLines", "SourceLines", "carries", "edge_lines", "feed_key",
           "fetch_order", "headline_words", "observation_time", "observe_article", "related", "story_key"]
