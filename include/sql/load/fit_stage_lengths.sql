-- Makes the stage hold what the portal's table will: a text longer than its varchar(n) column only by trailing
-- spaces is cut to n characters, as PostgreSQL cuts it when the merge stores it, so the merge's repair, the drift
-- comparison and its hashes compare what is stored (else such a row differed from the portal's every day). A text
-- longer by anything else stays as it is: the checked merge quarantines it. octet_length first: a text of more than
-- n characters has more than n bytes, and the byte length is read from the value's header, so most rows cost that.
{% macro long_only_by_spaces(column, length) -%}
octet_length(s.{{ column }}) > {{ length }} and char_length(s.{{ column }}) > {{ length }}
        and char_length(rtrim(s.{{ column }}, ' ')) <= {{ length }}
{%- endmacro %}
update {{ stage }} as s
set
{%- for column, length in columns %}
    {{ column }} = case
        when {{ long_only_by_spaces(column, length) }}
        then cast(s.{{ column }} as varchar({{ length }}))
        else s.{{ column }}
    end{{ "," if not loop.last }}
{%- endfor %}
where
{%- for column, length in columns %}
    {{ "or " if not loop.first }}({{ long_only_by_spaces(column, length) }})
{%- endfor %}
