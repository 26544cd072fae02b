"""`make stack` / `make stack-down`: a live Airflow 3 on this machine, without Docker, as production runs it.

    python scripts/stack.py up [--port 8080] [--customers 10] [--size small] [--workers 2]
    python scripts/stack.py status
    python scripts/stack.py down [--drop-databases]

`up` starts the api-server, scheduler, dag-processor, triggerer and Celery workers (CeleryExecutor), with
PostgreSQL as Airflow's metadata database and Redis as the broker: the Redis on 127.0.0.1:6379 when one answers
(its keys under the stack's prefix, removed by `down`), else a redis-server of its own on a free port. It creates
the databases `<prefix>_airflow` (metadata), `<prefix>_aspire` (the ASPIRE emulator) and `<prefix>_portal`
(re-created when they exist), enrolls some customers, adds the connections `aspire` and `portal`, applies the
pool and the Variable of airflow_settings.yaml with `airflow pools set` / `airflow variables set`, parses the DAGs
into the metadata database (`airflow dags reserialize`) and unpauses every DAG it found, then prints the UI's
address and login. Process ids go to <state>/pids, logs to <state>/logs, Airflow's home is <state>/airflow.
AIRFLOW__SECTION__KEY settings in the environment reach every process (e.g. a shorter heartbeat timeout).
`down` stops, by pid, what `up` started (whole process trees, task processes included) and says what it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
DEFAULT_STATE = REPO / ".stack"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
SHARED_REDIS = ("127.0.0.1", 6379)
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
# Settings the stack chooses unless the environment says otherwise.
DEFAULTS = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    # a message a dead worker held is redelivered after this long; Airflow retries the task long before
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
}


class StackError(RuntimeError):
    """`up` could not bring the stack up; the message says which part and where its log is."""


# ---- small helpers ---------------------------------------------------------------------------------------------


def airflow_command() -> list[str]:
    script = Path(sys.executable).with_name("airflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def http_status(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}
    except (urllib.error.URLError, OSError, ValueError):
        return 0, {}


def database_dsn(admin_dsn: str, name: str) -> str:
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def recreate_databases(admin_dsn: str, names: list[str]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def drop_databases(admin_dsn: str, names: list[str]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


# ---- the state folder ------------------------------------------------------------------------------------------


class State:
    """What `up` started, where: <state>/stack.json, pids/<name>.pid, logs/<name>.log, airflow/ (AIRFLOW_HOME)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pids = root / "pids"
        self.logs = root / "logs"
        self.home = root / "airflow"
        self.file = root / "stack.json"

    def load(self) -> dict:
        return json.loads(self.file.read_text()) if self.file.exists() else {}

    def save(self, data: dict) -> None:
        self.file.write_text(json.dumps(data, indent=2) + "\n")

    def record(self, name: str, process: subprocess.Popen) -> None:
        import psutil

        (self.pids / f"{name}.pid").write_text(f"{process.pid}\n")
        started = {"pid": process.pid, "create_time": psutil.Process(process.pid).create_time()}
        (self.pids / f"{name}.json").write_text(json.dumps(started) + "\n")

    def processes(self) -> dict[str, dict]:
        """name -> {"pid", "create_time"} of every process a pid file names (in start order)."""
        found = {}
        for pid_file in sorted(self.pids.glob("*.pid"), key=lambda p: p.stat().st_mtime):
            meta = pid_file.with_suffix(".json")
            info = json.loads(meta.read_text()) if meta.exists() else {}
            found[pid_file.stem] = {"pid": int(pid_file.read_text().strip()), "create_time": info.get("create_time")}
        return found


def alive(info: dict):
    """The psutil.Process of a recorded process, or None when it is gone (or its pid now names another one)."""
    import psutil

    try:
        process = psutil.Process(info["pid"])
        if info.get("create_time") is not None and abs(process.create_time() - info["create_time"]) > 1:
            return None
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.NoSuchProcess:
        return None


def process_tree(process) -> list:
    """The process and every descendant (task processes sit in process groups of their own)."""
    import psutil

    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


# ---- up --------------------------------------------------------------------------------------------------------


