-- One row the extract held back from COPY (a value no PostgreSQL column can hold), as rejected.
insert into {{ rejected }} ({{ columns | join(", ") }}, problems)
values ({% for c in columns %}%s, {% endfor %}%s)
