"""
### ASPIRE → portal: full sync of one customer

Loads **everything in scope for one customer** from ASPIRE into the portal database: the account and its
contacts, the booked contracts on which it is Customer or Guarantor with their roles, invoices and invoice
details, cash receipts, scenarios, principal-and-interest figures, amortization schedules and equipment, and
its lines of credit. Rows of that customer that are gone from ASPIRE (or left its scope) are deleted.
`resolve_scope` reads the customer's scope from ASPIRE once, on top of the newest scope of everyone; the twelve
loads then run in any order and delete from that state and ASPIRE, never from portal tables their siblings are
rewriting.
When every entity is loaded, `aspire_sync.customer_sync_status` records the full sync with its "data as of" time.

**When it runs:** the portal triggers it when it creates a user for a customer
(`POST /api/v2/dags/aspire_portal_customer_full_sync/dagRuns` with
`{"logical_date": null, "conf": {"customer_id": N}}`),
and anyone may trigger it by hand for one customer (the form asks for `customer_id`).

**Safe to re-run** at any time: writes are newest-wins upserts that skip unchanged rows, so a second run writes
nothing and a run overlapping the 15-minute sync never puts older data over newer.

**Refused before a run exists** when `customer_id` is not an AccountOid (the form and the REST API quote what was
sent); **fails at once, writing nothing,** when it names no ASPIRE account, or an account no portal user is
linked to.
"""

from datetime import timedelta

from airflow.sdk import Param, dag

from aspire_portal import catalogue
from aspire_portal.dag_defaults import default_args
from aspire_portal.operators import AspireToPortalOperator, allow_mass_removal_param
from aspire_portal.tasks import mark_full_sync_done, migrate_portal_schema, resolve_scope, validate_customer
from aspire_portal.validation import ACCOUNT_OID_SCHEMA


@dag(
    schedule=None,
    catchup=False,
    max_active_runs=4,
    doc_md=__doc__,
    tags=["aspire", "portal", "customer"],
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=1), backoff=True),
    params={
        "customer_id": Param(
            **ACCOUNT_OID_SCHEMA,
            title="Customer (ASPIRE AccountOid)",
            description="The ASPIRE AccountOid of the customer to sync in full, in digits only: a whole number "
            "from 1 to 9223372036854775807, no sign, spaces or decimals (anything else is refused, quoted, and no run "
            "starts). It must be linked to a portal user (portal.portal_user_account).",
        ),
        "allow_mass_removal": allow_mass_removal_param(),
    },
)
def aspire_portal_customer_full_sync():
    customer_id = "{{ params.customer_id }}"
    checked = validate_customer(customer_id)
    migrated = migrate_portal_schema()
    scoped = resolve_scope(customer_id)
    loads = [
        AspireToPortalOperator(task_id=entity.task_id, entity=entity.name, load_kind="full", customer_id=customer_id)
        for entity in catalogue.ENTITIES
    ]
    # The loads take the customer's scope, and what it was before, from the resolved scope state (not from portal
    # tables their siblings rewrite), so they may run in any order.
    checked >> migrated >> scoped >> loads
    loads >> mark_full_sync_done(customer_id)


aspire_portal_customer_full_sync()
