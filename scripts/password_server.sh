#!/usr/bin/env bash
# Runs a command against a throw-away PostgreSQL that checks passwords (scram-sha-256, as real servers do), with
# TEST_PG_DSN naming it: superuser postgres, a random password, 127.0.0.1 and a free port. The server lives in a temp
# folder and is stopped and removed when the command ends, however it ends. Needs PostgreSQL's server programs
# (initdb, pg_ctl; PG_BIN, else the newest /usr/lib/postgresql/*/bin); as root, it runs them as the user postgres.
# Usage: scripts/password_server.sh .venv/bin/python -m pytest -m integration
set -euo pipefail

bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "password_server.sh: no initdb and pg_ctl in '$bin'; install PostgreSQL's server (apt-get install" \
        "postgresql) or set PG_BIN to the folder that has them" >&2
    exit 2
fi
as_owner=()
dir=$(mktemp -d "${TMPDIR:-/tmp}/aspire-portal-scram.XXXXXX")
if [ "$(id -u)" = 0 ]; then  # the server refuses to run as root
    as_owner=(runuser -u postgres --)
    chown postgres: "$dir"
fi

stop() {
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM  # so the EXIT trap runs on Ctrl-C too

password="scram-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$password" >"$dir/password"
chmod 644 "$dir/password"
if ! "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/password" \
    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    exit 1
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if ! "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null; then
    cat "$dir/server.log" >&2
    exit 1
fi

export TEST_PG_DSN="postgresql://postgres:$password@127.0.0.1:$port/postgres"
echo "A throw-away PostgreSQL that checks passwords (scram-sha-256) on 127.0.0.1:$port, user postgres; running: $*"
"$@"
