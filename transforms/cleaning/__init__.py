"""Cleaning: a message's raw item, parsed and cleaned into a :class:`~transforms.model.CleanArticle`.

``parse_raw_item`` reads the message; ``clean_item`` turns its HTML (feed content, summary, or the
fetched article page) into plain-text paragraphs, strips site and agency boilerplate by the rule
packs in ``rules/`` (``RuleSet``, ``load_rules``), and finds the agency, dateline, byline, dates,
canonical URL, language and images. Also exported: the pieces it is made of (normalization,
boilerplate, dates, URLs, language, metadata, withdrawal notices).

Not imported here: ``transforms.cleaning.page`` (article pages, with trafilatura, loaded only
where a page is cleaned) and ``transforms.cleaning.dofns`` (the Beam wrappers: ``ItemSteps`` and
``ParseCleanIdentify``, which runs parse, clean and identity's ``article_row`` per message and
makes its :class:`~transforms.model.Unit`).
"""

from .boilerplate import LEARNED_RULE_ID, Evidence, choose_agency, split_caption_credit, strip_boilerplate
from .clean import clean_item, merge_images, pick_body
from .dates import Published, parse_date, resolve_published
from .language import LANGUAGES, detect_language
from .metadata import clean_byline, word_count
from .normalize import (
    clean_title,
    drop_title_echo,
    html_to_blocks,
    html_to_paragraphs,
    normalize_text,
    paragraph_key,
    split_standfirst,
    text_to_paragraphs,
)
from .parse import parse_raw_item
from .rulepacks import RULES_DIR, RuleError, RuleSet, default_rules, load_rules
from .urls import canonical_url, guid_identifies, is_home_page_url, outlet_of, outlet_of_host
from .withdrawal import default_withdrawal_rules, load_withdrawal_rules, withdrawal_notice

__all__ = [
    "LANGUAGES",
    "LEARNED_RULE_ID",
    "RULES_DIR",
    "Evidence",
    "Published",
    "RuleError",
    "RuleSet",
    "canonical_url",
    "choose_agency",
    "clean_byline",
    "clean_item",
    "clean_title",
    "default_rules",
    "default_withdrawal_rules",
    "detect_language",
    "drop_title_echo",
    "guid_identifies",
    "html_to_blocks",
    "html_to_paragraphs",
    "is_home_page_url",
    "load_rules",
    "load_withdrawal_rules",
    "merge_images",
    "normalize_text",
    "outlet_of",
    "outlet_of_host",
    "paragraph_key",
    "parse_date",
    "parse_raw_item",
    "pick_body",
    "resolve_published",
    "split_caption_credit",
    "split_standfirst",
    "strip_boilerplate",
    "text_to_paragraphs",
    "withdrawal_notice",
    "word_count",
]
