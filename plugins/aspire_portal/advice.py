"""What to do, in one place: the runbook's advice as the alerts, `status`, `explain` and the load errors say it.

Each text names the runbook section (docs/operations.md) that says more, and the commands that act on it.
"""

from __future__ import annotations

from aspire_portal import settings

RUNBOOK = "docs/operations.md"


def runbook(section: str) -> str:
    """A pointer to a section of the runbook."""
    return f"runbook ({RUNBOOK}): '{section}'"


def mass_removal(dag: str | None, *, rebaseline: bool = False) -> str:
    """What to check, and how to allow one run a removal that is real."""
    if rebaseline:  # a restore to an older backup lacks what ASPIRE gained since: a removal that may well be real
        return (
            "A re-baseline removes what ASPIRE lost in its restore or failover (everything written after the backup "
            "it came from): compare the counts above with what was lost. If the removal is real, re-baseline with it "
            f"allowed: airflow dags trigger {settings.DAILY_DAG_ID} --conf "
            f'\'{{"rebaseline": true, "allow_mass_removal": true}}\'. See the '
            f"{runbook('ASPIRE was restored or failed over')}."
        )
    return (  # words for a person, with a query to paste; never executed
        "Likely cause: portal.portal_user_account was emptied or changed (a portal deploy), or ASPIRE returned far "  # noqa: S608
        "fewer rows than before (a wrong database or view). Check both (python -m aspire_portal status; "
        "select count(*) from portal.portal_user_account). If the removal is real, allow it for one run: "
        f"airflow dags trigger {dag or '<dag>'} --conf '{{\"allow_mass_removal\": true}}' (the form's \"Allow a "
        f'mass removal"). See the {runbook("A load refused a mass removal")}.'
    )


LOCK_WAIT = "See the " + runbook("A load waits for a lock") + "."

ENROLMENT_UNREADABLE = "Check the table; see the " + runbook("Every enrolment value is quarantined") + "."

QUARANTINED_SOURCE_ROW = (
    "each is read again every run and loads once fixed in ASPIRE; the portal keeps the version it had ("
    + runbook("A source row is quarantined")
    + ")"
)

LOAD_FAILED = runbook("A load task failed")

HELD_OPEN_TRANSACTION_MSSQL = (
    "select s.session_id, s.login_name, s.host_name, s.program_name, t.transaction_begin_time "
    "from sys.dm_tran_session_transactions as st "
    "join sys.dm_tran_active_transactions as t on t.transaction_id = st.transaction_id "
    "join sys.dm_exec_sessions as s on s.session_id = st.session_id order by t.transaction_begin_time"
)
HELD_OPEN_TRANSACTION_EMULATOR = (
    "select pid, usename, xact_start, query from pg_stat_activity where backend_xid is not null"
)

LIST_INCREMENTAL_RUNS = f"airflow dags list-runs {settings.INCREMENTAL_DAG_ID}"
LIST_DAILY_RUNS = f"airflow dags list-runs {settings.DAILY_DAG_ID}"
TRIGGER_DAILY = f"airflow dags trigger {settings.DAILY_DAG_ID}"
TRIGGER_INCREMENTAL = f"airflow dags trigger {settings.INCREMENTAL_DAG_ID}"

# A daily entity before the first daily refresh of a new deployment: nothing is wrong, the refresh is due.
NOT_REFRESHED_YET = (
    f"not refreshed yet: {settings.DAILY_DAG_ID} refreshes it every day at {settings.DAILY_AT[0]:02d}:"
    f"{settings.DAILY_AT[1]:02d} {settings.DAILY_TIMEZONE}; to refresh it now: {TRIGGER_DAILY}"
)


def trigger_full_sync(customer: object = "<id>") -> str:
    """The command that runs a customer's full sync now."""
    conf = f'{{"customer_id": {customer}}}'
    return f"airflow dags trigger {settings.FULL_SYNC_DAG_ID} --conf '{conf}'"


TRIGGER_REBASELINE = f"airflow dags trigger {settings.DAILY_DAG_ID} --conf '{{\"rebaseline\": true}}'"

REBASELINE = (
    f"The sync re-baselines by itself ({settings.DAILY_DAG_ID} with rebaseline, started by the next 15-minute run); "
    f"to start it now: airflow dags trigger {settings.DAILY_DAG_ID} --conf '{{\"rebaseline\": true}}'. "
    f"See the {runbook('ASPIRE was restored or failed over')}."
)

REBASELINE_AGAIN = (
    f"Find why in the log of {settings.DAILY_DAG_ID}'s last run (a load that refused a mass removal says what to "
    f"check), then start it again: airflow dags trigger {settings.DAILY_DAG_ID} --conf '{{\"rebaseline\": true}}'. "
    f"See the {runbook('ASPIRE was restored or failed over')}."
)
