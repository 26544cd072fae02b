"""
### ASPIRE → portal: why isn't it in the portal? (`explain`)

For the support desk, from the Airflow UI: **Trigger** this DAG with a kind (contract, invoice, receipt or customer)
and an ASPIRE id; the `explain` task's log answers whether it is in ASPIRE, in scope and in the portal, **the rule
that decides it**, and **what happens next** (which run brings or removes it, and when), with the command that does
it now. The same answer as `python -m aspire_portal explain <kind> <id>`; its XCom `return_value` holds the JSON form.

Reasons: `in_portal`, `not_in_aspire`, `not_booked`, `no_enrolled_customer_or_guarantor`, `account_not_enrolled`,
`pending_next_run`, `waiting_for_open_aspire_transaction`, `removal_pending`, `load_failing`. It only reads.
"""

from datetime import timedelta

from airflow.sdk import Param, dag

from aspire_portal.dag_defaults import default_args
from aspire_portal.tasks import explain_object
from aspire_portal.validation import ACCOUNT_OID_SCHEMA


@dag(
    schedule=None,
    catchup=False,
    doc_md=__doc__,
    tags=["aspire", "portal", "support"],
    default_args=default_args(retries=1, retry_delay=timedelta(seconds=10)),
    params={
        "kind": Param(
            "contract",
            type="string",
            enum=["contract", "invoice", "receipt", "customer"],
            title="What is missing",
            description="contract (ASPIRE ContractOid), invoice (InvoiceOid), receipt (ReceiptOid, a payment) or "
            "customer (AccountOid).",
        ),
        "id": Param(
            **ACCOUNT_OID_SCHEMA,
            title="ASPIRE id",
            description="The ASPIRE id of that object, in digits only: a whole number from 1 to "
            "9223372036854775807, no sign, spaces or decimals (anything else is refused, quoted, and no run starts).",
        ),
    },
)
def aspire_portal_explain():
    explain_object(kind="{{ params.kind }}", oid="{{ params.id }}")


aspire_portal_explain()
