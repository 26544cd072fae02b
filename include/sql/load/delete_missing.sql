-- Deletes the target rows of this load's scope that the full extract no longer returned (gone from ASPIRE or
-- out of scope). Rows at or above the load's read bound were written by a newer read and are left alone.
-- scope "all": every row of the table is in scope. scope "accounts": only rows that belong to the given
-- accounts (as the portal last saw them) and to no other enrolled account (as ASPIRE has it now: the contracts
-- in scope for the others are bound as others_contracts); anything else waits for the daily reconciliation.
{%- macro claimed_contracts() %}
            select claim.contract_oid
            from aspire.contract_role as claim
            where claim.account_oid in ({{ own }})
              and claim.role_type in ('Customer', 'Guarantor')
            union
            select claim.contract_oid
            from aspire.contract as claim
            where claim.customer_account_oid in ({{ own }})
{%- endmacro %}
{%- set own = "select unnest(cast(%(accounts)s as bigint[]))" %}
{%- set others = "select e.account_oid from portal.portal_user_account as e where e.account_oid <> all(cast(%(accounts)s as bigint[]))" %}
{%- set others_contracts = "select unnest(cast(%(others_contracts)s as bigint[]))" %}
with deleted as (
    delete from {{ target }} as t
    where t.source_rowver < %(high_rowver)s
      and not exists (
            select 1
            from {{ stage }} as s
            where {% for k in key %}s.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
      )
{%- if scope == "accounts" %}
  {%- if owner == "account" %}
      and t.account_oid in ({{ own }})
  {%- elif owner == "contract" %}
      and t.contract_oid in ({{ claimed_contracts() }})
      and t.contract_oid not in ({{ others_contracts }})
  {%- elif owner == "account_or_contract" %}
      and (t.account_oid in ({{ own }}) or t.contract_oid in ({{ claimed_contracts() }}))
      and t.account_oid not in ({{ others }})
      and (t.contract_oid is null or t.contract_oid not in ({{ others_contracts }}))
  {%- elif owner == "invoice" %}
      and t.invoice_oid in (
            select i.invoice_oid
            from aspire.invoice as i
            where i.account_oid in ({{ own }}) or i.contract_oid in ({{ claimed_contracts() }})
      )
      and t.invoice_oid not in (
            select i.invoice_oid
            from aspire.invoice as i
            where i.account_oid in ({{ others }}) or i.contract_oid in ({{ others_contracts }})
      )
  {%- else %}
      and false
  {%- endif %}
{%- endif %}
    returning 1
)

select count(*) as rows_deleted
from deleted
