-- Puts the portal's own version of each rejected row into the stage, when it has one and ASPIRE's row still belongs to
-- the same account and contract: the load's deletes and its drift check then treat the row as unchanged, and the
-- portal keeps it until ASPIRE's can be taken. A row whose owner changed is left out, so the load removes it from the
-- old owner's view.
insert into {{ stage }} ({{ columns | join(", ") }})
select {% for c in columns %}t.{{ c }}{{ ", " if not loop.last }}{% endfor %}
from {{ target }} as t
inner join (select distinct {{ (key + owners) | join(", ") }} from {{ rejected }}) as r
    on {% for k in key %}r.{{ k }} = t.{{ k }}{{ " and " if not loop.last }}{% endfor %}
where true
{%- for o in owners %}
  and r.{{ o }} is not distinct from t.{{ o }}
{%- endfor %}
