"""The embedded warehouse: a DuckDB file with the tables declared in ``schemas``.

Every write is one transaction, so a reader never sees half a batch, and every write is idempotent:
raw_items and dead_letter ignore rows whose primary key exists; articles drop a row whose content
hash the article already has and number the others after the article's latest version (a new
version keeps the cluster_id its article was first written with); stories are upserted, keeping the
snapshot with the latest ``updated_at``, and so are learned_boilerplate rows. Running the same input
twice, or replaying messages after a restart, therefore leaves the same rows.

The views of ``schemas.views`` (latest version of each article, one row per story, and the
``<table>_unique`` views BigQuery has) are created with the tables, and tables, columns and views
carry their descriptions from ``schemas`` (``COMMENT ON``).
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas import (
    ARTICLES,
    DEAD_LETTER,
    LEARNED_BOILERPLATE,
    RAW_ITEMS,
    STORIES,
    WAREHOUSE_TABLES,
    Table,
    arrow_schema,
    duckdb_comments,
    duckdb_ddl,
    duckdb_type,
)
from schemas.views import (
    DERIVED_VIEWS,
    duckdb_unique_view_sql,
    duckdb_view_comment,
    duckdb_view_sql,
    unique_view_description,
    unique_view_name,
)
from transforms.model import Unit

# The unit's fields that hold one row (or None), by table, in the order they are written.
_ONE_ROW = ((RAW_ITEMS, attrgetter("raw_item")), (DEAD_LETTER, attrgetter("dead_letter")),
            (ARTICLES, attrgetter("article")))


class WarehouseError(RuntimeError):
    """The warehouse file cannot be used as it is; the message says why and what to do."""


# Extensions are never fetched: a warehouse needs none, and offline the attempt only fails slowly
# (a SQLite file given as the warehouse would otherwise make DuckDB try to download its reader).
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

# How much write-ahead log the writer lets build up before DuckDB checkpoints it into the file.
# A checkpoint rewrites what changed in the tables and grows with them: at DuckDB's default (16 MB,
# a few thousand units) a job paid one every few writes, each costlier than the last, and a batch
# of 100,000 items spent a growing share of its time there. At 1 GB a checkpoint comes every few
# hundred thousand units and at close; the price is a longer log to replay after a crash.
CHECKPOINT_THRESHOLD = "1GB"


def open_error(path: str | Path, exc: duckdb.Error) -> WarehouseError:
    """What a failure to open the warehouse file means for the user."""
    text = str(exc)
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        return WarehouseError(
            f"warehouse {path} is in use by another process{f' (PID {pid[1]})' if pid else ''}, a "
            "running 'newswire run' or 'newswire process': query it through that one with "
            "'newswire query', or stop it first")
    if "not a valid DuckDB database" in text:
        return WarehouseError(f"warehouse {path} is not a DuckDB database (a damaged file, or another "
                              "kind of file): move it away, or give --warehouse a new path")
    if "sqlite" in text.lower():
        return WarehouseError(f"warehouse {path} is a SQLite file, not a DuckDB database: give "
                              "--warehouse a .duckdb path (the pollers' state is the .pollers.sqlite file)")
    return WarehouseError(f"cannot open warehouse {path}: {text.splitlines()[0]}")


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    skipped: int  # already present (idempotent replay) or a repeat of known content


class DuckDBWarehouse:
    """One process-wide writer per file: DuckDB allows a single writing process per database."""

    _instances: dict[str, "DuckDBWarehouse"] = {}
    _instances_lock = threading.Lock()

    def __init__(self, path: str | Path) -> None:
        self.path = str(Path(path).resolve())
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = duckdb.connect(self.path, config=_CONFIG)
        except duckdb.Error as exc:
            raise open_error(self.path, exc) from exc
        self._conn.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        self._lock = threading.Lock()
        try:
            self.ensure_tables()
        except BaseException:
            self._conn.close()  # release the file: the caller may fix it and try again
            raise

    @classmethod
    def shared(cls, path: str | Path) -> "DuckDBWarehouse":
        key = str(Path(path).resolve())
        with cls._instances_lock:
            inst = cls._instances.get(key)
            if inst is None:
                inst = cls._instances[key] = cls(key)
            return inst

    @classmethod
    def close_all(cls) -> None:
        with cls._instances_lock:
            for inst in cls._instances.values():
                inst._conn.close()
            cls._instances.clear()

    def ensure_tables(self) -> None:
        with self._lock:
            self._refuse_foreign_file()
            self._migrate_raw_items()
            added: set[tuple[str, str]] = set()
            for table in WAREHOUSE_TABLES:
                self._conn.execute(duckdb_ddl(table))
                added |= {(table.name, c) for c in self._add_missing_columns(table)}
                self._conn.execute(duckdb_unique_view_sql(table))
                # Descriptions as BigQuery has them; set on every start, so they follow schemas/.
                for statement in (*duckdb_comments(table), duckdb_view_comment(
                        unique_view_name(table), unique_view_description(table))):
                    self._conn.execute(statement)
            for view in DERIVED_VIEWS:
                self._conn.execute(duckdb_view_sql(view))
                self._conn.execute(duckdb_view_comment(view.name, view.description))
            if added & {("articles", "outlet"), ("stories", "outlets")} or self._conn.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM stories WHERE outlets IS NULL LIMIT 1)").fetchone()[0]:
                self._migrate_outlets()

    def _refuse_foreign_file(self) -> None:
        """A DuckDB file with tables and none of newswire's belongs to something else: refuse it
        rather than add newswire's tables beside another application's."""
        have = sorted(r[0] for r in self._conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall())
        ours = {t.name for t in WAREHOUSE_TABLES} | {v.name for v in DERIVED_VIEWS}
        if have and not ours & set(have):
            shown = ", ".join(have[:5]) + (", …" if len(have) > 5 else "")
            raise WarehouseError(
                f"warehouse {self.path} is another application's DuckDB database (tables {shown}, none "
                "of newswire's): give --warehouse a new path")

    def _migrate_raw_items(self) -> None:
        """Re-key a raw_items table of an older release (keyed by message_id) by ``replay_key``.

        DuckDB cannot change a primary key in place, so the table is copied in one transaction, each
        row's key computed as ``transforms.identity.replay_key`` computes it. Of old rows that name
        the same content, the first received is kept: the later ones were replays.
        """
        cols = {r[0] for r in self._conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'raw_items'").fetchall()}
        if not cols or "replay_key" in cols:
            return
        names = [f.name for f in RAW_ITEMS.fields if f.name != "replay_key" and f.name in cols]
        listed = ", ".join(f'"{c}"' for c in names)
        key = ("CASE WHEN coalesce(json_extract_string(attributes, '$.item_key'), '') <> '' "
               "THEN 'item:' || coalesce(json_extract_string(attributes, '$.feed_id'), '') || '/' "
               "|| json_extract_string(attributes, '$.item_key') ELSE 'data:' || sha256(payload) END")
        self._conn.execute("BEGIN")
        try:
            self._conn.execute(duckdb_ddl(RAW_ITEMS).replace('"raw_items"', '"raw_items_rekeyed"', 1))
            self._conn.execute(
                f'INSERT OR IGNORE INTO raw_items_rekeyed (replay_key, {listed}) '
                f'SELECT {key}, {listed} FROM raw_items ORDER BY received_at')
            self._conn.execute("DROP TABLE raw_items")
            self._conn.execute("ALTER TABLE raw_items_rekeyed RENAME TO raw_items")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _migrate_outlets(self) -> None:
        """Fill in the outlets of a file written before articles had ``outlet``: each old article's
        outlet from its URL, link or feed URL (as ``transforms.identity.article_row`` does), then
        each old story's ``outlets`` and ``outlet_count`` from its articles (it counted feeds).

        Runs in the start-up that added the columns, in one transaction, and again at a later start
        while a story lacks its outlets (a migration that was interrupted): every story written
        since has them.
        """
        from transforms.cleaning import outlet_of  # noqa: PLC0415 - the sink needs it only here

        self._conn.execute("BEGIN")
        try:
            rows = self._conn.execute(
                "SELECT a.article_id, a.version, a.url, a.link, json_extract_string(r.payload, '$.feed_url') "
                "FROM articles a LEFT JOIN raw_items r ON r.message_id = a.message_id "
                "WHERE a.outlet IS NULL").fetchall()
            # A message id may name several raw_items rows (a file line read in two runs): one each.
            found = {(aid, version): outlet for aid, version, *urls in rows
                     if (outlet := outlet_of(*urls)) is not None}
            if found:
                (ids, versions), names = zip(*found), list(found.values())
                outlets = pa.table({"article_id": pa.array(ids, pa.string()),  # noqa: F841 - read by SQL
                                    "version": pa.array(versions, pa.int64()),
                                    "outlet": pa.array(names, pa.string())})
                self._conn.execute("UPDATE articles AS a SET outlet = o.outlet FROM outlets o "
                                   "WHERE a.article_id = o.article_id AND a.version = o.version")
            self._conn.execute(
                "UPDATE stories AS s SET outlets = o.outlets, outlet_count = len(o.outlets) FROM ("
                "  SELECT m.cluster_id, list_sort(list_distinct(list(coalesce(a.outlet, a.feed_id)))) AS outlets"
                "  FROM (SELECT cluster_id, unnest(article_ids) AS article_id FROM stories"
                "        WHERE outlets IS NULL) m"
                "  JOIN articles a ON a.article_id = m.article_id"
                "  GROUP BY m.cluster_id) o "
                "WHERE s.cluster_id = o.cluster_id")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _add_missing_columns(self, table: Table) -> list[str]:
        """Bring a file written by an older release up to date: new optional columns are added
        (their names are returned); a missing required one cannot be filled in, so it is refused
        with what to do."""
        have = {r[0] for r in self._conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table.name]).fetchall()}
        added: list[str] = []
        for f in table.fields:
            if f.name in have:
                continue
            if f.mode == "REQUIRED":
                raise WarehouseError(
                    f"warehouse {self.path}: its table {table.name} lacks the required column {f.name!r}: "
                    "the file was made by another application (or by a newswire release too old to "
                    "upgrade); write to a new file (--warehouse NEW.duckdb)")
            self._conn.execute(f'ALTER TABLE "{table.name}" ADD COLUMN "{f.name}" {duckdb_type(f)}')
            added.append(f.name)
        return added

    # -- writes ----------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self):
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def write(self, table: Table, rows: list[dict]) -> WriteResult:
        """Write rows of one table in one transaction."""
        if not rows:
            return WriteResult(0, 0)
        with self._transaction():
            return self._write_articles(rows) if table is ARTICLES else self._insert_ignore(table, rows)

    def write_units(self, units: list[Unit]) -> dict[str, WriteResult]:
        """Write everything some messages produced (``transforms.model.Unit``) in one transaction,
        with the story snapshots and learned-line rows they carry (``stories`` and ``learned``).
        Returns what was written, by table name.

        A message whose ``replay_key`` is already in raw_items was written whole before (a replay
        after a restart, a re-publish, or a re-run of the same files) and is skipped whole: what the
        pipeline derives from it may differ now (learned boilerplate, newer rule packs), and must not
        become a version. The key names the content, never the message id, which restarts with an
        emulator and names only a place in a file (``transforms.identity.replay_key``).
        """
        results = {}
        with self._transaction():
            ids = pa.table({"id": pa.array([_replay_key(u) for u in units], pa.string())})  # noqa: F841
            done = {r[0] for r in self._conn.execute(
                "SELECT replay_key FROM raw_items WHERE replay_key IN (SELECT id FROM ids)").fetchall()}
            fresh = []
            for u in units:  # the first of several deliveries in one batch wins, as across batches
                key = _replay_key(u)
                if key not in done:
                    done.add(key)
                    fresh.append(u)
            known = self._known_articles([u.article["article_id"] for u in fresh if u.article])
            for table, row_of in _ONE_ROW:
                rows = [row for u in fresh if (row := row_of(u)) is not None]
                offered = sum(1 for u in units if row_of(u) is not None)
                result = WriteResult(0, 0)
                if rows:
                    result = self._write_articles(rows) if table is ARTICLES else self._insert_ignore(table, rows)
                results[table.name] = WriteResult(result.inserted, offered - result.inserted)
            # An article the warehouse had before this write is a version or a repeat: it keeps its
            # story (see _write_articles), so what a job that did not know it (a later batch run, a
            # restarted local job) computed as its story is not written either.
            stories = [row for u in fresh
                       if not (u.article and u.article["article_id"] in known)
                       for row in u.stories]
            results[STORIES.name] = self._upsert_stories(stories) if stories else WriteResult(0, 0)
            learned = [row for u in fresh for row in u.learned]
            results[LEARNED_BOILERPLATE.name] = self._upsert_learned(learned) if learned else WriteResult(0, 0)
        return results

    def _known_articles(self, article_ids: list[str]) -> set[str]:
        if not article_ids:
            return set()
        ids = pa.table({"id": pa.array(article_ids, pa.string())})  # noqa: F841 - read by SQL
        return {r[0] for r in self._conn.execute(
            "SELECT DISTINCT article_id FROM articles WHERE article_id IN (SELECT id FROM ids)").fetchall()}

    def _upsert_learned(self, rows: list[dict]) -> WriteResult:
        """Upsert learned-line snapshots: the latest ``updated_at`` wins, and a line keeps the
        earliest ``first_seen`` any snapshot gave it. Returns rows inserted or changed."""
        latest: dict[tuple[str, str], dict] = {}
        for r in rows:
            key = (r["feed_id"], r["line_key"])
            known = latest.get(key)
            if known is None or r["updated_at"] > known["updated_at"]:
                latest[key] = r
        batch = pa.Table.from_pylist(list(latest.values()), schema=arrow_schema(LEARNED_BOILERPLATE))  # noqa: F841
        table = LEARNED_BOILERPLATE.name
        names = LEARNED_BOILERPLATE.field_names()
        cols = ", ".join(f'"{c}"' for c in names)
        newer = f"excluded.updated_at > {table}.updated_at"
        merged = {"first_seen": f"least({table}.first_seen, excluded.first_seen)"}
        updates = ", ".join(
            f'"{c}" = ' + merged.get(c, f'CASE WHEN {newer} THEN excluded."{c}" ELSE {table}."{c}" END')
            for c in names if c not in LEARNED_BOILERPLATE.primary_key)
        written = self._conn.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM batch "
            f"ON CONFLICT ({', '.join(LEARNED_BOILERPLATE.primary_key)}) DO UPDATE SET {updates}"
        ).fetchone()[0]
        return WriteResult(written, len(rows) - written)

    def _upsert_stories(self, rows: list[dict]) -> WriteResult:
        """Merge story snapshots into ``stories``; returns rows inserted or changed.

        A story only grows: article and feed lists are united, first/last seen widened, and the
        canonical copy and title come from the latest snapshot (``updated_at``). So bundles written
        out of order cannot shrink a story, nor can a pipeline restarted without its state (the
        local runner keeps state in memory), whose new snapshots of a story know only the articles
        seen since; a story once merged into another stays merged.
        """
        latest: dict[str, dict] = {}
        for r in rows:
            known = latest.get(r["cluster_id"])
            if known is None or r["updated_at"] > known["updated_at"]:
                latest[r["cluster_id"]] = r
        batch = pa.Table.from_pylist(list(latest.values()), schema=arrow_schema(STORIES))  # noqa: F841
        names = STORIES.field_names()
        cols = ", ".join(f'"{c}"' for c in names)
        newer = "excluded.updated_at > stories.updated_at"
        union = "list_sort(list_distinct(list_concat(stories.{0}, excluded.{0})))"
        merged = {
            "first_seen": "least(stories.first_seen, excluded.first_seen)",
            "last_seen": "greatest(stories.last_seen, excluded.last_seen)",
            "feed_ids": union.format("feed_ids"),
            "article_ids": union.format("article_ids"),
            "outlets": union.format("outlets"),
            "outlet_count": f"len({union.format('outlets')})",
            "updated_at": "greatest(stories.updated_at, excluded.updated_at)",
            "merged_into": f"CASE WHEN {newer} THEN coalesce(excluded.merged_into, stories.merged_into) "
                           "ELSE coalesce(stories.merged_into, excluded.merged_into) END",
        }
        updates = ", ".join(
            f'"{c}" = ' + merged.get(c, f'CASE WHEN {newer} THEN excluded."{c}" ELSE stories."{c}" END')
            for c in names if c != "cluster_id")
        written = self._conn.execute(
            f"INSERT INTO stories ({cols}) SELECT {cols} FROM batch "
            f"ON CONFLICT (cluster_id) DO UPDATE SET {updates}"
        ).fetchone()[0]
        return WriteResult(written, len(rows) - written)

    def _insert_ignore(self, table: Table, rows: list[dict]) -> WriteResult:
        batch = pa.Table.from_pylist(rows, schema=arrow_schema(table))  # noqa: F841 - read by SQL
        cols = ", ".join(f'"{c}"' for c in table.field_names())
        before = self._count(table)
        self._conn.execute(f'INSERT OR IGNORE INTO "{table.name}" ({cols}) SELECT {cols} FROM batch')
        inserted = self._count(table) - before
        return WriteResult(inserted, len(rows) - inserted)

    def _count(self, table: Table) -> int:
        return self._conn.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0]

    def _write_articles(self, rows: list[dict]) -> WriteResult:
        """Insert new content as the next version of each article; drop known content."""
        # Passed as an Arrow column: DuckDB inspects each element of a Python list parameter.
        ids = pa.table({"article_id": sorted({r["article_id"] for r in rows})})  # noqa: F841 - read by SQL
        known: dict[str, tuple[int, set[str], str | None]] = {}
        existing = self._conn.execute(
            "SELECT article_id, max(version), list(content_hash), "
            "arg_min(cluster_id, version) FILTER (WHERE cluster_id IS NOT NULL) FROM articles "
            "WHERE article_id IN (SELECT article_id FROM ids) GROUP BY article_id").fetchall()
        for aid, maxv, hashes, cluster in existing:
            known[aid] = (maxv, set(hashes), cluster)
        out, skipped = [], 0
        # Within a batch, versions follow the order the items were fetched.
        by_id: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            by_id[r["article_id"]].append(r)
        for aid, group in by_id.items():
            version, hashes, cluster = known.get(aid, (0, set(), None))
            for r in sorted(group, key=lambda r: (r["fetched_at"], r["version"])):
                if r["content_hash"] in hashes:
                    skipped += 1
                    continue
                version += 1
                hashes.add(r["content_hash"])
                # An article keeps the story it was first written with, whatever a later run (or a
                # correction arriving after the clustering window) computed for it.
                cluster = cluster or r.get("cluster_id")
                out.append({**r, "version": version, "cluster_id": cluster})
        if out:
            batch = pa.Table.from_pylist(out, schema=arrow_schema(ARTICLES))  # noqa: F841 - read by SQL
            cols = ", ".join(f'"{c}"' for c in ARTICLES.field_names())
            self._conn.execute(f"INSERT INTO articles ({cols}) SELECT {cols} FROM batch")
        return WriteResult(len(out), skipped)

    # -- reads -----------------------------------------------------------------------------------

    def read_query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """A read-only query on its own connection: it sees committed batches only."""
        from ..query_server import check_read_only  # noqa: PLC0415

        check_read_only(sql)
        with self._lock:
            cur = self._conn.cursor()
        try:
            res = cur.execute(sql)
            cols = [d[0] for d in res.description] if res.description else []
            return cols, res.fetchall()
        finally:
            cur.close()

    def read_arrow(self, sql: str):
        """Like ``read_query``, as a ``pyarrow.Table`` with every column's type."""
        from ..query_server import check_read_only  # noqa: PLC0415

        check_read_only(sql)
        with self._lock:
            cur = self._conn.cursor()
        try:
            return cur.execute(sql).to_arrow_table()
        finally:
            cur.close()

    def query_ids(self, sql: str, ids: list[str]) -> tuple[list[str], list[tuple]]:
        """Run ``sql`` with the table ``ids(id)`` bound to the given strings (fast for many ids)."""
        ids = pa.table({"id": pa.array(ids, pa.string())})  # noqa: F841 - read by SQL
        with self._lock:
            cur = self._conn.execute(sql)
            return [d[0] for d in cur.description], cur.fetchall()

    def query(self, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
        with self._lock:
            cur = self._conn.execute(sql, params or [])
            cols = [d[0] for d in cur.description] if cur.description else []
            return cols, cur.fetchall()


def _replay_key(unit: Unit) -> str:
    return unit.raw_item["replay_key"]


def query_file_arrow(path: str | Path, sql: str):
    """Like ``query_file``, as a ``pyarrow.Table``."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no warehouse at {path}: run 'newswire process' or 'newswire run' first")
    try:
        conn = duckdb.connect(str(path), read_only=True, config=_CONFIG)
    except duckdb.Error as exc:
        raise open_error(path, exc) from exc
    with conn:
        return conn.execute(sql).to_arrow_table()


def query_file(path: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run one read-only query against a warehouse file no process is writing."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no warehouse at {path}: run 'newswire process' or 'newswire run' first")
    try:
        conn = duckdb.connect(str(path), read_only=True, config=_CONFIG)
    except duckdb.Error as exc:
        raise open_error(path, exc) from exc
    with conn:
        cur = conn.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()
