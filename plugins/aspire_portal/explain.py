""" "Why isn't X in the portal?" answered from live data: ASPIRE, the portal and the sync's own state.

:func:`explain` looks one contract, invoice, receipt or customer up in ASPIRE and in the portal, applies the scope
rule to what ASPIRE says now, and names the reason (one of :data:`REASONS`), what happens next (which run brings or
removes it, and when) and the command that does it now. It only reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from aspire_portal import advice, catalogue, clock, enrolment, quarantine, settings, sqlfiles, timeline
from aspire_portal import explain_facts as lookup

KINDS = {"contract": "contract", "invoice": "invoice", "receipt": "cash_receipt", "customer": "account"}
ID_COLUMNS = {"contract": "ContractOid", "invoice": "InvoiceOid", "receipt": "ReceiptOid", "customer": "AccountOid"}
REASONS = (
    "in_portal",  # in scope, and the portal has ASPIRE's current version
    "not_in_aspire",  # no such (committed) row in ASPIRE, and none in the portal
    "not_booked",  # a contract that is not booked
    "no_enrolled_customer_or_guarantor",  # a booked contract none of whose Customer or Guarantor accounts is enrolled
    "account_not_enrolled",  # a customer without portal users; its invoice or receipt, not on an in-scope contract
    "pending_next_run",  # in scope and committed, not loaded yet
    "drift",  # in scope, below the watermark of a scope its entity holds, yet not in the portal (or older there)
    "source_row_quarantined",  # ASPIRE's row cannot go into the portal as it is (aspire_sync.source_quarantine)
    "waiting_for_open_aspire_transaction",  # committed after a transaction still open on ASPIRE began
    "removal_pending",  # out of scope (or deleted in ASPIRE), still in the portal
    "load_failing",  # its entity's last load failed
    "aspire_went_back",  # ASPIRE went back in time (a restore, a failover): the 15-minute runs refuse to write
    "rebaselining",  # the portal is being reloaded on ASPIRE's new timeline
    "rebaseline_stalled",  # a re-baseline began longer ago than a daily refresh may run and has not finished
)


@dataclass
class Explanation:
    kind: str
    id: int
    in_aspire: bool
    in_scope: bool
    in_portal: bool
    reason: str
    rule: str  # the scope rule that decides
    why: str  # the rule applied to this object
    next: str  # which run brings or removes it, and when
    command: str | None  # what does it now (None: nothing the sync can do)
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))

    def text(self) -> str:
        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        lines = [
            f"{self.kind} {self.id}: {self.reason}",
            f"  in ASPIRE   {yes(self.in_aspire)}",
            f"  in scope    {yes(self.in_scope)}: {self.why}",
            f"  in portal   {yes(self.in_portal)}",
            f"  rule        {self.rule}",
            f"  next        {self.next}",
            f"  do it now   {self.command or '(nothing the sync can do)'}",
        ]
        return "\n".join(lines)


def explain(
    source: Any, target: psycopg.Connection, dialect: str, kind: str, oid: int, now: datetime | None = None
) -> Explanation:
    """Why object `kind` `oid` is or is not in the portal, and what happens next. Reads only."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    now = now or datetime.now(UTC)
    entity = catalogue.entity(KINDS[kind])
    enrolled, _bad = enrolment.enrolled_accounts(target)
    row = lookup.source_row(source, dialect, f"explain/select_{'account' if kind == 'customer' else kind}.sql", oid)
    contract = None
    if kind == "contract" or (row and row.get("contract_oid") is not None):
        contract = lookup.contract(source, dialect, oid if kind == "contract" else int(row["contract_oid"]), enrolled)
    bound, _sampled_at, dbts = clock.sample_read_bound(source, dialect)
    source.rollback()
    portal = target.execute(
        sqlfiles.render(
            "explain/select_portal_row.sql",
            target=entity.target_table,
            key=sql.Identifier(entity.key[0]).as_string(target),
        ),
        {"id": oid},
    ).fetchone()
    with target.cursor(row_factory=dict_row) as cursor:
        watermark = cursor.execute(sqlfiles.read("runlog/select_watermark.sql"), {"entity": entity.name}).fetchone()
        last_load = cursor.execute(sqlfiles.read("explain/select_last_load.sql"), {"entity": entity.name}).fetchone()
    facts = {
        "entity": entity.name,
        "aspire": row,
        "portal": {"source_rowver": portal[0], "synced_at": portal[1]} if portal else None,
        "aspire_read_bound": bound,
        "aspire_newest_row_version": dbts,
        "watermark": watermark,
        "last_load": last_load,
    }
    if contract:
        facts["contract"] = asdict(contract)
    held = lookup.held(target, entity, kind, oid, row)
    quarantined = quarantine.listing(target, entity, json.dumps({entity.key[0]: oid}))
    if quarantined:
        facts["quarantined"] = quarantined[0]
    if kind == "contract":
        facts["rows_in_portal"] = lookup.rows_of_contract(target, oid)
    decide = _Decision(
        kind,
        oid,
        entity,
        row,
        portal,
        contract,
        enrolled,
        bound,
        watermark,
        last_load,
        now,
        dialect,
        held,
        quarantined=quarantined[0] if quarantined else None,
        rows_in_portal=facts.get("rows_in_portal", {}),
    )
    answer = decide.explanation(facts)
    if kind == "customer":
        _add_customer_state(target, answer)
    _add_timeline(target, answer)
    return answer


