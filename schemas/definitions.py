"""The one declaration of every record newswire reads or writes.

Change a record here and the Beam row types, the BigQuery schemas and the DuckDB DDL follow
(``schemas.generate``). Bump ``schema_version`` of a table whenever a field changes meaning.
"""

from __future__ import annotations

from .fields import Field, Table

SCHEMA_VERSION = 1
_SCHEMA_VERSION_TEXT = "Version of the table's declaration the row was written under (schemas/definitions.py)."

_IMAGE = (
    Field("url", "STRING", description="Image URL, when the source gave one."),
    Field("caption", "STRING", description="Caption text with the credit removed."),
    Field("credit", "STRING", description="Photo credit, e.g. 'Palestinian President Office/Handout via Xinhua'."),
)

_LINEAGE = (
    Field("feed_id", "STRING", "REQUIRED", "Feed the item came from (feeds.yaml id)."),
    Field("message_id", "STRING", "REQUIRED",
          "Pub/Sub message id, or file://PATH#LN for items read from files."),
    Field("fetched_at", "TIMESTAMP", "REQUIRED", "When the poller fetched the feed (UTC)."),
)

# The raw-item message: the contract between pollers and pipeline (DESIGN.md).
RAW_ITEM = Table(
    name="raw_item",
    description="One feed entry as published by a poller (Pub/Sub message data).",
    schema_version=SCHEMA_VERSION,
    fields=(
        Field("schema_version", "INT64", "REQUIRED"),
        Field("feed_id", "STRING", "REQUIRED"),
        Field("feed_url", "STRING", "REQUIRED"),
        Field("agency_hint", "STRING"),
        Field("fetched_at", "STRING", "REQUIRED", "RFC 3339."),
        Field("http", "RECORD", fields=(
            Field("etag", "STRING"),
            Field("last_modified", "STRING"),
            Field("status", "INT64"),
        )),
        Field("entry", "RECORD", "REQUIRED", fields=(
            Field("id", "STRING"),
            Field("link", "STRING"),
            Field("title", "STRING"),
            Field("summary", "STRING"),
            Field("content", "RECORD", "REPEATED", fields=(
                Field("type", "STRING"),
                Field("value", "STRING"),
            )),
            Field("published", "STRING"),
            Field("updated", "STRING"),
            Field("author", "STRING"),
            Field("tags", "STRING", "REPEATED"),
            Field("media", "RECORD", "REPEATED", fields=_IMAGE),
            Field("guid_is_identity", "BOOL",
                  description="false when the poller found that this entry's guid (id, kept as the "
                              "feed gave it) does not identify it: other entries of the same poll "
                              "share it with different links, or it is the site's or feed's home "
                              "page. The entry is then identified by its link (else title and "
                              "date, else content). Absent or null means true; pollers write it "
                              "only when false."),
            Field("broken", "STRING",
                  description="set when the poller could not send the entry as it is (the feed parser "
                              "failed on it, it did not encode, or it was over the message size "
                              "limit): why. The pipeline dead-letters such a message; raw_entry holds "
                              "the start of the entry. Absent on every good entry."),
        )),
        Field("page_html", "STRING"),
        Field("raw_entry", "STRING",
              description="with entry.broken: the start of the entry as the poller had it (markup, "
                          "or the message it would have been), for whoever fixes it."),
    ),
)

RAW_ITEMS = Table(
    name="raw_items",
    description="Every message as received, for replay.",
    schema_version=SCHEMA_VERSION,
    # Not message_id: ids restart with an emulator's process and a file line's id names a place,
    # not content, so keying on them would drop new items as replays (transforms.identity.replay_key).
    primary_key=("replay_key",),
    partition_field=None,  # ingestion time
    clustering=("feed_id",),
    fields=(
        Field("replay_key", "STRING", "REQUIRED",
              "What names the message's content: 'item:<feed_id>/<item_key>' from the poller's "
              "attributes (one entry in one version), else 'data:<SHA-256 of the payload>'. A message "
              "whose replay_key is already here is a replay and is skipped whole."),
        Field("message_id", "STRING", "REQUIRED", "Pub/Sub message id, or file://PATH#LN (lineage)."),
        Field("feed_id", "STRING", description="From the message attributes or payload; NULL if unreadable."),
        Field("item_key", "STRING", description="Poller's key for the entry (attribute)."),
        Field("fetched_at", "TIMESTAMP", description="Event time claimed by the poller."),
        Field("received_at", "TIMESTAMP", "REQUIRED", "When the pipeline read the message."),
        Field("attributes", "JSON", description="Pub/Sub attributes as a JSON object."),
        Field("payload", "STRING", "REQUIRED", "Message data, decoded as UTF-8 with replacement."),
    ),
)

