-- Contacts of a simulated contact center live in the daemon that placed them. Each center
-- has an id and a heartbeat here; the ledger says which center dialed each token (and so its
-- contacts), so any daemon can tell a contact whose center is gone (and end it at once) from
-- one still running elsewhere.
create table sim_center (
    id           uuid primary key,
    heartbeat_at timestamptz not null,
    retired_at   timestamptz
);
alter table sim_ledger add column center_id uuid;
