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

{#- A list of ids, for `x in ( ... )`. A long list (everyone's scope) is one JSON parameter read by OPENJSON; a short
    one (the engine's `short_lists`: parameter -> length; a load of a few customers, or of what entered the scope)
    is one bound parameter per id, a plain IN list the server can see and seek the indexes with, instead of
    planning for a list of unknown length. An empty short list matches nothing. -#}
{% macro id_list(parameter) -%}
{% if short_lists is defined and parameter in short_lists -%}
{% if short_lists[parameter] == 0 -%}
cast(null as bigint)
{%- else -%}
{% for i in range(short_lists[parameter]) %}{{ ", " if not loop.first }}%({{ parameter }}_{{ i }})s{% endfor %}
{%- endif %}
{%- else -%}
select cast(value as bigint) from openjson(%({{ parameter }})s)
{%- endif %}
{%- endmacro %}

{#- Whether an extract tests each row against the scope ("yes"), rather than gathering the scope's keys by a union of
    keyed lookups first: for an incremental window (few rows), and when both id lists are short (the server seeks
    both indexes and combines them). -#}
{% macro tests_rows() -%}
{{ "yes" if load_kind in ("incremental", "retry") or (scope_known and short("accounts") and short("scoped_contracts")) else "" }}
{%- endmacro %}

{#- "yes" when the list `parameter` is bound id by id (see id_list). -#}
{% macro short(parameter) -%}
{{ "yes" if short_lists is defined and parameter in short_lists else "" }}
{%- endmacro %}

{#- The scope rule: booked contracts on which an in-scope account is Customer or Guarantor. The loads pass the set
    the run resolved once (scope_known: parameter scoped_contracts, see aspire_portal.scope), so the contracts
    they record as covered are exactly those whose rows they read. -#}
{% macro scoped_contracts() -%}
{% if scope_known -%}
{{ id_list("scoped_contracts") }}
{%- else -%}
select scope_role.ContractOid
        from dbo.ContractRole as scope_role
        inner join dbo.Contract as scope_contract on scope_contract.ContractOid = scope_role.ContractOid
        where scope_contract.IsBooked = 1
          and scope_role.RoleType in ('Customer', 'Guarantor')
          and scope_role.AccountOid in ({{ id_list("accounts") }})
{%- endif %}
{%- endmacro %}

{#- Whether invoice `alias` is in scope: billed to an in-scope account or raised on an in-scope contract. A full
    load over long lists asks it as a union of two keyed lookups (hashes for everyone); an incremental load (few
    rows) and a load over short lists (a customer's: the server seeks both indexes) as a test of each row, so the
    scope sets are built once rather than re-scanned per row. -#}
{% macro invoice_in_scope(alias) -%}
{% if tests_rows() -%}
({{ alias }}.AccountOid in ({{ id_list("accounts") }}) or {{ alias }}.ContractOid in ({{ scoped_contracts() }}))
{%- else -%}
{{ alias }}.InvoiceOid in (
        select by_account.InvoiceOid
        from dbo.Invoice as by_account
        where by_account.AccountOid in ({{ id_list("accounts") }})
        union
        select by_contract.InvoiceOid
        from dbo.Invoice as by_contract
        where by_contract.ContractOid in ({{ scoped_contracts() }})
    )
{%- endif %}
{%- endmacro %}

{#- `column` within the read window [watermark, read_bound). On SQL Server the bounds are cast to
    rowversion's binary(8), not the column to bigint, so the RowVer index can be used. -#}
{% macro in_row_version_window(column) -%}
{% if dialect == "mssql" -%}
{{ column }} >= cast(cast(%(watermark)s as bigint) as binary(8)) and {{ below_read_bound(column) }}
{%- else -%}
{{ column }} >= %(watermark)s and {{ below_read_bound(column) }}
{%- endif %}
{%- endmacro %}

{#- A row version below the load's read bound: written by a transaction that had committed when the bound was read. -#}
{% macro below_read_bound(column) -%}
{% if dialect == "mssql" -%}
{{ column }} < cast(cast(%(read_bound)s as bigint) as binary(8))
{%- else -%}
{{ column }} < %(read_bound)s
{%- endif %}
{%- endmacro %}

{#- A LastModifiedAt bound (naive ASPIRE local time) as a typed value, whatever the server's DATEFORMAT. -#}
{% macro local_time(parameter) -%}
{% if dialect == "mssql" %}cast(%({{ parameter }})s as datetime2(3)){% else %}%({{ parameter }})s{% endif %}
{%- endmacro %}

{#- Which changes of `alias` this load reads: all (full); the rows whose first key column (the context's
    `retry_column`) is in parameter retry_keys (retry: rows the portal could not take before); a row-version window
    (incremental), plus, when `parent` = (table, key column) names one, the rows of the parents changed in the window (then `source` =
    (table, key column) of `alias` makes it a union of keyed lookups, so each part can use its index); or a
    LastModifiedAt window in ASPIRE local time (backfill). Contracts and accounts new to the scope are read by a
    second, full pass over just them (see aspire_portal.scope). -#}
{% macro change_filter(alias, parent=none, source=none) -%}
{% if load_kind == "retry" -%}
and {{ alias }}.{{ retry_column }} in ({{ id_list("retry_keys") }})
{%- elif load_kind == "incremental" and parent -%}
and {{ alias }}.{{ source[1] }} in (
      select changed.{{ source[1] }}
      from {{ source[0] }} as changed
      where {{ in_row_version_window("changed.RowVer") }}
      union
      select child.{{ source[1] }}
      from {{ source[0] }} as child
      inner join {{ parent[0] }} as changed_parent on changed_parent.{{ parent[1] }} = child.{{ parent[1] }}
      where {{ in_row_version_window("changed_parent.RowVer") }}
  )
{%- elif load_kind == "incremental" -%}
and {{ in_row_version_window(alias ~ ".RowVer") }}
{%- elif load_kind == "backfill" -%}
and {{ alias }}.LastModifiedAt >= {{ local_time("modified_from") }}
  and {{ alias }}.LastModifiedAt < {{ local_time("modified_to") }}
{%- endif %}
{%- endmacro %}

{#- ASPIRE's clock in UTC, naive (datetime2). -#}
{% macro utc_now() -%}
{% if dialect == "mssql" %}sysutcdatetime(){% else %}(clock_timestamp() at time zone 'UTC'){% endif %}
{%- endmacro %}

{#- @@DBTS: the newest row version used in the database (the emulator's dbo.dbts()). -#}
{% macro dbts() -%}
{% if dialect == "mssql" %}cast(@@DBTS as bigint){% else %}dbo.dbts(){% endif %}
{%- endmacro %}

{#- SQL Server Change Tracking: CHANGE_TRACKING_CURRENT_VERSION() (every change at or below it has committed),
    CHANGE_TRACKING_MIN_VALID_VERSION() of one table, and CHANGETABLE(CHANGES table, last) aliased `ct` with the
    changed row's key as `ct.<key>`; the emulator has the same as dbo functions. -#}
{% macro ct_current_version() -%}
{% if dialect == "mssql" %}CHANGE_TRACKING_CURRENT_VERSION(){% else %}dbo.change_tracking_current_version(){% endif %}
{%- endmacro %}

{% macro ct_min_valid_version(table) -%}
{% if dialect == "mssql" %}CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('{{ table }}')){% else %}dbo.change_tracking_min_valid_version('{{ table }}'){% endif %}
{%- endmacro %}

{% macro ct_changes(table, last) -%}
{% if dialect == "mssql" %}CHANGETABLE(CHANGES {{ table }}, {{ last }}) as ct{% else %}dbo.changetable_changes('{{ table }}', {{ last }}) as ct{% endif %}
{%- endmacro %}

{% macro ct_key(column) -%}
{% if dialect == "mssql" %}ct.{{ column }}{% else %}ct.pk{% endif %}
{%- endmacro %}
