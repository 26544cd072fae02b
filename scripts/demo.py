"""`make demo`: sets everything up and runs the syncs on the ASPIRE emulator through Airflow.

Uses the Airflow connections `aspire` and `portal` from AIRFLOW_CONN_ASPIRE / AIRFLOW_CONN_PORTAL when both are
set (PostgreSQL databases it may overwrite: the emulator is re-created in `aspire`); otherwise starts an
embedded PostgreSQL (the pgserver package: no root, no installed server) in a folder of this checkout's own under
the temp folder, and leaves it running for you to look around: `make demo-down` (`scripts/demo.py --down`) stops it.
Then: creates and seeds the emulator, enrolls some customers, runs `aspire_portal_customer_full_sync` for each
of them with dag.test() (a real DAG run against a local SQLite metadata DB) and prints what landed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
warnings.filterwarnings("ignore")
os.environ.setdefault("PYTHONWARNINGS", "ignore")
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--size", choices=["small", "medium", "large"], default="small", help="emulator size (default small)"
    )
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--customers", type=int, default=10, help="customers to enroll and sync (default 10)")
    parser.add_argument("--verbose", action="store_true", help="show Airflow's task logs (INFO)")
    parser.add_argument(
        "--events",
        type=int,
        default=600,
        help="ASPIRE transactions to simulate before the incremental run (default 600)",
    )
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=checkout_pgdata(),
        help="the embedded PostgreSQL's data folder, lower case, short (default: this checkout's, %(default)s)",
    )
    parser.add_argument("--down", action="store_true", help="stop the embedded PostgreSQL a demo left running")
    return parser.parse_args()


def checkout_pgdata() -> Path:
    """The embedded PostgreSQL's folder: one per user and checkout (two checkouts never share a server). Under the
    temp folder and named by a hash of the checkout's path: Airflow lower-cases a URI's host, so the socket folder's
    path must be lower case, and a Unix socket's path must stay under 108 bytes."""
    checkout = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"aspire-portal-demo-pg-{os.getuid()}-{checkout}"


def running_postgres(pgdata: Path):
    """The postmaster serving `pgdata` (a psutil.Process), or None when none is: the pid its postmaster.pid names,
    if that process is still a postgres of this folder."""
    import psutil

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        process = psutil.Process(pid)
        return process if str(pgdata) in " ".join(process.cmdline()) else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def stop_embedded_postgres(pgdata: Path) -> int:
    """`make demo-down`: stops the embedded PostgreSQL of `pgdata` by its pid (a fast shutdown: SIGINT), and waits."""
    import psutil

    process = running_postgres(pgdata)
    if process is None:
        print(f"No embedded PostgreSQL is running in {pgdata}: nothing to stop.")
        return 0
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except psutil.TimeoutExpired:
        print(f"The embedded PostgreSQL (pid {process.pid}) did not stop within 60 s", file=sys.stderr)
        return 1
    print(
        f"Stopped the embedded PostgreSQL (pid {process.pid}); its data stays in {pgdata} for the next demo "
        "(delete that folder to free its space)."
    )
    return 0


def embedded_postgres(pgdata: Path) -> tuple[str, str]:
    """Starts (or reuses) the embedded PostgreSQL; returns the Airflow URIs of the aspire and portal databases."""
    import pgserver
    import psycopg

    print(f"Starting the embedded PostgreSQL in {pgdata} (no AIRFLOW_CONN_ASPIRE/AIRFLOW_CONN_PORTAL set)")
    server = pgserver.get_server(str(pgdata), cleanup_mode=None)
    with psycopg.connect(f"host={pgdata} user=postgres dbname=postgres", autocommit=True) as conn:
        for name in ("aspire_demo", "portal_demo"):
            conn.execute(f'drop database if exists "{name}" with (force)')
            conn.execute(f'create database "{name}"')
    del server  # keeps running (cleanup_mode=None) for the Airflow tasks and for you to look around
    from aspire_emulator.dsn import conninfo_to_uri

    return (
        conninfo_to_uri(f"host={pgdata} user=postgres dbname=aspire_demo"),
        conninfo_to_uri(f"host={pgdata} user=postgres dbname=portal_demo"),
    )


