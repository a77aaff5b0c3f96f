"""Where a sweep's results live: ``DIR/manifest.json``, ``DIR/runs.sqlite``, ``runs.parquet``.

The manifest holds the sweep file and its hash, versions, git commit, host, and the start and
end of every session. Each finished run is one committed row of the SQLite database
``DIR/runs.sqlite`` (:mod:`.rowdb`), so a kill at any point loses at most the runs in
progress and never leaves a partial row. ``DIR/runs.parquet`` is the export that ``analyze``
and users read (rewritten at the end of a session that stored rows, or whenever it is not the
one the manifest's ``export`` record describes; ``load`` reads it with the database, which
lets a committed result directory holding only the export be resumed or extended).
Directories written before the database (one Parquet file per run under ``DIR/runs/``) are
read as they are and moved into the database by the next sweep session.

A row is the run's meta (``run_id``, ``sweep``, ``replicate``), its axis values, then
``seed_entropy`` and ``spawn_key`` (the run's ``SeedSequence``), ``error`` (and ``traceback``),
``design_resolved`` and every other ``RunResult`` field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import itertools
import json
import os
import platform
import socket
import sqlite3
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from vnetsim.config import ConfigError, is_utf8, shell_word, shown
from vnetsim.records import RESULT_FIELDS
from vnetsim.sweep import rowdb
from vnetsim.sweep.spec import SweepSpec
from vnetsim.version import source_commit

if TYPE_CHECKING:  # pandas loads when a table is read: `vnetsim status` and `run` need none
    import pandas as pd

Row: TypeAlias = dict[str, Any]
"""One run's row: meta, axis values, seed, error, result fields."""

META_COLUMNS: tuple[str, ...] = ("run_id", "sweep", "replicate")
# ``RunResult.seed`` is stored as ``seed_entropy`` and ``design`` as ``design_resolved``
# (the point's ``design`` column is the name as the sweep file gave it).
TAIL_COLUMNS: tuple[str, ...] = (
    "seed_entropy",
    "spawn_key",
    "error",
    "traceback",
    "design_resolved",
    *(f for f in RESULT_FIELDS if f not in ("design", "seed", "spawn_key")),
    "config_json",
)


def canonical_columns(cols: list[str]) -> list[str]:
    """Meta, then axes (as declared), then results: the same order whatever ran first."""
    meta = [c for c in META_COLUMNS if c in cols]
    tail = [c for c in TAIL_COLUMNS if c in cols]
    axes = [c for c in cols if c not in meta and c not in tail]
    return meta + axes + tail


class StorageError(RuntimeError):
    """The sweep cannot go on for a reason outside its runs: its directory cannot be written
    (disk full, read-only, permissions), no run process can start, or the Dask cluster is
    gone. Every finished run is safe; the same command continues."""


def _failed(errors: pd.Series) -> pd.Series:
    """Whether each ``error`` value names an error (empty, NaN and None do not)."""
    import pandas as pd

    text = errors.fillna("").astype(str)
    failed = (text != "").to_numpy(copy=True)
    if failed.any():  # only the few non-empty values need stripping (blank is no error)
        failed[failed] = (text[failed].str.strip() != "").to_numpy()
    return pd.Series(failed, index=errors.index)


def _number(value: Any) -> float:
    """A stored number, 0 for a missing one (None or NaN)."""
    return 0.0 if _is_missing(value) else float(value)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):  # may itself fail on a read-only filesystem
        path.unlink(missing_ok=True)


