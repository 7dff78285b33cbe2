-- The simulated contact center's memory of ClientTokens. It lives in the database, not in
-- the daemon, so a replayed BatchPutContact after a crash, or from another daemon, is
-- answered from here and never dials twice.
create table sim_ledger (
    client_token text primary key,
    entry        jsonb not null,
    created_at   timestamptz not null default now()
);