def main() -> int:
    args = parse_args()
    if args.down:
        return stop_embedded_postgres(args.pgdata)
    if os.environ.get("AIRFLOW_CONN_ASPIRE") and os.environ.get("AIRFLOW_CONN_PORTAL"):
        from aspire_emulator.dsn import masked

        print(
            "Using the connections aspire and portal from AIRFLOW_CONN_ASPIRE / AIRFLOW_CONN_PORTAL: "
            f"{masked(os.environ['AIRFLOW_CONN_ASPIRE'])}, {masked(os.environ['AIRFLOW_CONN_PORTAL'])}"
        )
        return demo(args)
    os.environ["AIRFLOW_CONN_ASPIRE"], os.environ["AIRFLOW_CONN_PORTAL"] = embedded_postgres(args.pgdata)
    try:
        return demo(args)
    finally:  # whatever happened, the server stays up and the last line says how to stop it
        server = running_postgres(args.pgdata)
        down = (
            "make demo-down"
            if args.pgdata == checkout_pgdata()
            else f"python scripts/demo.py --down --pgdata {args.pgdata}"
        )
        print(
            f"The embedded PostgreSQL (pid {server.pid if server else '?'}, data in {args.pgdata}) keeps running "
            f"for you to look around; stop it with: {down}"
        )


def demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()

    home = Path(os.environ.get("ASPIRE_PORTAL_DEMO_HOME", REPO / ".demo")) / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    airflow = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO" if args.verbose else "WARNING",
    }
    os.environ.update(airflow)
    print(f"Migrating the Airflow metadata database (SQLite in {home})")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)

    from aspire_emulator import dsn, generate, portal

    aspire_dsn = dsn.airflow_uri_to_conninfo(os.environ["AIRFLOW_CONN_ASPIRE"])
    portal_dsn = dsn.airflow_uri_to_conninfo(os.environ["AIRFLOW_CONN_PORTAL"])
    clock = time.perf_counter()
    counts = generate.create(aspire_dsn, size=args.size, seed=args.seed)
    print(
        f"Seeded the ASPIRE emulator ({args.size}, seed {args.seed}) in {time.perf_counter() - clock:.1f}s: "
        + ", ".join(f"{table} {n:,}" for table, n in counts.items())
    )
    portal.create_portal_schema(portal_dsn)
    customers = portal.enroll(portal_dsn, aspire_dsn, count=args.customers, seed=args.seed)
    print(f"Enrolled {len(customers)} customers in the portal: {customers}")

    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag(dag_folder=str(REPO / "dags"))
    runs = []
    for customer in customers:
        clock = time.perf_counter()
        run = dags.get_dag("aspire_portal_customer_full_sync").test(run_conf={"customer_id": customer})
        runs.append((customer, run.run_id, run.state, time.perf_counter() - clock))
        if run.state != "success":
            print(f"Full sync of customer {customer} ended {run.state}; see the task logs above")
            return 1

    from aspire_emulator import simulate

    def simulate_activity() -> None:
        events = simulate.simulate(aspire_dsn, events=args.events, seed=args.seed)
        print(
            f"Simulated ASPIRE activity: {sum(events.values())} transactions "
            f"({', '.join(f'{name} {n}' for name, n in sorted(events.items()))})"
        )

    # The first incremental run sets the watermarks (it reads everything in scope and, after the full syncs,
    # writes nothing); after some ASPIRE activity the second applies just the changes; the daily run refreshes.
    for dag_id in (
        "aspire_portal_incremental",
        simulate_activity,
        "aspire_portal_incremental",
        "aspire_portal_daily_refresh",
    ):
        if callable(dag_id):
            dag_id()
            continue
        clock = time.perf_counter()
        run = dags.get_dag(dag_id).test()
        print(f"{dag_id}: {run.state} in {time.perf_counter() - clock:.1f}s")
        if run.state != "success":
            return 1
        runs.append((dag_id, run.run_id, run.state, time.perf_counter() - clock))

    report(portal_dsn, runs)
    shell = shell_env(airflow, aspire_dsn, portal_dsn)
    env_file = write_shell_env(home.parent / "env.sh", shell)
    support_commands(aspire_dsn, portal_dsn, customers, shell, env_file)
    portal_uri = dsn.masked(os.environ["AIRFLOW_CONN_PORTAL"])
    print(f"\nDemo done in {time.perf_counter() - started:.1f}s. Portal: {portal_uri}")
    print(f"To run python -m aspire_portal, airflow and psql on the demo's databases yourself: source {env_file}")
    return 0


def shell_env(airflow: dict[str, str], aspire_dsn: str, portal_dsn: str) -> dict[str, str]:
    """What a shell needs, besides `path_first` on its PATH, to run this checkout's commands on the demo's databases
    as the demo ran them: Airflow's settings (`airflow`), the two connections, the package on the path, and psql's
    defaults (the portal). A password is never written: connections that carry one came from the caller's shell,
    which has them already."""
    import psycopg

    env = dict(airflow)
    aspire, portal = (psycopg.conninfo.conninfo_to_dict(dsn) for dsn in (aspire_dsn, portal_dsn))
    if "password" not in aspire and "password" not in portal:
        env["AIRFLOW_CONN_ASPIRE"] = os.environ["AIRFLOW_CONN_ASPIRE"]
        env["AIRFLOW_CONN_PORTAL"] = os.environ["AIRFLOW_CONN_PORTAL"]
    for key, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("dbname", "PGDATABASE")):
        if portal.get(key):
            env[variable] = str(portal[key])
    env["PYTHONPATH"] = str(REPO / "plugins")
    return env


