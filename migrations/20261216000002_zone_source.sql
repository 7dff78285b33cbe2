-- Where the ledger's time zone came from: the request's attribute (`attribute`), its phone
-- number (`phone_number`), or the campaign's default (`campaign`).
alter table rule_decision add column time_zone_source text;