def stack_environment(
    state: State, *, prefix: str, admin_dsn: str, port: int, host: str, broker: str, keyprefix: str, secrets_: dict
) -> dict[str, str]:
    """Every process's environment: the caller's (without its own Airflow home, connections or Variables), the
    stack's defaults unless the caller set them, and what makes these processes one deployment."""
    from aspire_emulator.dsn import conninfo_to_uri

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_")) and k != "AIRFLOW_CONFIG"
    }
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(state.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conninfo_to_uri(
                database_dsn(admin_dsn, f"{prefix}_airflow"), scheme="postgresql+psycopg"
            ),
            "AIRFLOW__CELERY__BROKER_URL": broker,
            # every key this stack writes in Redis carries its prefix (a shared Redis may serve other stacks)
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": keyprefix,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": prefix,
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # one deployment: every component signs and checks the same tokens and reads the same secrets
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets_["jwt"],
            "AIRFLOW__API__SECRET_KEY": secrets_["api"],
            "AIRFLOW__CORE__FERNET_KEY": secrets_["fernet"],
            "ASPIRE_PORTAL_TEMPLATE_CACHE": str(state.root / "template-cache"),
        }
    )
    return env


def start(state: State, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    log = (state.logs / f"{name}.log").open("ab")
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    state.record(name, process)
    return process


def run_airflow(state: State, *steps: list[str], env: dict[str, str], timeout: float = 300) -> list[str]:
    """Plain-Airflow CLI steps, run at once (each its own `airflow` process); their output goes to logs/setup.log.
    Returns their stdouts; the first that failed stops `up`."""
    running = [
        (
            args,
            subprocess.Popen(
                [*airflow_command(), *args],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args in steps
    ]
    outputs, failed = [], []
    for args, process in running:
        stdout, stderr = process.communicate(timeout=timeout)
        with (state.logs / "setup.log").open("a") as log:
            log.write(f"$ airflow {' '.join(args)}\n{stdout}{stderr}\n")
        if process.returncode != 0:
            failed.append(f"`airflow {' '.join(args)}` failed (exit {process.returncode}):\n{stderr[-3000:]}")
        outputs.append(stdout)
    if failed:
        raise StackError(failed[0])
    return outputs


def settings_file() -> dict:
    import yaml

    return yaml.safe_load((REPO / "airflow_settings.yaml").read_text())["airflow"]


def unpause_every_dag(state: State, env: dict[str, str]) -> list[str]:
    """Unpauses each DAG the dags folder holds, as `airflow dags list` reports them. Run it after
    `airflow dags reserialize`: `airflow dags unpause` on a DAG never parsed finds nothing to unpause and leaves it
    paused (the dag-processor would parse it later, paused)."""
    listed = run_airflow(state, ["dags", "list", "-o", "json"], env=env)[0]
    start_at = re.search(r"^[\[{]", listed, re.M)  # the JSON, after any warnings Airflow printed
    if start_at is None:
        raise StackError(f"`airflow dags list` printed no DAGs:\n{listed[-2000:]}")
    dag_ids = sorted(d["dag_id"] for d in json.JSONDecoder().raw_decode(listed[start_at.start() :])[0])
    if not dag_ids:
        raise StackError("the dags folder parsed to no DAG; see logs/setup.log")
    pattern = "^(" + "|".join(re.escape(dag_id) for dag_id in dag_ids) + ")$"
    run_airflow(state, ["dags", "unpause", "--treat-dag-id-as-regex", "--yes", pattern], env=env)
    return dag_ids


def wait_for(what: str, check, timeout: float, processes: dict[str, subprocess.Popen], state: State) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for name, process in processes.items():
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited (code {process.returncode}) while waiting for {what}; "
                    f"the end of {state.logs / (name + '.log')}:\n{tail(state.logs / (name + '.log'))}"
                )
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not happen within {timeout:.0f}s; logs in {state.logs}")
        time.sleep(1)


def up(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    state = State(args.state)
    running = [name for name, info in state.processes().items() if alive(info)] if state.pids.exists() else []
    if running:
        print(
            f"A stack is already running from {state.root} ({', '.join(running)}); `make stack-down` first.",
            file=sys.stderr,
        )
        return 1
    clock = time.monotonic()
    for folder in (state.pids, state.logs, state.home):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    prefix = args.db_prefix
    databases = [f"{prefix}_airflow", f"{prefix}_aspire", f"{prefix}_portal"]
    port = args.port or free_port()
    data = {
        "prefix": prefix,
        "admin_dsn": args.pg,
        "databases": databases,
        "port": port,
        "url": f"http://127.0.0.1:{port}",
        "redis": {},
    }
    state.save(data)

    if not args.own_redis and redis_answers(*SHARED_REDIS):
        data["redis"] = {"url": "redis://127.0.0.1:6379/0", "own": False, "keyprefix": f"{prefix}:"}
    else:
        redis_port = free_port()
        redis_dir = state.root / "redis"
        redis_dir.mkdir(exist_ok=True)
        server = shutil.which("redis-server")
        if server is None:
            print(
                "No Redis answers on 127.0.0.1:6379 and redis-server is not installed (apt-get install redis-server).",
                file=sys.stderr,
            )
            return 1
        start(
            state,
            "redis",
            [
                server,
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(redis_dir),
            ],
            dict(os.environ),
        )
        data["redis"] = {"url": f"redis://127.0.0.1:{redis_port}/0", "own": True, "keyprefix": f"{prefix}:"}
        deadline = time.monotonic() + 30
        while not redis_answers("127.0.0.1", redis_port):
            if time.monotonic() > deadline:
                print(
                    f"redis-server did not answer on port {redis_port}:\n{tail(state.logs / 'redis.log')}",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.2)
    state.save(data)

    keys = {
        "jwt": secrets.token_urlsafe(32),
        "api": secrets.token_urlsafe(32),
        "fernet": Fernet.generate_key().decode(),
    }
    env = stack_environment(
        state,
        prefix=prefix,
        admin_dsn=args.pg,
        port=port,
        host=args.host,
        broker=data["redis"]["url"],
        keyprefix=data["redis"]["keyprefix"],
        secrets_=keys,
    )
    env_file = state.root / "env.sh"
    env_file.touch()
    env_file.chmod(0o600)  # it holds the stack's secrets
    env_file.write_text(
        "# source this file to run the airflow CLI against the stack\n"
        + "".join(
            f"export {k}={shlex_quote(v)}\n"
            for k, v in sorted(env.items())
            if k.startswith("AIRFLOW") or k in ("PATH", "ASPIRE_PORTAL_TEMPLATE_CACHE")
        )
    )
    try:
        return _up(args, state, data, env, clock)
    except Exception as error:  # noqa: BLE001 - whatever stopped it, stop what was started
        print(
            f"\nThe stack did not come up: {type(error).__name__}: {error}\nStopping what was started.", file=sys.stderr
        )
        down(argparse.Namespace(state=args.state, drop_databases=args.drop_on_failure, quiet=False))
        return 1


def shlex_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _up(args: argparse.Namespace, state: State, data: dict, env: dict[str, str], clock: float) -> int:
    from aspire_emulator import generate, portal
    from aspire_emulator.dsn import conninfo_to_uri, masked

    prefix, port = data["prefix"], data["port"]
    recreate_databases(args.pg, data["databases"])
    print(f"Databases {', '.join(data['databases'])} created on {masked(args.pg)}")
    migrate = subprocess.Popen(
        [*airflow_command(), "db", "migrate"],
        cwd=REPO,
        env=env,
        stdout=(state.logs / "db-migrate.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    aspire_dsn = database_dsn(args.pg, f"{prefix}_aspire")
    portal_dsn = database_dsn(args.pg, f"{prefix}_portal")
    counts = generate.create(aspire_dsn, size=args.size, seed=args.seed)
    portal.create_portal_schema(portal_dsn)
    enrolled = portal.enroll(portal_dsn, aspire_dsn, count=args.customers, seed=args.seed) if args.customers else []
    print(
        f"ASPIRE emulator created ({args.size}, seed {args.seed}: {sum(counts.values()):,} rows) with the portal; "
        f"enrolled {len(enrolled)} customers: {' '.join(map(str, enrolled))}"
    )
    if migrate.wait(timeout=600) != 0:
        raise StackError(f"`airflow db migrate` failed:\n{tail(state.logs / 'db-migrate.log')}")
    print(f"Airflow metadata database migrated ({time.monotonic() - clock:.0f}s)")

    worker_names = [f"worker-{n}" for n in range(1, args.workers + 1)]
    processes = {
        "api-server": start(
            state, "api-server", [*airflow_command(), "api-server", "--port", str(port), "--host", args.host], env
        ),
        "scheduler": start(state, "scheduler", [*airflow_command(), "scheduler"], env),
        "dag-processor": start(state, "dag-processor", [*airflow_command(), "dag-processor"], env),
        "triggerer": start(state, "triggerer", [*airflow_command(), "triggerer", "--skip-serve-logs"], env),
    }
    hostnames = {}
    for name in worker_names:
        hostnames[name] = f"{prefix}-{name}@{socket.gethostname()}"
        processes[name] = start(
            state,
            name,
            [
                *airflow_command(),
                "celery",
                "worker",
                "--celery-hostname",
                hostnames[name],
                "--queues",
                prefix,
                "--skip-serve-logs",
            ],
            env,
        )
    data["workers"] = hostnames
    state.save(data)

    # Plain-Airflow setup while the services start: the connections to the emulator, airflow_settings.yaml's pool
    # and Variable (its connections are production placeholders) and the DAGs parsed into the metadata database;
    # then every DAG unpaused.
    connections = {"aspire": conninfo_to_uri(aspire_dsn), "portal": conninfo_to_uri(portal_dsn)}
    settings = settings_file()
    run_airflow(
        state,
        *[["connections", "add", conn_id, "--conn-uri", uri] for conn_id, uri in connections.items()],
        *[
            ["pools", "set", pool["pool_name"], str(pool["pool_slot"]), pool["pool_description"]]
            for pool in settings.get("pools", [])
        ],
        *[
            ["variables", "set", variable["variable_name"], str(variable["variable_value"])]
            for variable in settings.get("variables", [])
        ],
        ["dags", "reserialize"],
        env=env,
    )
    dag_ids = unpause_every_dag(state, env)

    def healthy() -> bool:
        status, body = http_status(f"http://127.0.0.1:{port}/api/v2/monitor/health")
        return status == 200 and all(
            body.get(part, {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    wait_for(
        "the api-server, scheduler, triggerer and dag-processor to report healthy",
        healthy,
        args.timeout,
        processes,
        state,
    )

    def workers_ready() -> bool:
        return all(
            f"{hostnames[name]} ready" in (state.logs / f"{name}.log").read_text(errors="replace")
            for name in worker_names
        )

    wait_for("the Celery workers to be ready", workers_ready, args.timeout, processes, state)
    data["dags"] = dag_ids
    state.save(data)

    passwords = state.home / "simple_auth_manager_passwords.json.generated"
    password = json.loads(passwords.read_text()).get("admin", "?") if passwords.exists() else "?"
    redis = data["redis"]
    print(f"\nStack up in {time.monotonic() - clock:.0f}s (CeleryExecutor; state, pid files and logs in {state.root}):")
    print(f"  UI and REST API   http://localhost:{port}   login: admin / {password}")
    print(f"  processes         {', '.join(f'{n} ({p.pid})' for n, p in processes.items())}")
    print(f"  Celery workers    {', '.join(hostnames.values())} (queue {prefix})")
    print(
        f"  broker            {redis['url']}: "
        + (
            f"redis-server started here (pid file {state.pids}/redis.pid)"
            if redis["own"]
            else f"the Redis already running, keys under {redis['keyprefix']}"
        )
    )
    print(f"  metadata database {masked(env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'])}")
    print(f"  connections       aspire -> {masked(connections['aspire'])}, portal -> {masked(connections['portal'])}")
    print(f"  DAGs unpaused     {', '.join(dag_ids)}")
    print(f"  airflow CLI       source {state.root / 'env.sh'} && airflow dags list")
    print("  stop              make stack-down")
    return 0


# ---- down and status -------------------------------------------------------------------------------------------


def down(args: argparse.Namespace) -> int:
    import psutil

    state = State(args.state)
    data = state.load()
    recorded = state.processes() if state.pids.exists() else {}
    if not recorded and not data:
        print(f"No stack recorded in {state.root}: nothing to stop.")
        return 0
    # Workers and services first (a Celery worker's SIGTERM is a warm shutdown: it lets running tasks finish,
    # for a while), Redis last, so nothing loses its broker while it stops.
    order = sorted(recorded, key=lambda name: name == "redis")
    trees = {}
    for name in order:
        process = alive(recorded[name])
        if process is None:
            print(f"{name} (pid {recorded[name]['pid']}) was not running")
            continue
        trees[name] = process_tree(process)
    for name in [n for n in order if n in trees and n != "redis"]:
        _signal_all(trees[name], signal.SIGTERM)
    _wait_gone([p for name, tree in trees.items() if name != "redis" for p in tree], args_timeout(args))
    if "redis" in trees:
        _signal_all(trees["redis"], signal.SIGTERM)
        _wait_gone(trees["redis"], 10)
    for name, tree in trees.items():
        survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if survivors:
            _signal_all(survivors, signal.SIGKILL)
            _wait_gone(survivors, 10)
        how = "killed (SIGKILL after SIGTERM)" if survivors else "stopped (SIGTERM)"
        print(f"{name} (pid {tree[0].pid}, {len(tree) - 1} child process(es)) {how}")
    redis = data.get("redis") or {}
    if redis and not redis.get("own") and redis.get("keyprefix"):
        removed = _remove_redis_keys(redis["url"], redis["keyprefix"])
        print(f"Removed {removed} key(s) under {redis['keyprefix']} from the shared Redis ({redis['url']})")
    for pid_file in list(state.pids.glob("*.pid")) + list(state.pids.glob("*.json")):
        pid_file.unlink()
    if getattr(args, "drop_databases", False) and data.get("databases"):
        drop_databases(data["admin_dsn"], data["databases"])
        print(f"Dropped databases {', '.join(data['databases'])}")
    elif data.get("databases"):
        print(
            f"Kept databases {', '.join(data['databases'])} (`stack.py down --drop-databases` drops them); "
            f"logs in {state.logs}"
        )
    return 0


def args_timeout(args: argparse.Namespace) -> float:
    return float(getattr(args, "timeout", None) or 30)


def _signal_all(processes: list, sig: signal.Signals) -> None:
    import psutil

    for process in processes:
        try:
            process.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def _wait_gone(processes: list, timeout: float) -> None:
    import psutil

    psutil.wait_procs(processes, timeout=timeout)


def _remove_redis_keys(url: str, keyprefix: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{keyprefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    return len(keys)


def status(args: argparse.Namespace) -> int:
    state = State(args.state)
    data = state.load()
    recorded = state.processes() if state.pids.exists() else {}
    if not recorded:
        print(f"No stack running from {state.root} (`make stack` starts one).")
        return 1
    lines = []
    total = 0
    for name, info in recorded.items():
        process = alive(info)
        if process is None:
            lines.append((0, f"{name:14} stopped   (pid {info['pid']}); `make stack-down`, then `make stack`"))
            continue
        tree = process_tree(process)
        used = memory(tree)
        total += used
        lines.append((1, f"{name:14} running   pid {info['pid']}, {len(tree)} process(es), {used / 2**20:,.0f} MB"))
    for _, line in sorted(lines):
        print(line)
    code, body = http_status(f"{data.get('url', '')}/api/v2/monitor/health")
    print(
        f"{'api health':14} {'answering' if code == 200 else 'not answering'} "
        + ", ".join(f"{part} {value.get('status')}" for part, value in body.items() if isinstance(value, dict))
    )
    print(
        f"{'memory':14} {total / 2**20:,.0f} MB in all (proportional set size: shared pages split between "
        f"the processes sharing them), UI at {data.get('url', '')}"
    )
    return 0 if all(rank for rank, _ in lines) and code == 200 else 1


def memory(processes: list) -> int:
    """Bytes the processes use: their proportional set sizes (a forked worker's shared pages counted once)."""
    import psutil

    used = 0
    for process in processes:
        try:
            used += process.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return used


# ---- command line ----------------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="scripts/stack.py", description=__doc__.split("\n\n")[0])
    main.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("STACK_STATE", DEFAULT_STATE)),
        help="state folder: pid files, logs, AIRFLOW_HOME (default .stack, or $STACK_STATE)",
    )
    commands = main.add_subparsers(dest="command", required=True)
    start_ = commands.add_parser("up", help="start the stack")
    start_.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("STACK_PORT", 8080)),
        help="api-server port (default 8080, or $STACK_PORT; 0: a free one)",
    )
    start_.add_argument("--host", default="127.0.0.1", help="api-server address (default 127.0.0.1)")
    start_.add_argument(
        "--pg",
        default=os.environ.get("STACK_PG_DSN", DEFAULT_PG),
        help=f"PostgreSQL server to create the databases on (default $STACK_PG_DSN, else {DEFAULT_PG})",
    )
    start_.add_argument(
        "--db-prefix",
        default="aspire_stack",
        help="database names <prefix>_airflow, _aspire, _portal; also the Celery queue and Redis "
        "key prefix (default aspire_stack)",
    )
    start_.add_argument("--size", choices=["small", "medium", "large"], default="small", help="emulator size")
    start_.add_argument("--seed", type=int, default=42)
    start_.add_argument("--customers", type=int, default=10, help="customers to enroll (default 10)")
    start_.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    start_.add_argument(
        "--own-redis", action="store_true", help="start a redis-server even when one answers on 127.0.0.1:6379"
    )
    start_.add_argument("--timeout", type=float, default=300, help="seconds to wait for each part (default 300)")
    start_.add_argument("--drop-on-failure", action="store_true", help="drop the databases if `up` fails")
    stop = commands.add_parser("down", help="stop what `up` started, by pid")
    stop.add_argument("--drop-databases", action="store_true", help="also drop the stack's databases")
    stop.add_argument(
        "--timeout", type=float, default=30, help="seconds to wait after SIGTERM before SIGKILL (default 30)"
    )
    commands.add_parser("status", help="one line per process, the stopped ones first")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.state = args.state.resolve()
    return {"up": up, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
