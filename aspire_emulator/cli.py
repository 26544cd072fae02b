"""The emulator's command line: create and seed ASPIRE, enrol customers, simulate activity, show counts.

    python -m aspire_emulator [--aspire DSN] [--portal DSN] create --size small --seed 42
    python -m aspire_emulator enroll --count 100 | --account 1000042
    python -m aspire_emulator unenroll --account 1000042
    python -m aspire_emulator simulate --events 500 --seed 7
    python -m aspire_emulator stats
    python -m aspire_emulator backup NAME | restore NAME
    python -m aspire_emulator change-tracking enable | cleanup [--older-than SECONDS]

DSNs default to $ASPIRE_DSN / $PORTAL_DSN, else to the Airflow connections $AIRFLOW_CONN_ASPIRE /
$AIRFLOW_CONN_PORTAL. Bad input stops the command before it writes anything, with a non-zero exit.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import psycopg

from . import backup, change_tracking, dsn, generate, portal, simulate
from .catalog import COLUMNS
from .sqlfiles import statement

log = logging.getLogger("aspire_emulator")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m aspire_emulator", description=__doc__.split("\n\n")[0])
    main.add_argument(
        "--aspire", metavar="DSN", help="ASPIRE emulator database (default: $ASPIRE_DSN, else $AIRFLOW_CONN_ASPIRE)"
    )
    main.add_argument(
        "--portal", metavar="DSN", help="portal database (default: $PORTAL_DSN, else $AIRFLOW_CONN_PORTAL)"
    )
    main.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser("create", help="re-create and seed ASPIRE; create the portal app schema")
    create.add_argument("--size", choices=list(generate.SIZES), default="small")
    create.add_argument("--seed", type=_seed, default=42)

    enroll = commands.add_parser("enroll", help="create portal users for customer accounts")
    which = enroll.add_mutually_exclusive_group(required=True)
    which.add_argument("--count", type=_positive_int, help="enrol this many customers not enrolled yet")
    which.add_argument("--account", type=_positive_int, metavar="OID", help="enrol this AccountOid")
    enroll.add_argument("--seed", type=_seed, default=0, help="order in which --count picks customers")

    unenroll = commands.add_parser("unenroll", help="remove an account's portal users")
    unenroll.add_argument("--account", type=_positive_int, metavar="OID", required=True)

    sim = commands.add_parser("simulate", help="run random ASPIRE activity, one transaction per event")
    sim.add_argument("--events", type=_positive_int, default=100)
    sim.add_argument("--seed", type=_seed, default=0)

    commands.add_parser("stats", help="rows per dbo table and enrolled accounts")

    keep = commands.add_parser("backup", help="back ASPIRE up: every dbo table and the row-version counter")
    keep.add_argument("name", help="the backup's name: lower-case letters, digits, underscores")
    back = commands.add_parser(
        "restore",
        help="restore ASPIRE from a backup, as SQL Server does: ends every other session, starts a new recovery fork "
        "and sets the row-version counter back",
    )
    back.add_argument("name", help="a backup's name")
    tracking = commands.add_parser(
        "change-tracking", help="SQL Server Change Tracking on the tables the sync reads every 15 minutes"
    )
    tracking.add_argument("action", choices=("enable", "cleanup"), help="enable it, or run its retention cleanup")
    tracking.add_argument(
        "--older-than",
        type=float,
        default=2 * 24 * 3600,
        metavar="SECONDS",
        help="cleanup: remove changes logged longer ago than this (default two days, SQL Server's default retention)",
    )
    return main


def _dsns(args: argparse.Namespace, *, portal_required: bool) -> tuple[str, str | None]:
    aspire = dsn.resolve(args.aspire, "ASPIRE_DSN", "AIRFLOW_CONN_ASPIRE")
    portal_dsn = dsn.resolve(args.portal, "PORTAL_DSN", "AIRFLOW_CONN_PORTAL")
    if aspire is None:
        raise ValueError("no ASPIRE database: pass --aspire DSN or set ASPIRE_DSN or AIRFLOW_CONN_ASPIRE")
    if portal_required and portal_dsn is None:
        raise ValueError("no portal database: pass --portal DSN or set PORTAL_DSN or AIRFLOW_CONN_PORTAL")
    return aspire, portal_dsn


def _create(args: argparse.Namespace) -> None:
    aspire, portal_dsn = _dsns(args, portal_required=False)
    counts = generate.create(aspire, args.size, args.seed)
    if portal_dsn:
        portal.create_portal_schema(portal_dsn)
        log.info("portal app schema ready")
    else:
        log.warning("no portal database given: skipped the portal app schema")
    _print_counts(counts)


def _enroll(args: argparse.Namespace) -> None:
    aspire, portal_dsn = _dsns(args, portal_required=True)
    accounts = portal.enroll(portal_dsn, aspire, count=args.count, account_oid=args.account, seed=args.seed)
    print("enrolled:", " ".join(map(str, accounts)))


def _unenroll(args: argparse.Namespace) -> None:
    _, portal_dsn = _dsns(args, portal_required=True)
    removed = portal.unenroll(portal_dsn, args.account)
    print(f"account {args.account}: {removed} portal link(s) removed")


def _simulate(args: argparse.Namespace) -> None:
    aspire, _ = _dsns(args, portal_required=False)
    _print_counts(simulate.simulate(aspire, args.events, args.seed))


def _stats(args: argparse.Namespace) -> None:
    aspire, portal_dsn = _dsns(args, portal_required=False)
    with psycopg.connect(aspire) as conn:
        rows = dict(conn.execute(statement("select_table_counts.sql")).fetchall())
    counts = {table: rows[table] for table in COLUMNS}
    if portal_dsn:
        counts["enrolled accounts"] = len(portal.enrolled_accounts(portal_dsn))
    _print_counts(counts)


def _print_counts(counts: dict[str, int]) -> None:
    width = max(map(len, counts), default=0)
    for name, count in counts.items():
        print(f"{name:<{width}}  {count:>10,}")


def _backup(args: argparse.Namespace) -> None:
    aspire, _ = _dsns(args, portal_required=False)
    print(f"backup {args.name}: @@DBTS {backup.backup(aspire, args.name)}")


def _restore(args: argparse.Namespace) -> None:
    aspire, _ = _dsns(args, portal_required=False)
    kept = backup.restore(aspire, args.name)
    guid, fork, _dbts = backup.recovery_status(aspire)
    print(f"restored {args.name}: row versions continue after {kept}; database_guid {guid}, recovery_fork_guid {fork}")


def _change_tracking(args: argparse.Namespace) -> None:
    aspire, _ = _dsns(args, portal_required=False)
    if args.action == "enable":
        print(
            f"change tracking enabled on {', '.join(change_tracking.TRACKED)}: version {change_tracking.enable(aspire)}"
        )
    else:
        print(f"change tracking cleanup removed {change_tracking.cleanup(aspire, args.older_than):,} change(s)")


COMMANDS = {
    "create": _create,
    "enroll": _enroll,
    "unenroll": _unenroll,
    "simulate": _simulate,
    "stats": _stats,
    "backup": _backup,
    "restore": _restore,
    "change-tracking": _change_tracking,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    started = time.perf_counter()
    try:
        COMMANDS[args.command](args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except psycopg.Error as error:
        print(f"error: database: {error}".rstrip(), file=sys.stderr)
        return 1
    log.info("%s done in %.1f s", args.command, time.perf_counter() - started)
    return 0
