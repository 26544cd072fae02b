{#- Which target rows (alias t) no scope justifies any more: shared by the delete of a customer's full load or of the
    15-minute run's scope exits, and by the query for the rows that delete had to keep (at or above its read bound),
    so both judge a row alike. The candidates are the rows of the given accounts and contracts: in mode "exits" those
    that left the run's resolved scope; in mode "missing" the re-read customers' own, which the full extract did not
    return. A candidate stays when another account still justifies it: an enrolled account (or its in-scope
    contract) of the resolved scope (aspire_sync.scope_*), other than the re-read customers, or an account or contract
    this entity took in after the scope was resolved (a full sync of a customer enrolled since). Invoice details
    follow their invoice: their candidates (invoices) were judged against ASPIRE already. The tests against the
    candidate's own account or contract stay outside the subqueries, so each subquery is a plain keyed lookup the
    planner may hash once (a list test inside one ran over every row of the scope state). -#}

{% import "macros/held.sql" as held %}

{#- Whether `column`, an account or a contract id (`kind`), justifies a row: it is in the resolved scope through
    an account other than the re-read customers, or this entity took it in by a load the scope cannot know
    (macros/held.sql, by `taken_by`), unless it is one of the ids in parameter `own` (the re-read customers'
    accounts, or their own contracts). -#}
{% macro justified(kind, column, own, taken_by) %}(
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
                      and {{ held.taken("r", taken_by) }})))
{%- endmacro %}

{% macro unjustified(stage, key, owner, mode, taken_by) -%}
{%- if mode == "missing" %}
      and not exists (
            select 1
            from {{ stage }} as s
            where {% for k in key %}s.{{ k }} = t.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
      )
{%- endif %}
{%- if owner == "account" %}
      and t.account_oid = any(cast(%(accounts)s as bigint[]))
      and not {{ justified("account", "t.account_oid", "excluded_accounts", taken_by) }}
{%- elif owner == "contract" %}
      and t.contract_oid = any(cast(%(contracts)s as bigint[]))
      and not {{ justified("contract", "t.contract_oid", "own_contracts", taken_by) }}
{%- elif owner == "account_or_contract" %}
      and (t.account_oid = any(cast(%(accounts)s as bigint[])) or t.contract_oid = any(cast(%(contracts)s as bigint[])))
      and not {{ justified("account", "t.account_oid", "excluded_accounts", taken_by) }}
      and (t.contract_oid is null or not {{ justified("contract", "t.contract_oid", "own_contracts", taken_by) }})
{%- elif owner == "invoice" %}
      and t.invoice_oid = any(cast(%(invoices)s as bigint[]))
{%- else %}
      and false
{%- endif %}
{%- endmacro %}

{#- The owner ids of the rows `where` selects, as two arrays (accounts, contracts) and their count: what an entity's
    held state must keep while those rows are in the portal. Invoice details name no account: the count alone tells
    the caller to keep every candidate. -#}
{% macro owners_of(target, owner, where) -%}
select
{%- if owner in ("account", "account_or_contract") %}
    coalesce(array_agg(distinct t.account_oid) filter (where t.account_oid is not null), '{}') as accounts,
{%- else %}
    cast('{}' as bigint[]) as accounts,
{%- endif %}
{%- if owner in ("contract", "account_or_contract") %}
    coalesce(array_agg(distinct t.contract_oid) filter (where t.contract_oid is not null), '{}') as contracts,
{%- else %}
    cast('{}' as bigint[]) as contracts,
{%- endif %}
    count(*) as kept_rows
from {{ target }} as t
where {{ where }}
{%- endmacro %}
