"""The COPY stream's fetching ahead: the next batch is fetched by a thread while this one is written. Against two
real PostgreSQL databases (a source and a target), in small batches so a stream is many of them: every row lands
once; an error of the source mid-stream, or of COPY, reaches the caller; either way no fetching thread is left and
the source connection serves the next statement."""

from __future__ import annotations

import threading

import psycopg
import pytest

from aspire_portal import copystream

ROWS = 1_000


@pytest.fixture(scope="module")
def dsns(fresh_database):
    return fresh_database("copystream_source"), fresh_database("copystream_target")


@pytest.fixture
def conns(dsns):
    source_dsn, target_dsn = dsns
    with psycopg.connect(source_dsn) as source, psycopg.connect(target_dsn) as target:
        target.execute("create temp table landed (n bigint primary key, label text)")
        yield source, target
    assert not [t for t in threading.enumerate() if t.name == "aspire-extract-prefetch"], "a fetching thread is left"


INTO = copystream.Into("landed", ["n", "label"], ['"n"', '"label"'])
EXTRACT = "select g as n, 'row ' || g as label from generate_series(1, %(rows)s) as g"


def stream(source, target, extract=EXTRACT, rows=ROWS, **options):
    return copystream.stream_rows(source, target, extract, {"rows": rows}, INTO, batch_size=7, **options)


@pytest.mark.parametrize("row_format", ["text", "typed"])
def test_every_row_lands_once_in_many_batches(conns, row_format):
    source, target = conns
    assert stream(source, target, row_format=row_format) == ROWS
    assert target.execute("select count(*), count(distinct n), sum(n) from landed").fetchone() == (
        ROWS,
        ROWS,
        ROWS * (ROWS + 1) // 2,
    )
    assert stream(source, target, rows=0) == 0  # an empty extract: nothing fetched ahead


def test_a_source_error_mid_stream_reaches_the_caller_and_the_copy_is_undone(conns):
    source, target = conns
    failing = "select g as n, 'row ' || g as label from generate_series(1, %(rows)s) as g where 1 / (500 - g) >= 0"
    with pytest.raises(psycopg.errors.DivisionByZero):
        with target.transaction():
            stream(source, target, extract=failing)
    assert target.execute("select count(*) from landed").fetchone() == (0,)
    source.rollback()
    assert source.execute("select 1").fetchone() == (1,)  # the source connection serves the next statement


def test_a_value_copy_refuses_stops_the_fetching_and_the_source_serves_the_next_extract(conns):
    """The binary COPY of typed rows refuses a value too large for an integer column as it is written (row 500 of
    1,000, so batches are still to come): the fetching stops, and the same source transaction runs the next extract."""
    source, target = conns
    target.execute("create temp table narrow (n integer, label text)")
    narrow = copystream.Into("narrow", ["n", "label"], ['"n"', '"label"'])
    too_large = "select case when g = 500 then 2^40 else g end::bigint as n, 'row ' || g as label " + (
        "from generate_series(1, %(rows)s) as g"
    )
    with pytest.raises(psycopg.DataError, match="does not fit a column of type integer"):
        with target.transaction():
            copystream.stream_rows(source, target, too_large, {"rows": ROWS}, narrow, batch_size=7, row_format="typed")
    assert target.execute("select count(*) from narrow").fetchone() == (0,)
    assert stream(source, target) == ROWS  # the same source transaction, a new cursor
