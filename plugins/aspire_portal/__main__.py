"""The support and operations commands: `python -m aspire_portal {explain,reconcile,status}`.

Each reads ASPIRE and the portal through the Airflow connections `aspire` and `portal` (however they are set: the
metadata database, AIRFLOW_CONN_*, a secrets backend), or through --aspire-dsn / --portal-dsn. Human text by
default, one JSON object with --json. Exit code 0 whenever it could answer (`reconcile --check`: 3 when it measured
drift), 1 when it could not (the error says why: a bad id, a database it cannot reach), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from aspire_portal import catalogue
from aspire_portal.validation import parse_customer_id


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    # stdout carries only the answer: logs (Airflow's go to stdout) are sent to stderr at the file-descriptor level
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        _use_dsns(args)
        return args.run(args, answer)
    except (ValueError, OSError, RuntimeError) as error:  # could not answer: say why
        print(f"aspire_portal {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        if type(error).__module__.startswith(("psycopg", "pymssql", "airflow")):
            print(f"aspire_portal {args.command}: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        raise
    finally:
        answer.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aspire_portal", description=__doc__.splitlines()[0])
    connections = argparse.ArgumentParser(add_help=False)
    connections.add_argument(
        "--aspire-dsn",
        help="ASPIRE as a connection URI (mssql://... or postgresql://... for "
        "the emulator) instead of the Airflow connection `aspire`",
    )
    connections.add_argument(
        "--portal-dsn", help="the portal database (postgresql://...) instead of the Airflow connection `portal`"
    )
    connections.add_argument("--json", action="store_true", help="print one JSON object")
    commands = parser.add_subparsers(dest="command", required=True)

    explain = commands.add_parser(
        "explain", parents=[connections], help="why a contract, invoice, receipt or customer is or is not in the portal"
    )
    explain.add_argument("kind", choices=["contract", "invoice", "receipt", "customer"])
    explain.add_argument("id", help="its ASPIRE id (ContractOid, InvoiceOid, ReceiptOid or AccountOid)")
    explain.set_defaults(run=_explain)

    reconcile = commands.add_parser(
        "reconcile", parents=[connections], help="measure the drift between ASPIRE's in-scope data and the portal now"
    )
    reconcile.add_argument(
        "--entity",
        action="append",
        choices=[e.name for e in catalogue.ENTITIES],
        help="only this entity (repeatable; default: all twelve)",
    )
    reconcile.add_argument("--check", action="store_true", help="exit 3 when any drift is measured")
    reconcile.set_defaults(run=_reconcile)

    status = commands.add_parser(
        "status",
        parents=[connections],
        help="per entity: watermark, data as of, lag, last load; customers without a full "
        "sync; quarantined enrolment values",
    )
    status.add_argument(
        "--stale-after",
        type=_minutes,
        default=45,
        metavar="MINUTES",
        help="a 15-minute entity whose data is older than this is stale (default 45)",
    )
    status.set_defaults(run=_status)
    return parser


def _minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of minutes, at least 1, got {text!r}")
    return int(text)


def _use_dsns(args: argparse.Namespace) -> None:
    """The connections `aspire` and `portal` for this process, as AIRFLOW_CONN_* (so every command opens them the one
    standard way): --aspire-dsn / --portal-dsn, else AIRFLOW_CONN_* already set, else Airflow's own lookup (secrets
    backends, then the metadata database), which the task SDK does not do outside a task."""
    for name, dsn in (("aspire", args.aspire_dsn), ("portal", args.portal_dsn)):
        variable = f"AIRFLOW_CONN_{name.upper()}"
        if dsn is not None:
            if "://" not in dsn:
                raise ValueError(
                    f"--{name}-dsn must be a connection URI such as postgresql://user@host:5432/database "
                    f"(or mssql://... for ASPIRE), got {dsn!r}"
                )
            os.environ[variable] = dsn
        elif variable not in os.environ and (name == "portal" or args.command != "status"):
            from airflow.models.connection import Connection

            os.environ[variable] = Connection.get_connection_from_secrets(name).get_uri()


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    from aspire_portal import explain
    from aspire_portal.connections import source_connection, target_connection

    oid = parse_customer_id(args.id, f"the {args.kind} id", column=explain.ID_COLUMNS[args.kind])
    with source_connection() as (source, dialect), target_connection() as target:
        answer = explain.explain(source, target, dialect, args.kind, oid)
    print(json.dumps(answer.as_dict(), indent=2) if args.json else answer.text(), file=out)
    return 0


def _reconcile(args: argparse.Namespace, out: TextIO) -> int:
    from aspire_portal import drift
    from aspire_portal.connections import source_connection, target_connection
    from aspire_portal.model import RunContext

    entities = [catalogue.entity(name) for name in args.entity] if args.entity else list(catalogue.ENTITIES)
    run = RunContext(dag_id=None, run_id=f"reconcile__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}", task_id="cli")
    with source_connection() as (source, dialect), target_connection() as target:
        drifts = drift.measure_now(source, target, dialect, entities, run)
    drifted = [d for d in drifts if not d.is_zero]
    if args.json:
        print(
            json.dumps(
                {"run_id": run.run_id, "drift": bool(drifted), "entities": [_drift_dict(d) for d in drifts]},
                indent=2,
                default=str,
            ),
            file=out,
        )
    else:
        print("\n\n".join(d.table() for d in drifts), file=out)
        print(
            f"\n{len(drifted)} of {len(drifts)} entities drift; stored in aspire_sync.reconciliation, run_id "
            f"'{run.run_id}'",
            file=out,
        )
    return 3 if args.check and drifted else 0


def _drift_dict(drift: Any) -> dict[str, Any]:
    def measurement(m: Any) -> dict[str, Any]:
        return {
            "measure": m.measure,
            "account_oid": m.account_oid,
            "contract_oid": m.contract_oid,
            "aspire": m.aspire,
            "portal": m.portal,
            "difference": m.difference,
        }

    return {
        "entity": drift.entity.name,
        "drift": not drift.is_zero,
        "read_bound": drift.read_bound,
        "pending_from": drift.pending_from,
        "totals": [measurement(m) for m in drift.totals],
        "customers_differing": drift.owners_differing,
        "customers": [measurement(m) for m in drift.owners],
    }


def _status(args: argparse.Namespace, out: TextIO) -> int:
    from aspire_portal import status
    from aspire_portal.connections import target_connection

    with target_connection() as target:
        report = status.status(target, stale_after=timedelta(minutes=args.stale_after))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text(), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
