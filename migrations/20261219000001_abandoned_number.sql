-- Calling rules, the abandoned-call quiet period (UK): no call to a number within
-- `engine.abandoned_quiet_hours` (72 h) of a call to it that was abandoned (answered, no
-- agent free), whichever request or campaign of the account makes it. The statement that
-- writes a call's abandon records the number's keyed hash here, keeping the latest time; the
-- claim's statement looks each picked request's number up by the primary key.
create table abandoned_number (
    account_id   text not null,
    number_hash  bytea not null check (length(number_hash) = 32),
    abandoned_at timestamptz not null,
    primary key (account_id, number_hash)
);
-- Retention: rows older than the quiet period.
create index abandoned_number_at on abandoned_number (abandoned_at);