def _add_timeline(target: psycopg.Connection, answer: Explanation) -> None:
    """After ASPIRE went back in time, row versions compare across two timelines and say nothing: the answer is the
    re-baseline's."""
    found = timeline.state(target)
    answer.facts["aspire_timeline"] = {"state": found.state, "detail": found.detail, "overdue": found.overdue}
    if found.state == "rebaselining" and found.overdue:
        answer.reason = "rebaseline_stalled"
        answer.next = (
            f"A re-baseline began more than {settings.REBASELINE_PATIENCE} ago and has not finished: the portal "
            f"keeps the data it had until one does. {advice.REBASELINE_AGAIN}"
        )
        answer.command = advice.TRIGGER_REBASELINE
    elif found.state == "went_back":
        answer.reason = "aspire_went_back"
        answer.next = f"{found.detail}"
        answer.command = advice.TRIGGER_REBASELINE
    elif found.state == "rebaselining":
        answer.reason = "rebaselining"
        answer.next = (
            "The portal is being re-baselined after an ASPIRE restore or failover: every entity is reloaded in full "
            f"by {settings.DAILY_DAG_ID}; the 15-minute runs resume when it is done."
        )
        answer.command = None


def _add_customer_state(target: psycopg.Connection, answer: Explanation) -> None:
    """A customer's full sync and enrolment quarantine, in the answer's facts and words."""
    with target.cursor(row_factory=dict_row) as cursor:
        quarantine = cursor.execute(
            sqlfiles.read("explain/select_quarantined.sql"), {"value": str(answer.id)}
        ).fetchone()
        full_sync = cursor.execute(
            sqlfiles.read("explain/select_customer_sync_status.sql"), {"id": answer.id}
        ).fetchone()
    answer.facts.update(quarantine=quarantine, full_sync=full_sync)
    if quarantine:
        answer.why += (
            f"; its enrolment value is quarantined ({quarantine['reason']}): fix the row in portal.portal_user_account"
        )
    if answer.in_scope and not (full_sync and full_sync["full_sync_completed_at"]):
        answer.next += (
            " Its full sync has not completed yet: the next 15-minute run triggers it if the portal's trigger was lost."
        )
        answer.command = answer.command or (
            f"airflow dags trigger aspire_portal_customer_full_sync --conf '{{\"customer_id\": {answer.id}}}'"
        )
    elif full_sync and full_sync["full_sync_completed_at"]:
        answer.why += (
            f"; full sync completed {full_sync['full_sync_completed_at']:%Y-%m-%d %H:%M} UTC, data as of "
            f"{full_sync['data_as_of']:%Y-%m-%d %H:%M} UTC"
            if full_sync["data_as_of"]
            else ""
        )


