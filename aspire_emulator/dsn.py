"""Where the emulator's databases are: an explicit DSN, else ASPIRE_DSN / PORTAL_DSN, else the Airflow
connections AIRFLOW_CONN_ASPIRE / AIRFLOW_CONN_PORTAL the DAGs use, so the demo needs one set of settings."""

from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:]*)(?::(\d*))?")


def _libpq_keywords() -> frozenset[str]:
    return frozenset(option.keyword.decode() for option in pq.Conninfo.get_defaults())


def airflow_uri_to_conninfo(uri: str) -> str:
    """A libpq conninfo from an Airflow postgres connection URI (or its JSON form).

    A percent-encoded host such as %2Ftmp%2Fpg is a unix-socket directory; query parameters that libpq
    knows (sslmode, ...) are kept, Airflow extras it does not know are dropped.
    """
    if uri.lstrip().startswith("{"):
        return _json_to_conninfo(json.loads(uri))
    parts = urlsplit(uri)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"expected a postgres:// or postgresql:// connection URI, got scheme {parts.scheme!r}")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, port = _HOST_PORT.fullmatch(hostport).groups()
    params = {
        "host": unquote(host).strip("[]"),
        "port": port,
        "user": unquote(user),
        "password": unquote(password),
        "dbname": unquote(parts.path.lstrip("/")),
    }
    known = _libpq_keywords()
    params.update((key, value) for key, value in parse_qsl(parts.query) if key in known)
    return make_conninfo(**{key: value for key, value in params.items() if value})


def _json_to_conninfo(conn: dict) -> str:
    extra = conn.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    known = _libpq_keywords()
    params = {
        "host": conn.get("host"),
        "port": conn.get("port"),
        "user": conn.get("login"),
        "password": conn.get("password"),
        "dbname": conn.get("schema"),
        **{key: value for key, value in extra.items() if key in known},
    }
    return make_conninfo(**{key: str(value) for key, value in params.items() if value not in (None, "")})


def resolve(explicit: str | None, env: str, airflow_env: str) -> str | None:
    """The DSN to use: `explicit`, else $`env`, else the Airflow connection in $`airflow_env`, else None."""
    if explicit:
        return explicit
    if os.environ.get(env):
        return os.environ[env]
    if os.environ.get(airflow_env):
        return airflow_uri_to_conninfo(os.environ[airflow_env])
    return None


def conninfo_to_uri(conninfo: str, scheme: str = "postgresql") -> str:
    """The URI of a libpq conninfo, for Airflow connections (AIRFLOW_CONN_*), SQLAlchemy and dlt. A socket
    directory becomes a percent-encoded host (Airflow lower-cases hosts: keep such paths lower case)."""
    info = conninfo_to_dict(conninfo)
    auth = quote(info.get("user", "postgres"), safe="")
    if info.get("password"):
        auth += ":" + quote(info["password"], safe="")
    host = quote(info.get("host", "127.0.0.1"), safe="")
    port = f":{info['port']}" if info.get("port") else ""
    return f"{scheme}://{auth}@{host}{port}/{info['dbname']}"


def masked(dsn: str) -> str:
    """`dsn` (a URI, an Airflow JSON connection or a libpq conninfo) with its password replaced by ****, for
    printing; a value it cannot read is not echoed at all."""
    text = dsn.strip()
    try:
        if text.startswith("{"):
            conn = json.loads(text)
            extra = conn.get("extra")
            if isinstance(extra, dict) and "password" in extra:
                conn["extra"] = {**extra, "password": "****"}
            return json.dumps({**conn, **({"password": "****"} if conn.get("password") else {})})
        if "://" in text:
            parts = urlsplit(text)
            userinfo, at, hostport = parts.netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            query = "&".join(
                f"{key}={'****' if key == 'password' else quote(value, safe='')}"
                for key, value in parse_qsl(parts.query, keep_blank_values=True)
            )
            netloc = f"{user}:****{at}{hostport}" if colon else parts.netloc
            return parts._replace(netloc=netloc, query=query).geturl()
        info = conninfo_to_dict(text)
        if "password" in info:
            info["password"] = "****"
        return make_conninfo(**info)
    except Exception:  # noqa: BLE001 - whatever it is, it may hold a secret: never print it
        return "<a connection string that could not be read; not shown>"
