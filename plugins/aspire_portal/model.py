"""What a load is asked and what it answers: the request, the result, the run it belongs to, its options and the
errors it refuses with. Types only; nothing here touches a database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from aspire_portal import settings
from aspire_portal.catalogue import Entity

LoadKind = Literal["full", "incremental", "backfill", "scope", "retry"]
Dialect = Literal["mssql", "postgres"]
RowFormat = Literal["text", "typed"]
DeleteDetection = Literal["key_check", "change_tracking", "daily"]
DELETE_DETECTION: tuple[str, ...] = get_args(DeleteDetection)
DIALECTS: dict[str, Dialect] = {"mssql": "mssql", "postgres": "postgres", "postgresql": "postgres"}

Checkpoint = Callable[[str], None]
"""Called by a load at named points of its transaction ("merged", "deleted", "before_commit"): a seam for tests
that interleave loads at their commit points."""


def dialect_of(conn_type: str) -> Dialect:
    """The SQL dialect of an Airflow connection type; a clear error for a source the extracts do not support."""
    try:
        return DIALECTS[conn_type]
    except KeyError:
        raise ValueError(
            f"connection type {conn_type!r} is not a supported ASPIRE source; use mssql (ASPIRE on SQL Server) "
            "or postgres (the ASPIRE emulator)"
        ) from None


@dataclass(frozen=True)
class LockTimeouts:
    """How long a load waits for a lock before it fails (and its task retries), as PostgreSQL intervals.
    `coordination`: for its turn among the sync's own loads of the entity (a daily full load of it may hold that
    for minutes); `other`: for any other lock (a table an outside session holds), so no wait is a hang."""

    coordination: str = settings.COORDINATION_LOCK_TIMEOUT
    other: str = settings.OTHER_LOCK_TIMEOUT


@dataclass(frozen=True)
class RemovalGuard:
    """How much one load may remove before it refuses (writing nothing): more than `max_fraction` of an entity's rows
    and more than `floor` rows; or more than `max_fraction` of the accounts (or of the contracts) the entity holds and
    more than `scope_floor` of them. The floors keep a small portal's ordinary exits from tripping it. `allowed`: a
    person allowed this run a mass removal (the DAG param allow_mass_removal)."""

    max_fraction: float = 0.2
    floor: int = 50
    scope_floor: int = 5
    allowed: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.max_fraction <= 1:
            raise ValueError(
                f"the largest fraction a load may remove must be above 0 and at most 1, got {self.max_fraction!r}"
            )
        if self.floor < 0 or self.scope_floor < 0:
            raise ValueError(f"the mass-removal floors must be 0 or more, got {self.floor!r} and {self.scope_floor!r}")

    def trips(self, removed: int, total: int, floor: int | None = None) -> bool:
        floor = self.floor if floor is None else floor
        return not self.allowed and removed > floor and removed > self.max_fraction * total


@dataclass(frozen=True)
class LoadOptions:
    """How a load runs, as opposed to what it loads. `row_format`: how a PostgreSQL source (the emulator) hands its
    values: "text" passes them through to COPY untouched; "typed" makes them the Python objects pymssql hands from
    ASPIRE, which is what production runs (ASPIRE on SQL Server is always typed). `binary_copy`: typed rows go in
    by binary COPY where every column allows it (off: always text COPY; the benchmark compares the two).
    `checkpoint`: see Checkpoint. `deletes`: how a 15-minute load finds the rows deleted in ASPIRE: "key_check"
    reads every key of the entity's ASPIRE table and removes the portal rows whose key is gone, in the same load;
    "change_tracking" reads only the keys SQL Server Change Tracking reports deleted since the entity's last version
    (a key check when that version is missing or older than Change Tracking keeps); "daily" leaves them to the daily
    refresh (docs/dags.md, "Rows deleted in ASPIRE")."""

    batch_size: int = settings.BATCH_SIZE
    timeouts: LockTimeouts = LockTimeouts()
    guard: RemovalGuard = RemovalGuard()
    row_format: RowFormat = "text"
    binary_copy: bool = True
    checkpoint: Checkpoint | None = None
    deletes: DeleteDetection = "key_check"

    def __post_init__(self) -> None:
        if self.deletes not in DELETE_DETECTION:
            raise ValueError(
                f"the delete detection (Variable aspire_portal_delete_detection) must be one of "
                f"{', '.join(DELETE_DETECTION)}, got {self.deletes!r}"
            )

    def at(self, point: str) -> None:
        if self.checkpoint is not None:
            self.checkpoint(point)


DEFAULT_OPTIONS = LoadOptions()


@dataclass(frozen=True)
class RunContext:
    """Who asked for a load, for the run log."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None


