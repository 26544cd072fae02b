{#- Pieces of the ASPIRE extract SQL that differ by source dialect or by load kind. Every extract imports
    this file `with context`, so `dialect` ("mssql" for ASPIRE on SQL Server, "postgres" for the emulator)
    and `load_kind` ("full", "incremental", "backfill") are in scope. Values stay bound parameters. -#}

{#- A column whose name is a reserved word in one of the dialects (LineNo is reserved in T-SQL). -#}
{% macro quoted(name) -%}
{% if dialect == "mssql" %}[{{ name }}]{% else %}"{{ name }}"{% endif %}
{%- endmacro %}

{#- rowversion is binary(8) on SQL Server; the emulator stores it as bigint already. -#}
{% macro row_version(column) -%}
{% if dialect == "mssql" %}cast({{ column }} as bigint){% else %}{{ column }}{% endif %}
{%- endmacro %}

{#- A JSON array of ids, bound as one parameter, as a one-column set. -#}
{% macro id_list(parameter) -%}
select cast(value as bigint) from openjson(%({{ parameter }})s)
{%- endmacro %}

{#- The scope rule: booked contracts on which an in-scope account is Customer or Guarantor. -#}
{% macro scoped_contracts() -%}
select scope_role.ContractOid
        from dbo.ContractRole as scope_role
        inner join dbo.Contract as scope_contract on scope_contract.ContractOid = scope_role.ContractOid
        where scope_contract.IsBooked = 1
          and scope_role.RoleType in ('Customer', 'Guarantor')
          and scope_role.AccountOid in ({{ id_list("accounts") }})
{%- endmacro %}

{#- Invoices in scope: billed to an in-scope account or raised on an in-scope contract. A union of two keyed
    lookups, so one customer's sync uses the indexes and the all-customer refresh hashes. -#}
{% macro scoped_invoices() -%}
select by_account.InvoiceOid
        from dbo.Invoice as by_account
        where by_account.AccountOid in ({{ id_list("accounts") }})
        union
        select by_contract.InvoiceOid
        from dbo.Invoice as by_contract
        where by_contract.ContractOid in ({{ scoped_contracts() }})
{%- endmacro %}

{#- Which changes of `alias` this load reads: all (full); a row-version window (incremental), plus every row of
    the contracts that just came into scope when `contract_column` links the row to its contract; or a
    LastModifiedAt window in ASPIRE local time (backfill). -#}
{% macro change_filter(alias, contract_column=none) -%}
{% if load_kind == "incremental" -%}
and (
      ({{ row_version(alias ~ ".RowVer") }} >= %(low_rowver)s and {{ row_version(alias ~ ".RowVer") }} < %(high_rowver)s)
      {%- if contract_column %}
      or {{ alias }}.{{ contract_column }} in ({{ id_list("new_contracts") }})
      {%- endif %}
  )
{%- elif load_kind == "backfill" -%}
and {{ alias }}.LastModifiedAt >= %(modified_from)s
  and {{ alias }}.LastModifiedAt < %(modified_to)s
{%- endif %}
{%- endmacro %}