class SweepStore:
    """A sweep's directory: manifest, run database, Parquet export."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.runs_dir = self.out / "runs"  # per-run files of directories before the database
        self.db_path = self.out / rowdb.FILE_NAME
        self._writer: rowdb.RowDB | None = None

    # -- runs -------------------------------------------------------------------------
    def _reader(self) -> rowdb.RowDB | None:
        if self._writer is not None:
            return self._writer
        if not self.db_path.exists():
            return None
        try:
            return rowdb.RowDB(self.db_path, writable=False)
        except rowdb.RowDBError as err:
            raise self._damaged_db(err) from None
        except sqlite3.OperationalError as err:
            raise ConfigError(f"{shown(self.db_path)}: cannot be read ({err})") from None

    def _damaged_db(self, err: Exception) -> ConfigError:
        p = self.db_path
        return ConfigError(
            f"{err}; move it aside (mv {shell_word(p)} {shell_word(f'{p}.damaged')}): the rows "
            f"of earlier sessions are kept in {shown(self.out / 'runs.parquet')} and the next "
            "`vnetsim sweep` redoes the rest"
        )

    @contextlib.contextmanager
    def _reading(self) -> Iterator[rowdb.RowDB | None]:
        db = self._reader()
        try:
            yield db
        finally:
            if db is not None and db is not self._writer:
                db.close()

    def states(self, recorded: Mapping[str, Any] | None = None) -> dict[str, bool]:
        """``run_id`` → whether its stored row is an error, for every stored run.

        One query of the database plus the ``run_id``/``error`` columns of the export (and
        any per-run files of an older directory): what a resume and ``status`` need, without
        reading the rows. ``recorded``: the manifest's ``export`` record; while the export
        is the one it describes (:meth:`export_is_current`), the export holds every stored
        run and its two columns are all that is read.
        """
        p = self.out / "runs.parquet"
        if recorded is not None and self.export_is_current(recorded):
            return self._export_states()
        out: dict[str, bool] = self._export_states() if p.exists() else {}
        for path, one in self._legacy_files(columns=["run_id", "error"]):
            out[path.stem] = bool(_failed(one["error"]).iloc[0])
        with self._reading() as db:
            if db is not None:
                out.update(db.states())  # the database is newest: it wins
        return out

    def _export_states(self) -> dict[str, bool]:
        """The export's ``run_id`` → error flag (read with pyarrow's ``ParquetFile``, which,
        unlike ``read_table``, needs no pandas: ``vnetsim status`` never loads it)."""
        table = self._export_columns(["run_id", "error"])
        ids = [str(i) for i in table.column("run_id").to_pylist()]
        errors = table.column("error").to_pylist()
        out = dict.fromkeys(ids, False)
        for k in [k for k, e in enumerate(errors) if e]:  # the few non-empty ones (or NaN)
            e = errors[k]
            out[ids[k]] = isinstance(e, str) and e.strip() != ""
        return out

    def _export_columns(self, columns: list[str]) -> Any:
        """``columns`` of the export as a pyarrow table (``ConfigError`` if it is damaged)."""
        import pyarrow.parquet as pq

        try:
            with pq.ParquetFile(self.out / "runs.parquet") as f:
                return f.read(columns=columns)
        except Exception as err:  # pyarrow raises several kinds for a damaged file
            raise self._damaged_export(err) from None

    def done_ids(self, recorded: Mapping[str, Any] | None = None) -> set[str]:
        return set(self.states(recorded))

    def error_ids(self) -> set[str]:
        """The runs whose stored row is an error (what ``--retry-errors`` runs again)."""
        return {run_id for run_id, failed in self.states().items() if failed}

    def _legacy_files(
        self, columns: list[str] | None = None, *, discard_damaged: bool = False
    ) -> Iterator[tuple[Path, pd.DataFrame]]:
        """The readable one-row files of an older directory (``columns`` of each only).
        A damaged one is skipped (its run is redone), and removed only when the sweep
        adopts the directory: reading (``status``, ``analyze``) never deletes."""
        if not self.runs_dir.exists():
            return
        import pandas as pd

        for p in sorted(self.runs_dir.glob("*.parquet")):
            try:
                one = pd.read_parquet(p, columns=columns)
            except Exception:
                if discard_damaged:
                    _discard(p)
                continue
            if one.shape[0] == 1:
                yield p, one

    def _read_export(self, columns: list[str] | None = None) -> pd.DataFrame:
        import pandas as pd

        p = self.out / "runs.parquet"
        if not p.exists():
            return pd.DataFrame()
        try:
            return pd.read_parquet(p, columns=columns)
        except Exception as err:  # pyarrow raises several kinds for a damaged file
            raise self._damaged_export(err) from None

    def _damaged_export(self, err: Exception) -> ConfigError:
        p = self.out / "runs.parquet"
        return ConfigError(
            f"{shown(p)}: damaged ({type(err).__name__}); move it aside "
            f"(mv {shell_word(p)} {shell_word(f'{p}.damaged')}): the rows in "
            f"{self.db_path.name} are kept and the next `vnetsim sweep` redoes the other "
            "runs it held"
        )

    def write_row(self, row: Row) -> None:
        """Commit one finished run's row (durable once this returns)."""
        self.write_rows([row])

    def write_rows(self, rows: list[Row]) -> None:
        """Commit ``rows`` in one transaction: all of them or none."""
        try:
            if self._writer is None:
                self.out.mkdir(parents=True, exist_ok=True)
                self._writer = rowdb.RowDB(self.db_path, writable=True)
            self._writer.put(rows)
        except rowdb.RowDBError as err:
            raise self._damaged_db(err) from None
        except (OSError, sqlite3.OperationalError) as err:
            raise self._storage_error(err) from None

    def adopt_legacy_files(self) -> int:
        """Move the per-run files of an older directory into the database (committed
        before any file is removed); returns how many rows moved."""
        found = list(self._legacy_files(discard_damaged=True))
        if not found:
            with contextlib.suppress(OSError):  # only damaged files were left
                self.runs_dir.rmdir()
            return 0
        rows = [
            {k: v for k, v in one.iloc[0].to_dict().items() if not _is_missing(v)}
            for _, one in found
        ]
        self.write_rows(rows)  # one commit, not one fsync per file
        for path, _ in found:
            _discard(path)
        with contextlib.suppress(OSError):
            self.runs_dir.rmdir()
        return len(rows)

    def close(self) -> None:
        """Close the database (a sweep session's end; rows are committed already)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _storage_error(self, err: OSError | sqlite3.Error) -> StorageError:
        n = 0
        with contextlib.suppress(Exception):
            n = len(self.states())
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return StorageError(
            f"cannot write results to {shown(self.out)}: {why}; the {n} runs finished so far "
            f"are safe in {shown(self.db_path)}; make room (or make it writable) and rerun the "
            "same command to go on"
        )

    def load(self) -> pd.DataFrame:
        """Every finished run: the database's rows, then any older per-run files, then the
        export's rows that neither holds."""
        import pandas as pd

        parts: list[pd.DataFrame] = []
        with self._reading() as db:
            if db is not None:
                try:
                    rows = db.rows()
                except sqlite3.DatabaseError as err:
                    raise self._damaged_db(
                        rowdb.RowDBError(f"{shown(self.db_path)}: {err}")
                    ) from None
                if rows:
                    parts.append(pd.DataFrame.from_records(rows))
        parts += [one for _, one in self._legacy_files()]
        old = self._read_export()
        if not old.empty:
            parts.append(old)
        if not parts:
            return pd.DataFrame()
        with warnings.catch_warnings():
            # pandas 2.x keeps an all-NA column of one part (an error row's results) from
            # deciding the dtype; the deprecation warns that it will. We rely on today's rule
            # and the dtypes it gives are pinned by the tests comparing sweeps.
            warnings.simplefilter("ignore", FutureWarning)
            df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        df = df.drop_duplicates("run_id", keep="first")
        # A sweep whose every run errored has no result column yet; readers need them all.
        missing = {c: None for c in TAIL_COLUMNS if c not in df.columns and c != "traceback"}
        df = df.assign(**missing) if missing else df
        df = df[canonical_columns(list(df.columns))]
        return df.sort_values("run_id", kind="stable").reset_index(drop=True)

    def consolidate(self) -> pd.DataFrame:
        """Rewrite ``runs.parquet`` from everything finished; return that table."""
        df, _ = self.export()
        assert df is not None  # export(table=True) always gives the table
        return df

    def export(
        self, recorded: Mapping[str, Any] | None = None, *, table: bool = True
    ) -> tuple[pd.DataFrame | None, dict[str, Any] | None]:
        """``runs.parquet`` brought up to date; every finished run (None unless ``table``)
        and the record of the export now on disk (for the manifest's ``export``; None if
        there is none).

        ``recorded`` is the record of the last export (the manifest's). If it still holds,
        i.e. no row was stored since (the database's :meth:`~.rowdb.RowDB.mark` is the one
        recorded) and the file is the one written then (same size and modification time),
        nothing is written and the table, if wanted, is the export's: a rerun of a finished
        sweep does not pay for rebuilding it. Otherwise the export is rewritten from
        everything stored (``load``)."""
        p = self.out / "runs.parquet"
        mark = self._rows_mark()
        if mark is None and self.db_path.exists() and not self._has_legacy_files():
            # a database of an earlier vnetsim: a writer gives it its id, then it has a mark
            with contextlib.suppress(rowdb.RowDBError, sqlite3.Error, OSError):
                rowdb.RowDB(self.db_path, writable=True).close()
            mark = self._rows_mark()
        if recorded is not None and self._is_current(recorded, mark):
            return (self.load_export() if table else None), dict(recorded)
        df = self.load()
        if df.empty:
            return (df if table else None), None
        tmp = self.out / "runs.parquet.tmp"
        try:
            df.to_parquet(tmp, index=False)
            os.replace(tmp, p)
        except OSError as err:
            _discard(tmp)
            raise self._storage_error(err) from None
        stat = self._export_stat()
        record = None if mark is None or stat is None else {"rows": mark, **stat}
        return (df if table else None), record

    def load_export(self) -> pd.DataFrame:
        """The export alone, as ``load`` shapes a table (an export is one ``load``)."""
        df = self._read_export()
        if df.empty:
            return df
        missing = {c: None for c in TAIL_COLUMNS if c not in df.columns and c != "traceback"}
        df = df.assign(**missing) if missing else df
        return df[canonical_columns(list(df.columns))]

    def counts(self) -> dict[str, float]:
        """What ``vnetsim sweep`` reports of the export: ``runs``, ``errors``, the
        ``outages`` and ``censored`` plain runs, the ``split`` runs and their
        ``expected_outages`` (Σ 1 − Ŝ). Four columns, read with pyarrow (no pandas)."""
        import pyarrow.parquet as pq

        out = dict.fromkeys(
            ("runs", "errors", "outages", "censored", "split", "expected_outages"), 0.0
        )
        p = self.out / "runs.parquet"
        if not p.exists():
            return out
        try:
            with pq.ParquetFile(p) as f:
                names = set(f.schema_arrow.names)
        except Exception as err:  # pyarrow raises several kinds for a damaged file
            raise self._damaged_export(err) from None
        wanted = ("error", "estimator", "event_observed", "split_survival")
        table = self._export_columns([c for c in wanted if c in names])
        n = table.num_rows

        def column(name: str) -> list[Any]:
            return table.column(name).to_pylist() if name in names else [None] * n

        out["runs"] = n
        for error, estimator, observed, survival in zip(*map(column, wanted), strict=True):
            if isinstance(error, str) and error.strip():
                out["errors"] += 1
            elif estimator == "split":  # a split run's own path survives: count what it measured
                out["split"] += 1
                out["expected_outages"] += 1.0 - _number(survival)
            elif observed:
                out["outages"] += 1
            else:
                out["censored"] += 1
        return out

    def export_is_current(self, recorded: Mapping[str, Any]) -> bool:
        """Whether ``runs.parquet`` is the export ``recorded`` describes and no row was
        stored since: then it holds every stored run."""
        return self._is_current(recorded, self._rows_mark())

    def _is_current(self, recorded: Mapping[str, Any], mark: str | None) -> bool:
        if mark is None or recorded.get("rows") != mark:
            return False
        stat = self._export_stat()
        return stat is not None and all(recorded.get(k) == v for k, v in stat.items())

    def _export_stat(self) -> dict[str, int] | None:
        try:
            st = (self.out / "runs.parquet").stat()
        except OSError:
            return None
        return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}

    def _has_legacy_files(self) -> bool:
        return self.runs_dir.exists() and any(self.runs_dir.glob("*.parquet"))

    def _rows_mark(self) -> str | None:
        """What the stored rows are, for telling whether the export is behind: the
        database's mark ("" when there is none, so the export is all there is); None when
        it cannot be told (per-run files of an older directory, a database no writer of
        this version has opened)."""
        if self._has_legacy_files():
            return None
        with self._reading() as db:
            if db is None:
                return ""
            try:
                return db.mark()
            except sqlite3.DatabaseError:
                return None

    def recent_rate(self, limit: int = 1000) -> tuple[float, float]:
        """``(wall s, simulated s)`` summed over up to ``limit`` finished runs that are not
        errors (the database's newest, then the export's): what a dry run's estimate of
        the cost per simulated second takes, without reading the whole table."""
        wall = sim = 0.0
        n = 0
        with self._reading() as db:
            if db is not None:
                try:
                    rows = db.recent_rows(limit)
                except sqlite3.DatabaseError as err:
                    raise self._damaged_db(
                        rowdb.RowDBError(f"{shown(self.db_path)}: {err}")
                    ) from None
                for row in rows:
                    wall += _number(row.get("wall_time_s"))
                    sim += _number(row.get("sim_time_s"))
                n = len(rows)
        p = self.out / "runs.parquet"
        if n < limit and p.exists():
            import pyarrow.parquet as pq

            cols = ["error", "wall_time_s", "sim_time_s"]
            try:
                with pq.ParquetFile(p) as f:
                    names = set(f.schema_arrow.names)
            except Exception as err:  # pyarrow raises several kinds for a damaged file
                raise self._damaged_export(err) from None
            table = self._export_columns(cols) if set(cols) <= names else None
            if table is not None:  # no result columns when every run errored
                finished = [
                    (w, t)
                    for e, w, t in zip(*(table.column(c).to_pylist() for c in cols), strict=True)
                    if not (isinstance(e, str) and e.strip())
                ][-(limit - n) :]
                wall += sum(_number(w) for w, _ in finished)
                sim += sum(_number(t) for _, t in finished)
        return wall, sim

    # -- manifest ---------------------------------------------------------------------
    def manifest_path(self) -> Path:
        return self.out / "manifest.json"

    def read_manifest(self) -> dict[str, Any] | None:
        p = self.manifest_path()
        if not p.exists():
            return None
        try:
            manifest = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ConfigError(
                f"{shown(p)}: damaged ({type(err).__name__}), so which sweep "
                f"{shown(self.out)} holds is unknown; restore it, or start over with --replace "
                "(moves the directory aside, nothing is deleted)"
            ) from None
        if not isinstance(manifest, dict):
            raise ConfigError(
                f"{shown(p)}: damaged (not a JSON object); restore it or use --replace"
            )
        return manifest

    def holds_runs(self) -> bool:
        """Whether run rows are stored here (database, export or per-run files)."""
        if (self.out / "runs.parquet").exists() or self.db_path.exists():
            return True
        return self.runs_dir.exists() and any(self.runs_dir.glob("*.parquet"))

    def check_target(self, *, replace: bool) -> None:
        """Refuse an ``--out`` that is not a results directory: one that exists and holds
        something other than a sweep, and, for ``--replace``, the current directory, one of
        its parents, a mount point or the filesystem root (moving those aside is never
        what was meant)."""
        out = self.out
        if not is_utf8(str(out)):  # SQLite and Parquet take UTF-8 paths only
            raise ConfigError(
                f"--out {shown(out)}: the path holds a byte that is not UTF-8 (allowed: a "
                "UTF-8 path)"
            )
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {shown(out)}: not a directory")
        if not out.exists():
            return
        resolved = out.resolve()
        if replace and (
            resolved == Path.cwd().resolve()
            or resolved in Path.cwd().resolve().parents
            or os.path.ismount(resolved)
        ):
            raise ConfigError(
                f"--out {shown(out)} --replace: would move {shown(resolved)} aside (the current "
                "directory, one of its parents or a mount point); allowed: a results "
                "directory of its own, e.g. --out build/my-sweep"
            )
        try:
            entries = {p.name for p in out.iterdir()} - {".lock"}
        except OSError as err:
            raise ConfigError(
                f"--out {shown(out)}: cannot be read ({err.strerror or err})"
            ) from None
        if entries and self.manifest_path().name not in entries and not self.holds_runs():
            raise ConfigError(
                f"--out {shown(out)}: holds {len(entries)} other files and no sweep; allowed: "
                "an empty or new directory, or one a sweep wrote"
            )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory for one sweep session: a second ``vnetsim sweep`` on the same
        ``--out`` is refused instead of mixing its rows in (an advisory ``flock``, released
        by the kernel if this process dies)."""
        self._lock()
        try:
            yield
        finally:
            self._unlock()

    _lock_fd: int | None = None

    def _lock(self) -> None:
        import fcntl  # POSIX only; the local backend needs fork anyway

        try:
            self.out.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise self._storage_error(err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"{shown(self.out)}: another vnetsim sweep is running on this directory; wait "
                "for it or use another --out"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        tmp = self.manifest_path().with_suffix(".tmp")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
            os.replace(tmp, self.manifest_path())
        except OSError as err:
            _discard(tmp)
            raise self._storage_error(err) from None

    def _move_aside(self) -> Path:
        """``--replace``: rename the directory to ``NAME.replaced-STAMP`` beside it (nothing
        deleted); ``ConfigError`` naming the parent and what the move needs if it cannot be
        done, with the old directory untouched."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = self.out.with_name(f"{self.out.name}.replaced-{stamp}")
        for i in itertools.count(2):  # two replaces within a second: never onto the first
            if not os.path.lexists(dest):
                break
            dest = self.out.with_name(f"{self.out.name}.replaced-{stamp}-{i}")
        try:
            os.replace(self.out, dest)
        except OSError as err:
            parent = self.out.absolute().parent
            if err.errno == errno.EXDEV:
                needed = f"{shown(self.out)} on the same filesystem as {shown(parent)}"
            elif err.errno == errno.EBUSY:
                needed = f"{shown(self.out)} not in use as a mount point or by another program"
            else:
                needed = f"write and search permission on {shown(parent)}"
            raise ConfigError(
                f"--out {shown(self.out)} --replace: cannot move it aside to {shown(dest.name)} "
                f"in {shown(parent)} ({err.strerror or type(err).__name__}); needed: {needed} "
                "(nothing was moved or deleted; or use another --out)"
            ) from None
        return dest

    def open_session(
        self, spec: SweepSpec, backend: str, *, replace: bool = False
    ) -> dict[str, Any]:
        """The manifest for a new session of ``spec`` here (not yet written).

        ``ConfigError`` if the directory holds a different sweep, unless ``replace``: then
        the old directory is moved aside (nothing already computed is lost).
        """
        try:
            old = self.read_manifest()
        except ConfigError:
            if not replace:
                raise
            old = {"name": "unknown (damaged manifest)", "identity": None}
        if old is None and self.holds_runs() and not replace:
            raise ConfigError(
                f"{shown(self.out)}: holds run rows but no manifest.json, so they are not known to "
                "be this sweep's; refusing to adopt them (use another --out, or --replace to "
                "move them aside)"
            )
        if (old is not None and old.get("identity") != spec.identity()) or (
            old is None and self.holds_runs()
        ):
            if not replace and old is not None:
                raise ConfigError(
                    f"{shown(self.out)}: holds a different sweep ({old.get('name')!r}, identity "
                    f"{str(old.get('identity'))[:12]}); refusing to mix results (use another "
                    "--out, or --replace to move the old results aside)"
                )
            locked = self._lock_fd is not None
            self._move_aside()
            if locked:  # the held lock moved aside with the old directory: lock the new one
                self._unlock()
                self._lock()
            old = None
        m = old or {"name": spec.name, "identity": spec.identity(), "sessions": []}
        m.update(
            {
                "sweep_file": spec.text,
                "sweep_hash": hashlib.sha256(spec.text.encode()).hexdigest(),
                "identity": spec.identity(),
                "axes": spec.axis_names,
                "replicates": spec.replicates,
                "root_seed": spec.root_seed,
                "horizon_s": spec.horizon_s,
                "versions": _versions(),
                "git_commit": source_commit(),
                "host": socket.gethostname(),
                "platform": platform.platform(),
            }
        )
        m["sessions"].append({"start": now(), "end": None, "backend": backend})
        return m