ARTICLES = Table(
    name="articles",
    description="One row per (article_id, version): one outlet's article, cleaned.",
    schema_version=SCHEMA_VERSION,
    primary_key=("article_id", "version"),
    partition_field="published_at",
    clustering=("agency", "feed_id"),
    fields=(
        Field("article_id", "STRING", "REQUIRED",
              "Stable id of one outlet's article: from guid, canonical URL or content (see id_source)."),
        Field("version", "INT64", "REQUIRED", "1 for the first content seen; +1 for each correction."),
        Field("content_hash", "STRING", "REQUIRED", "SHA-256 of the clean title and body."),
        Field("id_source", "STRING", "REQUIRED", "'guid', 'url' or 'content'."),
        Field("cluster_id", "STRING", description="article_id of the first article of this wire story."),
        Field("agency", "STRING", description="Lowercase agency slug, or NULL when no agency is attributed."),
        Field("title", "STRING", "REQUIRED", "Clean headline."),
        Field("standfirst", "STRING", description="Summary/standfirst when it is not a body paragraph."),
        Field("body", "STRING", "REQUIRED", "Clean plain text, paragraphs separated by a newline."),
        Field("dateline", "STRING", description="Dateline removed from the first paragraph, as written."),
        Field("dateline_place", "STRING", description="Place named by the dateline."),
        Field("byline", "STRING", description="Author as the feed or the page named them."),
        Field("language", "STRING", description="ISO 639-1 code of the body's language."),
        Field("word_count", "INT64", "REQUIRED", "Words in the clean body."),
        Field("url", "STRING", description="Canonical URL (tracking parameters and fragment removed)."),
        Field("link", "STRING", description="Link as the feed gave it."),
        Field("guid", "STRING", description="The entry's guid as the feed gave it (it may not identify the entry)."),
        Field("tags", "STRING", "REPEATED", description="The entry's categories/tags as the feed gave them."),
        Field("images", "RECORD", "REPEATED", description="Images of the entry, with captions and credits "
              "taken out of the body.", fields=_IMAGE),
        Field("published_at", "TIMESTAMP", "REQUIRED", "Publication time in UTC."),
        Field("published_raw", "STRING", description="Date string as the feed gave it."),
        Field("published_from_fetch", "BOOL", "REQUIRED",
              "True when the feed had no usable date and fetched_at was used."),
        Field("updated_at", "TIMESTAMP", description="Update time the feed gave, in UTC."),
        Field("withdrawn", "BOOL", "REQUIRED", "The agency withdrew (killed) this story."),
        Field("removed_rules", "STRING", "REPEATED",
              description="Boilerplate rules that fired on this item, and cleaning markers: clean.* (echoes "
                          "removed), page.body (the text came from the fetched article page) or "
                          "page.fallback_* (the page was fetched but not used, and why)."),
        *_LINEAGE,
        Field("processed_at", "TIMESTAMP", "REQUIRED", "When the pipeline produced this row."),
        Field("schema_version", "INT64", "REQUIRED", _SCHEMA_VERSION_TEXT),
        # Appended last: BigQuery adds new columns to an existing table at the end.
        Field("outlet", "STRING",
              description="The outlet that published the article: the registrable domain of the "
                          "canonical URL's host (else the link's, else the feed's), lowercase, IDNA, "
                          "without www., e.g. 'example.co.uk' for news.example.co.uk; an IP address "
                          "or single-label host as it is. Two feeds of one site share it."),
    ),
)

DEAD_LETTER = Table(
    name="dead_letter",
    description="Every input that failed, with enough to fix and replay it.",
    schema_version=SCHEMA_VERSION,
    primary_key=("dead_letter_id",),
    partition_field=None,  # ingestion time
    clustering=("step", "feed_id"),
    fields=(
        Field("dead_letter_id", "STRING", "REQUIRED", "Hash of message id, step and payload (idempotent)."),
        Field("message_id", "STRING", description="Pub/Sub message id, or file://PATH#LN (lineage)."),
        Field("feed_id", "STRING", description="Feed of the input, when it could be read."),
        Field("step", "STRING", "REQUIRED", "Pipeline step that failed, e.g. 'parse'."),
        Field("error_class", "STRING", "REQUIRED", "Python class of the error, e.g. 'CleanError'."),
        Field("error_message", "STRING", "REQUIRED", "What went wrong, as the error said it."),
        Field("payload", "STRING", "REQUIRED", "Raw message data (UTF-8, or base64 if payload_encoding says so)."),
        Field("payload_encoding", "STRING", "REQUIRED", "'utf-8' or 'base64'."),
        Field("attributes", "JSON", description="Pub/Sub attributes as a JSON object."),
        Field("failed_at", "TIMESTAMP", "REQUIRED", "When the step failed."),
        Field("schema_version", "INT64", "REQUIRED", _SCHEMA_VERSION_TEXT),
    ),
)

