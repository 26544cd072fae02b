-- Deletes rows of this entity that no scope justifies any more. The candidates are the rows of the given
-- accounts and contracts: in mode "exits" those that left the run's resolved scope; in mode "missing" the
-- re-read customers' own, which the full extract did not return. A candidate stays when another account still
-- justifies it: an enrolled account (or its in-scope contract) of the resolved scope (aspire_sync.scope_*), other
-- than the re-read customers, or an account or contract this entity took in after the scope was resolved (a full
-- sync of a customer enrolled since). Invoice details follow their invoice: their candidates (invoices) were
-- judged against ASPIRE already. Rows at or above the read bound were written by a newer read: not ours. The
-- tests against the candidate's own account or contract stay outside the subqueries, so each subquery is a plain
-- keyed lookup the planner may hash once (a list test inside one ran over every row of the scope state).
{#- Whether `column`, an account or a contract id (`kind`), justifies a row: it is in the resolved scope through
    an account other than the re-read customers, or this entity took it in after the scope was resolved, unless it
    is one of the ids in parameter `own` (the re-read customers' accounts, or their own contracts). -#}
{%- macro justified(kind, column, own) %}(
            exists (
                select 1 from aspire_sync.scope_{{ kind }} as j
                where j.resolution_id = %(resolution_id)s
                  and j.{{ kind }}_oid = {{ column }}
                  and j.account_oid <> all(cast(%(excluded_accounts)s as bigint[])))
            or ({{ column }} <> all(cast(%({{ own }})s as bigint[]))
                and exists (
                    select 1 from aspire_sync.entity_{{ kind }}_scope as r
                    where r.entity = %(entity)s
                      and r.{{ kind }}_oid = {{ column }}
                      and r.since >= %(resolved_at)s)))
{%- endmacro %}
with deleted as (
    delete from {{ target }} as t
    where t.source_rowver < %(high_rowver)s
{%- if mode == "missing" %}
      and not exists (
            select 1
            from {{ stage }} as s
            where {% for k in key %}s.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
      )
{%- endif %}
{%- if owner == "account" %}
      and t.account_oid = any(cast(%(accounts)s as bigint[]))
      and not {{ justified("account", "t.account_oid", "excluded_accounts") }}
{%- elif owner == "contract" %}
      and t.contract_oid = any(cast(%(contracts)s as bigint[]))
      and not {{ justified("contract", "t.contract_oid", "own_contracts") }}
{%- elif owner == "account_or_contract" %}
      and (t.account_oid = any(cast(%(accounts)s as bigint[])) or t.contract_oid = any(cast(%(contracts)s as bigint[])))
      and not {{ justified("account", "t.account_oid", "excluded_accounts") }}
      and (t.contract_oid is null or not {{ justified("contract", "t.contract_oid", "own_contracts") }})
{%- elif owner == "invoice" %}
      and t.invoice_oid = any(cast(%(invoices)s as bigint[]))
{%- else %}
      and false
{%- endif %}
    returning 1
)

select count(*) as rows_deleted
from deleted
