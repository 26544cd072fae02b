-- Stamps RowVer and LastModifiedAt on every insert and update of every dbo table, as SQL Server does for rowversion.
do $$
declare
    t text;
begin
    foreach t in array array['account', 'accountcontact', 'contractscenario', 'lineofcredit', 'contract',
                             'contractrole', 'invoice', 'invoicedetail', 'cashreceipt', 'contractvalues',
                             'amortizationline', 'equipment']
    loop
        execute format('drop trigger if exists stamp_row_version on dbo.%I', t);
        execute format('create trigger stamp_row_version before insert or update on dbo.%I '
                       'for each row execute function dbo.stamp_row_version()', t);
    end loop;
end
$$;
