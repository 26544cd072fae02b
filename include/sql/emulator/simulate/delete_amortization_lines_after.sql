-- Drops the schedule lines past a restructured contract's new last line; returns their numbers.
delete from dbo.AmortizationLine
where ContractOid = %(contract_oid)s and "LineNo" > %(last_line_no)s
returning "LineNo";
