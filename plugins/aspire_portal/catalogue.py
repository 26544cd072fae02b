"""The entity catalogue: one entry per ASPIRE table the portal receives. All three DAGs are built from it.

Adding a table is adding one entry here, its extract in ``include/sql/extract/extract_<name>.sql`` and its
target table in a new migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Cadence = Literal["15min", "daily"]
# What a row belongs to, for deciding which target rows a one-customer load may delete:
# "account"  - an account column (account_oid) names the owner;
# "contract" - a contract column (contract_oid) names the owning contract;
# "account_or_contract" - either makes the row visible;
# "invoice"  - the row hangs off an invoice (invoice_oid) and is visible wherever the invoice is;
# "shared"   - reference data used by many customers, never deleted by a one-customer load.
Owner = Literal["account", "contract", "account_or_contract", "invoice", "shared"]


@dataclass(frozen=True)
class Entity:
    name: str
    source_table: str
    key: tuple[str, ...]
    cadence: Cadence
    owner: Owner
    scope_rule: str
    source_key: tuple[str, ...] = ()  # the ASPIRE names of `key`
    parent: tuple[str, str] | None = None  # (table, key column) whose scope a row follows (invoice details)
    # Reconciliation (aspire_sync.reconciliation): the money columns whose sums are compared, and the column that
    # names whose rows they are (an account, else a contract; None for shared reference data).
    money: tuple[str, ...] = ()
    per: str | None = None

    @property
    def target_table(self) -> str:
        return f"aspire.{self.name}"

    @property
    def extract_sql(self) -> str:
        return f"extract/extract_{self.name}.sql"

    @property
    def task_id(self) -> str:
        return f"load_{self.name}"

    @property
    def follows_contracts(self) -> bool:
        """Whether rows hang off a contract, and so come along when their contract comes into scope."""
        return self.owner in ("contract", "account_or_contract", "invoice", "shared")

    @property
    def follows_accounts(self) -> bool:
        """Whether rows hang off an enrolled account, and so come along when their account is enrolled."""
        return self.owner in ("account", "account_or_contract", "invoice")


ENTITIES: tuple[Entity, ...] = (
    Entity(
        "account",
        "dbo.Account",
        ("account_oid",),
        "15min",
        "account",
        "the enrolled account itself",
        source_key=("AccountOid",),
        per="account_oid",
    ),
    Entity(
        "account_contact",
        "dbo.AccountContact",
        ("contact_oid",),
        "15min",
        "account",
        "contacts of an enrolled account",
        source_key=("ContactOid",),
        per="account_oid",
    ),
    Entity(
        "contract",
        "dbo.Contract",
        ("contract_oid",),
        "15min",
        "contract",
        "booked contracts on which an enrolled account is Customer or Guarantor",
        source_key=("ContractOid",),
        money=("payment_amount", "equipment_cost", "residual_amount"),
        per="customer_account_oid",
    ),
    Entity(
        "contract_role",
        "dbo.ContractRole",
        ("contract_role_oid",),
        "15min",
        "contract",
        "every role on an in-scope contract",
        source_key=("ContractRoleOid",),
        per="account_oid",
    ),
    Entity(
        "invoice",
        "dbo.Invoice",
        ("invoice_oid",),
        "15min",
        "account_or_contract",
        "invoices billed to an enrolled account or raised on an in-scope contract",
        source_key=("InvoiceOid",),
        money=("amount", "balance"),
        per="account_oid",
    ),
    Entity(
        "invoice_detail",
        "dbo.InvoiceDetail",
        ("invoice_detail_oid",),
        "15min",
        "invoice",
        "detail lines of an in-scope invoice",
        source_key=("InvoiceDetailOid",),
        parent=("dbo.Invoice", "InvoiceOid"),
        money=("amount", "balance"),
        per="contract_oid",
    ),
    Entity(
        "cash_receipt",
        "dbo.CashReceipt",
        ("receipt_oid",),
        "15min",
        "account_or_contract",
        "payments from an enrolled account or applied to an in-scope contract",
        source_key=("ReceiptOid",),
        money=("amount",),
        per="account_oid",
    ),
    Entity(
        "contract_scenario",
        "dbo.ContractScenario",
        ("scenario_oid",),
        "daily",
        "shared",
        "scenarios used by an in-scope contract",
        source_key=("ScenarioOid",),
    ),
    Entity(
        "contract_values",
        "dbo.ContractValues",
        ("contract_oid",),
        "daily",
        "contract",
        "principal-and-interest figures of an in-scope contract",
        source_key=("ContractOid",),
        money=("principal_balance", "principal_paid_to_date", "interest_paid_to_date", "payoff_amount"),
        per="contract_oid",
    ),
    Entity(
        "amortization_line",
        "dbo.AmortizationLine",
        ("contract_oid", "line_no"),
        "daily",
        "contract",
        "amortization schedule of an in-scope contract",
        source_key=("ContractOid", "LineNo"),
        money=("payment", "principal", "interest"),
        per="contract_oid",
    ),
    Entity(
        "equipment",
        "dbo.Equipment",
        ("equipment_oid",),
        "daily",
        "contract",
        "equipment on an in-scope contract",
        source_key=("EquipmentOid",),
        money=("current_basis_value",),
        per="contract_oid",
    ),
    Entity(
        "line_of_credit",
        "dbo.LineOfCredit",
        ("line_of_credit_oid",),
        "daily",
        "account",
        "lines of credit of an enrolled account",
        source_key=("LineOfCreditOid",),
        money=("approved_amount", "used_amount", "available_amount"),
        per="account_oid",
    ),
)

BY_NAME: dict[str, Entity] = {entity.name: entity for entity in ENTITIES}


def entity(name: str) -> Entity:
    """The catalogue entry called `name`; a clear error names the known ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(BY_NAME)
        raise ValueError(f"unknown entity {name!r}; the catalogue has: {known}") from None


def entities(cadence: Cadence | None = None) -> tuple[Entity, ...]:
    """The entities of one cadence, in catalogue order (all of them when cadence is None)."""
    return tuple(e for e in ENTITIES if cadence is None or e.cadence == cadence)