def path_first() -> list[str]:
    """The folders a shell looks in first for the demo's commands: this checkout's venv (python, airflow) and, with
    the embedded server, its own psql."""
    path = [str(Path(sys.executable).parent)]
    if "pgserver" in sys.modules:
        from pgserver import _commands

        path.append(str(_commands.POSTGRES_BIN_PATH))
    return path


def write_shell_env(path: Path, shell: dict[str, str]) -> Path:
    """Writes `shell` (see shell_env) and `path_first` as a file to source; returns its path, relative to the
    checkout when under it."""
    lines = ["# Written by scripts/demo.py: `source` it to run this checkout's commands on the demo's databases."]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in shell.items()]
    lines.append(f'export PATH={shlex.quote(os.pathsep.join(path_first()))}:"$PATH"')
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def support_commands(
    aspire_dsn: str, portal_dsn: str, customers: list[int], shell: dict[str, str], env_file: Path
) -> None:
    """What the daily run's reconciliation found, and the support commands run on the demo's data as a person runs
    them after sourcing `env_file` (`python -m aspire_portal …`, a new process with `shell`'s environment)."""
    import psycopg

    with psycopg.connect(portal_dsn) as portal, psycopg.connect(aspire_dsn) as aspire:
        drift = portal.execute(
            "select entity, measure, aspire_value, portal_value, difference from aspire_sync.reconciliation "
            "where phase = 'before' and account_oid is null and contract_oid is null and difference <> 0 "
            "and run_id = (select run_id from aspire_sync.reconciliation where dag_id = %s "
            "order by checked_at desc limit 1) order by 1, 2",
            ("aspire_portal_daily_refresh",),
        ).fetchall()
        contract = portal.execute(
            "select min(contract_oid) from aspire.contract where customer_account_oid = %s", (customers[0],)
        ).fetchone()[0]
        unbooked = aspire.execute("select min(contractoid) from dbo.contract where isbooked = 0").fetchone()[0]
    print("\nDrift the daily run measured before its merge (what the 15-minute path left; aspire_sync.reconciliation):")
    if not drift:
        print("  none: every entity's totals matched ASPIRE's in-scope data")
    for entity, measure, aspire_value, portal_value, difference in drift:
        print(
            f"  {entity:18} {measure:22} aspire {aspire_value!s:>14}  portal {portal_value!s:>14}  "
            f"difference {difference!s:>10}"
        )
    print(f"\nSupport commands, as they run after `source {env_file}`:")
    for args in (
        ["explain", "contract", str(contract)],
        ["explain", "contract", str(unbooked)],
        ["reconcile", "--entity", "invoice"],
        ["status"],
    ):
        print(f"\n$ python -m aspire_portal {' '.join(args)}")
        done = subprocess.run(
            ["python", "-m", "aspire_portal", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **shell, "PATH": os.pathsep.join([*path_first(), os.environ.get("PATH", "")])},
        )
        print(done.stdout.rstrip() or done.stderr.rstrip())


def report(portal_dsn: str, runs: list[tuple[int | str, str, str, float]]) -> None:
    import psycopg

    from aspire_portal import catalogue

    with psycopg.connect(portal_dsn) as conn:
        print("\nRuns (customer full syncs, then the incremental and the daily run):")
        print(
            f"  {'customer / DAG':>32}  {'state':8} {'seconds':>8}  {'read':>8} {'inserted':>9} {'updated':>8} "
            f"{'deleted':>8}"
        )
        for what, run_id, state, seconds in runs:
            read, inserted, updated, deleted = conn.execute(
                "select coalesce(sum(rows_read), 0), coalesce(sum(rows_inserted), 0), "
                "coalesce(sum(rows_updated), 0), coalesce(sum(rows_deleted), 0) "
                "from aspire_sync.run_log where run_id = %s and status = 'success'",
                (run_id,),
            ).fetchone()
            print(f"  {what:>32}  {state:8} {seconds:8.1f}  {read:>8,} {inserted:>9,} {updated:>8,} {deleted:>8,}")
        print(
            "  (the first incremental run sets the watermarks: it reads what is in scope and writes nothing the full "
            "syncs already wrote; the second reads only what changed since)"
        )
        print("\nWhat landed in the portal (schema aspire):")
        print(f"  {'entity':20} {'rows':>9}")
        for entity in catalogue.ENTITIES:
            rows = conn.execute(f"select count(*) from {entity.target_table}").fetchone()[0]  # noqa: S608
            print(f"  {entity.name:20} {rows:>9,}")


if __name__ == "__main__":
    sys.exit(main())