@dataclass
class _Decision:
    """The scope rule and the sync's state applied to one object."""

    kind: str
    oid: int
    entity: catalogue.Entity
    row: dict | None
    portal: tuple | None
    contract: lookup.Contract | None
    enrolled: dict[int, int]
    bound: int
    watermark: dict | None
    last_load: dict | None
    now: datetime
    dialect: str
    held: bool  # whether the entity already holds rows of the object's account or contract
    quarantined: dict | None = None  # its row in aspire_sync.source_quarantine
    rows_in_portal: dict[str, int] = field(default_factory=dict)  # a contract's rows per portal table

    def explanation(self, facts: dict[str, Any]) -> Explanation:
        in_scope, out_reason, why, owner = self._scope()
        in_portal = self.portal is not None
        reason, next_step, command = self._next(in_scope, out_reason, in_portal, owner)
        return Explanation(
            kind=self.kind,
            id=self.oid,
            in_aspire=self.row is not None,
            in_scope=in_scope,
            in_portal=in_portal,
            reason=reason,
            rule=self.entity.scope_rule,
            why=why,
            next=next_step,
            command=command,
            facts=facts,
        )

    def _scope(self) -> tuple[bool, str, str, int | None]:
        """(in scope, the reason when not, why, the enrolled account that brings it in)."""
        if self.row is None:
            return False, "not_in_aspire", f"ASPIRE has no {self.kind} {self.oid} (or it is not committed yet)", None
        if self.kind == "customer":
            if self.oid in self.enrolled:
                return True, "", f"account {self.oid} has {self.enrolled[self.oid]} portal user(s)", self.oid
            return False, "account_not_enrolled", f"account {self.oid} has no portal user", None
        if self.kind == "contract":
            c = self.contract
            if not c.booked:
                return False, "not_booked", c.describe(), None
            if not c.bringers:
                return False, "no_enrolled_customer_or_guarantor", c.describe(), None
            return True, "", c.describe(), c.bringers[0].account_oid
        account = int(self.row["account_oid"])
        billed = f"{'billed to' if self.kind == 'invoice' else 'paid by'} account {account} " + (
            "(enrolled)" if account in self.enrolled else "(not enrolled)"
        )
        on_contract = f"; {self.contract.describe()}" if self.contract else "; on no contract"
        if account in self.enrolled:
            return True, "", billed + on_contract, account
        if self.contract and self.contract.in_scope:
            return True, "", billed + on_contract, self.contract.bringers[0].account_oid
        return False, "account_not_enrolled", billed + on_contract, None

    def _next(self, in_scope: bool, out_reason: str, in_portal: bool, owner: int | None) -> tuple[str, str, str | None]:
        fifteen = f"the next 15-minute run of aspire_portal_incremental (about {lookup.next_quarter(self.now)})"
        if not in_scope:
            if not in_portal and self.rows_in_portal:
                rows = ", ".join(f"{name} ({n})" for name, n in sorted(self.rows_in_portal.items()))
                return (
                    "removal_pending",
                    f"It left the scope ({out_reason}) and its own row is gone from the portal, but rows of it are "
                    f"still there: {rows}. Rows written at or above ASPIRE's read bound (a transaction open on ASPIRE "
                    f"holds it at {self.bound}) wait for a run whose bound is past them; the sync keeps holding the "
                    f"contract until then, and {fifteen} after that transaction ends removes them.",
                    "airflow dags trigger aspire_portal_incremental",
                )
            if not in_portal:
                return out_reason, self._what_would_bring_it(out_reason), None
            if self.row is None:
                return (
                    "removal_pending",
                    f"It was deleted in ASPIRE; {fifteen} removes it (every 15-minute load checks which keys ASPIRE "
                    "still has). Where the Variable aspire_portal_delete_detection is daily, the daily refresh at "
                    f"{lookup.next_daily(self.now)} does.",
                    "airflow dags trigger aspire_portal_incremental",
                )
            return (
                "removal_pending",
                f"It left the scope ({out_reason}); {fifteen} removes it, with every row only it justified.",
                "airflow dags trigger aspire_portal_incremental",
            )
        rowver = int(self.row["rowver"])
        current = in_portal and int(self.portal[0]) >= rowver
        if current:
            return "in_portal", "Nothing to do: the portal has ASPIRE's current version.", None
        if self.quarantined:
            q = self.quarantined
            return (
                "source_row_quarantined",
                f"ASPIRE's row cannot go into the portal as it is: {q['problems']} (first seen "
                f"{q['first_seen_at']:%Y-%m-%d %H:%M} UTC, {q['times_seen']} time(s)). Every other row loads; the "
                f"portal keeps the version it had{'' if in_portal else ' (none)'}. Every run reads it again: it loads "
                "with the first run after the row is fixed in ASPIRE (runbook: 'A source row is quarantined').",
                None,
            )
        load = self.last_load
        if load and load["status"] == "failed":
            return (
                "load_failing",
                f"The last load of {self.entity.name} ({load['dag_id']}, task {load['task_id']}, "
                f"{load['started_at']:%Y-%m-%d %H:%M} UTC) failed: {load['error']}. Airflow retries it; it lands "
                "with the first load that succeeds. Fix the cause (runbook: 'A load task failed').",
                "airflow dags trigger aspire_portal_incremental --conf "
                f"'{json.dumps({'entities': [self.entity.name]})}'",
            )
        if rowver >= self.bound:
            return (
                "waiting_for_open_aspire_transaction",
                f"It was committed at row version {rowver}, after a transaction still open on ASPIRE began (read "
                f"bound {self.bound}): no run can read it until that transaction ends; then {fifteen} brings it.",
                lookup.open_transactions_query(self.dialect),
            )
        behind = "an older version is" if in_portal else "it is not"
        watermark = self.watermark["high_water_mark"] if self.watermark else None
        if watermark is not None and rowver < watermark and self.held:
            return (
                "drift",
                f"{behind[0].upper()}{behind[1:]} in the portal although the 15-minute path already read past its row "
                f"version {rowver} (watermark {watermark}) for a scope it holds: drift, which the next 15-minute run "
                f"will not repair. The daily refresh at {lookup.next_daily(self.now)} does (`python -m aspire_portal "
                "reconcile` measures it); the command below reloads that customer now.",
                _load_now(self.kind, self.entity, owner),
            )
        if watermark is None or rowver >= watermark:
            why = f"Committed (row version {rowver}), {behind} in the portal yet: {fifteen} brings it."
        else:
            why = (
                f"{behind} in the portal: it came into scope since the last run (row version {rowver}, below the "
                f"watermark {watermark}), so {fifteen} brings it with the rest of what entered the scope."
            )
        return "pending_next_run", why[0].upper() + why[1:], _load_now(self.kind, self.entity, owner)

    def _what_would_bring_it(self, reason: str) -> str:
        if reason == "not_in_aspire":
            return "Nothing will: check the id (ASPIRE's ContractOid, InvoiceOid, ReceiptOid or AccountOid)."
        if reason == "not_booked":
            return (
                "It comes in with the first 15-minute run after it is booked in ASPIRE (if an enrolled account is "
                "its Customer or Guarantor)."
            )
        if reason == "no_enrolled_customer_or_guarantor":
            return (
                "It comes in with the first 15-minute run after a portal user is created for its Customer or "
                "Guarantor account (or an enrolled account takes one of those roles)."
            )
        return "It comes in with the first 15-minute run after a portal user is created for that account" + (
            " (or its contract comes into scope)." if self.kind in ("invoice", "receipt") else "."
        )


def _load_now(kind: str, entity: catalogue.Entity, owner: int | None) -> str | None:
    if owner is None:
        return None
    if kind in ("contract", "customer"):
        return f"airflow dags trigger aspire_portal_customer_full_sync --conf '{{\"customer_id\": {owner}}}'"
    entities = ["invoice", "invoice_detail"] if entity.name == "invoice" else [entity.name]
    return (
        "airflow dags trigger aspire_portal_incremental --conf "
        f"'{json.dumps({'entities': entities, 'customer_ids': [owner]})}'"
    )