STORIES = Table(
    name="stories",
    description="One row per cluster of syndicated copies of one wire story (merged ones point to the survivor).",
    schema_version=SCHEMA_VERSION,
    primary_key=("cluster_id",),
    partition_field="first_seen",
    clustering=("agency",),
    fields=(
        Field("cluster_id", "STRING", "REQUIRED",
              "article_id of the story's earliest article; articles.cluster_id refers to it."),
        Field("canonical_article_id", "STRING", "REQUIRED",
              "The agency's own copy when present, else a copy attributed to the agency that kept its "
              "dateline, else the earliest article."),
        Field("agency", "STRING", description="Agency of the canonical copy, else of the earliest attributed copy."),
        Field("title", "STRING", description="Title of the canonical copy."),
        Field("first_seen", "TIMESTAMP", "REQUIRED", "Fetch time of the story's earliest article."),
        Field("last_seen", "TIMESTAMP", "REQUIRED", "Fetch time of the story's latest article."),
        Field("outlet_count", "INT64", "REQUIRED",
              "Number of distinct outlets that carried the story (articles.outlet; an article without "
              "one counts as its feed): two feeds of one site count once."),
        Field("feed_ids", "STRING", "REPEATED", description="The feeds that carried the story, sorted."),
        Field("article_ids", "STRING", "REPEATED", description="Every article of the story, sorted."),
        Field("updated_at", "TIMESTAMP", "REQUIRED",
              "When this snapshot was made; later snapshots of a cluster_id supersede earlier ones."),
        Field("schema_version", "INT64", "REQUIRED", _SCHEMA_VERSION_TEXT),
        # Appended last: BigQuery adds new columns to an existing table at the end.
        Field("merged_into", "STRING",
              description="Set when a later article showed this story to be part of another: the "
                          "surviving cluster_id. One row per story is WHERE merged_into IS NULL."),
        Field("outlets", "STRING", "REPEATED",
              description="The distinct outlets that carried the story (articles.outlet, else the "
                          "article's feed_id), sorted; outlet_count is their number."),
    ),
)

LEARNED_BOILERPLATE = Table(
    name="learned_boilerplate",
    description="Lines learned as one source's boilerplate (transforms.learning), with their counts.",
    schema_version=SCHEMA_VERSION,
    primary_key=("feed_id", "line_key"),
    partition_field=None,  # ingestion time: a small table of snapshots
    clustering=("feed_id",),
    fields=(
        Field("feed_id", "STRING", "REQUIRED", "The source (feeds.yaml id) whose items repeat the line."),
        Field("line_key", "STRING", "REQUIRED",
              "The line normalized as cleaning compares it (case, punctuation and spaces removed)."),
        Field("line", "STRING", "REQUIRED", "The line as the source first wrote it."),
        Field("learned", "BOOL", "REQUIRED",
              "True while the line is removed from the source's items; false once it fell below a "
              "threshold or was forgotten (unseen for the learning window)."),
        Field("items", "INT64", "REQUIRED", "Items of the source that carried the line while it was tracked."),
        Field("share", "FLOAT64", "REQUIRED", "items / the source's items since the line was first seen."),
        Field("days", "INT64", "REQUIRED",
              "Distinct publication days the line was seen on, counted up to the learn_min_days "
              "threshold (only whether it is met is kept)."),
        Field("stories", "INT64", "REQUIRED",
              "Distinct stories (headlines) the line was seen in, counted up to learn_min_stories."),
        Field("first_seen", "TIMESTAMP", "REQUIRED", "Publication time of the first item with the line."),
        Field("last_seen", "TIMESTAMP", "REQUIRED", "Publication time of the latest item with the line."),
        Field("updated_at", "TIMESTAMP", "REQUIRED",
              "When this snapshot was made; later snapshots of a line supersede earlier ones."),
        Field("schema_version", "INT64", "REQUIRED", _SCHEMA_VERSION_TEXT),
    ),
)

WAREHOUSE_TABLES: tuple[Table, ...] = (ARTICLES, RAW_ITEMS, DEAD_LETTER, STORIES, LEARNED_BOILERPLATE)