@dataclass(frozen=True)
class LoadRequest:
    """What to load. `accounts` None means every enrolled account (the whole portal). Kind "scope" applies only
    the scope's entries and exits (a daily entity in the 15-minute run). `reconcile`: a full load over everyone
    measures the drift before its merge and checks it is zero after (see aspire_portal.reconcile). `rebaseline`: a
    full load over everyone after ASPIRE went back in time: ASPIRE's rows win whatever their row versions, every
    row ASPIRE lacks goes, and a 15-minute entity's watermark is set to the new read bound (docs/adr/0007)."""

    entity: Entity
    kind: LoadKind
    accounts: tuple[int, ...] | None = None
    customer_id: int | None = None
    modified_from: datetime | None = None
    modified_to: datetime | None = None
    run: RunContext = field(default_factory=RunContext)
    reconcile: bool = False
    rebaseline: bool = False

    def __post_init__(self) -> None:
        if self.rebaseline and not self.over_everyone:
            raise ValueError(
                f"re-baselining {self.entity.name} needs a full load over every enrolled customer, "
                f"not a {self.kind} load"
            )
        if self.reconcile and not self.over_everyone:
            raise ValueError(
                f"reconciling {self.entity.name} needs a full load over every enrolled customer, "
                f"not a {self.kind} load{' of some customers' if self.accounts else ''}"
            )

    @property
    def scope(self) -> Literal["all", "accounts"]:
        return "all" if self.accounts is None else "accounts"

    @property
    def over_everyone(self) -> bool:
        """A full load of every enrolled customer: it resolves its own scope and deletes whatever ASPIRE lacks."""
        return self.kind == "full" and self.accounts is None


@dataclass(frozen=True)
class Quarantined:
    """One quarantined source row: its entity, its key as JSON text, what is wrong with it, and whether this load
    first saw it."""

    entity: str
    row_key: str
    problems: str
    is_new: bool


@dataclass
class LoadResult:
    """What a load did: counts, its row-version window [watermark, read_bound), its timings."""

    entity: str
    load_kind: str
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    watermark: int | None = None  # an incremental load reads row versions from here (inclusive) ...
    read_bound: int | None = None  # ... to here (exclusive): ASPIRE's MIN_ACTIVE_ROWVERSION() when it started
    new_accounts: int = 0
    new_contracts: int = 0
    exited_accounts: int = 0
    exited_contracts: int = 0
    data_as_of: datetime | None = None
    seconds: float = 0.0
    seconds_extract: float = 0.0  # server-side cursor -> COPY into the staging table
    seconds_merge: float = 0.0
    seconds_delete: float = 0.0
    seconds_reconcile: float | None = None  # the drift measured before the merge and checked after it (daily refresh)
    copied_directly: bool = False  # a first load into an empty table: no staging, merge or delete needed
    quarantined: list[Quarantined] = field(default_factory=list)  # rows the portal could not take
    deletes_found_by: str | None = None  # a 15-minute load: key_check or change_tracking (None: left to the daily)

    def summary(self) -> str:
        how = (
            "first load, copied straight into the empty table"
            if self.copied_directly
            else (
                f"extract {self.seconds_extract:.2f}s, merge {self.seconds_merge:.2f}s, "
                f"delete {self.seconds_delete:.2f}s"
                + (f", reconcile {self.seconds_reconcile:.2f}s" if self.seconds_reconcile is not None else "")
            )
        )
        scope = ""
        if self.new_accounts or self.new_contracts:
            scope += f", {self.new_accounts} account(s) and {self.new_contracts} contract(s) new to scope"
        if self.exited_accounts or self.exited_contracts:
            scope += f", {self.exited_accounts} account(s) and {self.exited_contracts} contract(s) left scope"
        if self.quarantined:
            scope += f", {len(self.quarantined)} row(s) quarantined (not written: see aspire_sync.source_quarantine)"
        if self.deletes_found_by:
            scope += f", deletes in ASPIRE found by {self.deletes_found_by.replace('_', ' ')}"
        return (
            f"{self.entity} ({self.load_kind}): read {self.rows_read}, inserted {self.rows_inserted}, "
            f"updated {self.rows_updated}, deleted {self.rows_deleted} in {self.seconds:.2f}s ({how}){scope} "
            f"(row versions [{self.watermark}, {self.read_bound}), data as of "
            f"{self.data_as_of.isoformat() if self.data_as_of else 'unknown'})"
        )

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_as_of"] = self.data_as_of.isoformat() if self.data_as_of else None
        return out


class LockTimeout(RuntimeError):
    """A load waited longer than its lock timeout; nothing was written."""


class MassRemoval(RuntimeError):
    """A load would have removed more than its RemovalGuard allows; nothing was written."""


class NotEnrolled(ValueError):
    """A load was asked for customers no portal user is linked to: their data must not enter the portal."""


class EnrolmentUnreadable(RuntimeError):
    """Every value of the portal's enrolment table was skipped: the table changed (its type, its meaning) or the
    sync reads the wrong ASPIRE. Resolving to an empty scope would remove every customer from the portal."""


class ChangeTrackingMissing(RuntimeError):
    """The delete detection is change_tracking, yet a table has no Change Tracking; nothing was written."""


class AspireWentBack(RuntimeError):
    """ASPIRE's row versions went back below what the portal has read (a restore, a failover to a replica that lagged,
    a refresh from another system): a row-version cursor would skip changes, so no 15-minute load writes until the
    portal is re-baselined."""
