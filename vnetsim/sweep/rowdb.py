"""The run rows of a sweep in one SQLite database, ``DIR/runs.sqlite``.

Why SQLite: it is in the standard library, a commit is atomic and durable (WAL journal,
``synchronous=FULL``), a process killed at any moment leaves every committed row and no
partial one, and the questions a resume or ``vnetsim status`` asks (which runs are stored,
which failed) are one indexed query instead of a scan of every run's file.  One process
writes (the sweep, under the directory lock); readers open the file read-only.

Tables: ``runs(run_id PRIMARY KEY, failed, config, row)`` with the whole row as JSON (the
``config_json`` column moved to ``configs(hash PRIMARY KEY, json)``: a point's resolved
scenario is the same for all its replicates, stored once), and ``meta(key, value)`` for the
schema version, the database's random ``db_id`` and ``writes``, how many rows were ever put
(in the transaction that puts them): together, :meth:`RowDB.mark`, which changes whenever a
row is stored, so the Parquet export is rewritten only when it is behind.  The index
``runs_state`` covers ``(run_id, failed)``: what a resume reads.
Rows keep NaN as ``NaN`` (Python's JSON), exact for every float; SQLite reads that in
``json_extract`` from version 3.42 on, earlier versions call such a row malformed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vnetsim.config import shown

SCHEMA = 1
FILE_NAME = "runs.sqlite"

_CREATE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS configs (hash TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    failed INTEGER NOT NULL,
    config TEXT REFERENCES configs(hash),
    row TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_state ON runs (run_id, failed);
"""


class RowDBError(RuntimeError):
    """The database is damaged or of another schema (``sqlite3.DatabaseError`` underneath)."""


def _plain(value: Any) -> Any:
    """JSON for what a row may hold besides Python scalars: numpy scalars and arrays."""
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a run row holds a {type(value).__name__}, which has no JSON form")


def encode(row: dict[str, Any]) -> tuple[str, bool, str | None, str | None, str]:
    """``(run_id, failed, config hash, config json, row json)`` of one row."""
    body = dict(row)
    config = body.pop("config_json", None)
    if isinstance(config, float) and math.isnan(config):  # a table row without one
        config = None
    if config is not None and not isinstance(config, str):
        raise TypeError("a run row's config_json must be a JSON string")
    digest = hashlib.sha256(config.encode()).hexdigest() if config is not None else None
    error = body.get("error")
    failed = isinstance(error, str) and error.strip() != ""
    # allow_nan: NaN and ±inf round-trip through Python's json (they are results, e.g. a
    # blackout that never started); repr-exact floats keep rows bit-identical.
    text = json.dumps(body, default=_plain, allow_nan=True, separators=(",", ":"))
    return str(body["run_id"]), failed, digest, config, text


class RowDB:
    """``DIR/runs.sqlite``: open for writing (``writable=True``, creates it) or reading."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        self.writable = writable
        self.empty = False  # a reader of a file the first writer never finished creating
        try:
            if writable:
                self.conn = sqlite3.connect(path, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=FULL")
                with self._transaction():  # the schema and its version, or neither
                    for statement in filter(str.strip, _CREATE.split(";")):
                        self.conn.execute(statement)
                    self.conn.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),)
                    )
                    # a database of an earlier vnetsim gets its id at its next writer
                    self.conn.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('db_id', ?)", (uuid.uuid4().hex,)
                    )
            else:
                self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master")}
            found = (
                self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if "meta" in tables
                else None
            )
        except sqlite3.DatabaseError as err:
            with contextlib.suppress(Exception):
                self.conn.close()
            if isinstance(err, sqlite3.OperationalError) and _is_storage(err):
                raise
            raise RowDBError(f"{shown(path)}: not a readable run database ({err})") from None
        if found is None and not writable and "runs" not in tables:
            self.empty = True  # created, then the disk filled before its schema committed
        elif found is None or found[0] != str(SCHEMA):
            self.conn.close()
            raise RowDBError(f"{shown(path)}: run database of schema {found}, expected {SCHEMA}")

    def close(self) -> None:
        """Close; a writer first folds the WAL back into the file (a reader on read-only
        media then needs no ``-wal``/``-shm`` files)."""
        if self.writable:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.conn.execute("PRAGMA journal_mode=DELETE")
        self.conn.close()

    def put(self, rows: Iterable[dict[str, Any]]) -> int:
        """Store ``rows`` in one transaction (a row with a stored ``run_id`` replaces it:
        ``--retry-errors``); returns how many."""
        encoded = [encode(r) for r in rows]
        with self._transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO configs VALUES (?, ?)",
                [(h, c) for _, _, h, c, _ in encoded if h is not None],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?)",
                [(i, int(f), h, t) for i, f, h, _, t in encoded],
            )
            self.conn.execute(
                "INSERT INTO meta VALUES ('writes', ?) ON CONFLICT(key) DO UPDATE SET "
                "value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
                (str(len(encoded)),),
            )
        return len(encoded)

    def mark(self) -> str | None:
        """``db_id:writes``: differs after any row is stored (or replaced) and between two
        databases; None for a database no writer of this version opened yet."""
        if self.empty:
            return None
        found = dict(
            self.conn.execute("SELECT key, value FROM meta WHERE key IN ('db_id', 'writes')")
        )
        if "db_id" not in found:
            return None
        return f"{found['db_id']}:{found.get('writes', '0')}"

    def recent_rows(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` of the rows stored last that are not errors (no ``config_json``)."""
        if self.empty:
            return []
        query = "SELECT row FROM runs WHERE failed = 0 ORDER BY rowid DESC LIMIT ?"
        return [json.loads(text) for (text,) in self.conn.execute(query, (limit,))]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def states(self) -> dict[str, bool]:
        """``run_id`` → whether its row is an error, for every stored run (one query)."""
        if self.empty:
            return {}
        return {i: bool(f) for i, f in self.conn.execute("SELECT run_id, failed FROM runs")}

    def rows(self) -> list[dict[str, Any]]:
        """Every stored row, with its ``config_json`` back, in ``run_id`` order."""
        if self.empty:
            return []
        query = (
            "SELECT runs.row, configs.json FROM runs LEFT JOIN configs "
            "ON runs.config = configs.hash ORDER BY runs.run_id"
        )
        out = []
        for text, config in self.conn.execute(query):
            row = json.loads(text)
            if config is not None:
                row["config_json"] = config
            out.append(row)
        return out


def _is_storage(err: sqlite3.OperationalError) -> bool:
    """A full, read-only or unreachable disk (as opposed to a damaged file)."""
    text = str(err).lower()
    return any(s in text for s in ("disk", "readonly", "read-only", "unable to open", "i/o"))
