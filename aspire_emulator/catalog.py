"""The emulated ASPIRE tables as data: column order for COPY and row tuples, key ranges and id sequences.

Row tuples built anywhere in the emulator follow `COLUMNS`, so the seed's COPY and the simulator's inserts
agree on one order. `RowVer` and `LastModifiedAt` are not listed: the database stamps them.
"""

from __future__ import annotations

from dataclasses import dataclass

COLUMNS: dict[str, tuple[str, ...]] = {
    "ContractScenario": ("ScenarioOid", "Name", "ProductType", "PurchaseOption"),
    "Account": (
        "AccountOid",
        "AccountNumber",
        "Name",
        "DbaName",
        "IsBusiness",
        "Email",
        "Phone",
        "AddressLine1",
        "AddressLine2",
        "City",
        "State",
        "PostalCode",
        "Status",
    ),
    "AccountContact": ("ContactOid", "AccountOid", "FirstName", "LastName", "Email", "Phone", "IsPrimary"),
    "LineOfCredit": (
        "LineOfCreditOid",
        "AccountOid",
        "LineNumber",
        "ApprovedAmount",
        "UsedAmount",
        "AvailableAmount",
        "IsRevolving",
        "EffectiveDate",
        "ExpirationDate",
        "Status",
    ),
    "Contract": (
        "ContractOid",
        "ContractId",
        "CustomerAccountOid",
        "ScenarioOid",
        "LineOfCreditOid",
        "Status",
        "IsBooked",
        "BookedDate",
        "CommencementDate",
        "MaturityDate",
        "TermMonths",
        "PaymentFrequency",
        "PaymentTiming",
        "PaymentAmount",
        "EquipmentCost",
        "ResidualAmount",
        "Rate",
        "TerminationDate",
    ),
    "ContractRole": ("ContractRoleOid", "ContractOid", "AccountOid", "RoleType"),
    "Equipment": (
        "EquipmentOid",
        "ContractOid",
        "Description",
        "Make",
        "Model",
        "ModelYear",
        "SerialNumber",
        "Vin",
        "Quantity",
        "CurrentBasisValue",
        "City",
        "State",
        "Status",
    ),
    "AmortizationLine": (
        "ContractOid",
        "LineNo",
        "DueDate",
        "Payment",
        "Principal",
        "Interest",
        "BeginBalance",
        "EndBalance",
    ),
    "Invoice": (
        "InvoiceOid",
        "InvoiceNumber",
        "AccountOid",
        "ContractOid",
        "InvoiceDate",
        "DueDate",
        "Amount",
        "Balance",
        "Status",
    ),
    "InvoiceDetail": ("InvoiceDetailOid", "InvoiceOid", "ContractOid", "TransactionCode", "Amount", "Balance"),
    "CashReceipt": (
        "ReceiptOid",
        "AccountOid",
        "ContractOid",
        "ReceivedDate",
        "PostDate",
        "Amount",
        "Method",
        "Status",
        "ReferenceNumber",
    ),
    "ContractValues": (
        "ContractOid",
        "AsOfDate",
        "PrincipalBalance",
        "InterestRate",
        "PrincipalPaidToDate",
        "InterestPaidToDate",
        "RemainingPayments",
        "NextDueDate",
        "NextDueAmount",
        "PastDueAmount",
        "DaysPastDue",
        "PayoffAmount",
    ),
}


@dataclass(frozen=True)
class IdRange:
    """Where a table's surrogate keys start in the seed, and the sequence the simulator takes new ones from.

    Tables start in disjoint ranges so that an id joined to the wrong table finds nothing instead of a
    plausible wrong row.
    """

    table: str
    first: int
    sequence: str


ID_RANGES: dict[str, IdRange] = {
    r.table: r
    for r in (
        IdRange("ContractScenario", 1, "dbo.seq_contract_scenario"),
        IdRange("Account", 1_000_001, "dbo.seq_account"),
        IdRange("AccountContact", 2_000_001, "dbo.seq_account_contact"),
        IdRange("LineOfCredit", 3_000_001, "dbo.seq_line_of_credit"),
        IdRange("Contract", 4_000_001, "dbo.seq_contract"),
        IdRange("ContractRole", 5_000_001, "dbo.seq_contract_role"),
        IdRange("Equipment", 6_000_001, "dbo.seq_equipment"),
        IdRange("Invoice", 10_000_001, "dbo.seq_invoice"),
        IdRange("InvoiceDetail", 20_000_001, "dbo.seq_invoice_detail"),
        IdRange("CashReceipt", 40_000_001, "dbo.seq_cash_receipt"),
    )
}