def now() -> str:
    """A manifest timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in (
        "vnetsim",
        "simpy",
        "numpy",
        "scipy",
        "pandas",
        "pyarrow",
        "seaborn",
        "dask",
        "distributed",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = ""
    return out


# -- reading a sweep ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LoadedSweep:
    """A sweep directory read once: its run table and manifest (what analysis and figures take)."""

    path: Path
    runs: pd.DataFrame
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.path.name))

    @property
    def axes(self) -> list[str]:
        """The sweep's axes (as declared) that the run table has columns for."""
        return [a for a in self.manifest.get("axes", []) if a in self.runs.columns]

    @property
    def horizon_s(self) -> float:
        return float(self.manifest.get("horizon_s") or 0.0)

    @property
    def ok_runs(self) -> pd.DataFrame:
        """Runs that produced a result (no error)."""
        if "error" not in self.runs:
            return self.runs
        return self.runs[self.runs["error"].fillna("") == ""]


def load_sweep(out: str | Path) -> LoadedSweep:
    """Read a sweep directory (``ConfigError`` if it holds no sweep)."""
    runs, manifest = load_runs(out)
    return LoadedSweep(Path(out), runs, manifest)


def load_runs(out: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The run table and manifest of a sweep directory."""
    store = SweepStore(out)
    manifest = store.read_manifest()
    if manifest is None:
        raise ConfigError(f"{shown(out)}: no manifest.json: not a sweep directory")
    return store.load(), manifest
