-- Creates the session's staging table for one load: the target's columns (without synced_at), each of a type at
-- least as wide as the target's and without NOT NULL, so any row ASPIRE sends stages and the merge can tell the rows
-- the portal cannot take from the others (see aspire_portal.quarantine); dropped at commit.
create temp table {{ stage }} (
{%- for name, type in columns %}
    {{ name }} {{ type }}{{ "," if not loop.last }}
{%- endfor %}
) on commit drop
