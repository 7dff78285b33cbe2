-- Calling rules, communication limits: how often one recipient was contacted, and which
-- limit refused a request. Why the history is one row per recipient: src/rules/limits.rs.

-- One contact: when, by which campaign, on which Connect instance.
create type recipient_contact_entry as (
    contacted_at timestamptz,
    campaign_id  text,
    instance_id  text
);

-- The contact history of one recipient of an account (the number only as its keyed hash):
-- every call and message a claim took in the last 30 days (the longest window the v2 model
-- allows), oldest first. The claim updates this row in its own statement, under the row's
-- lock, so two daemons contacting one recipient take turns and each counts the other's
-- contact.
create table recipient_contact (
    account_id      text not null,
    number_hash     bytea not null check (length(number_hash) = 32),
    contacts        recipient_contact_entry[] not null,
    last_contact_at timestamptz not null,
    -- What the last claim's upsert decided: how many contacts it took, and the limit that
    -- kept it from taking all it wanted (null: none). Kept here because the upsert's
    -- RETURNING sees only the new row, and the claim needs both.
    taken           integer not null,
    refused_by      text,
    primary key (account_id, number_hash)
);
-- Retention: rows whose last contact is older than the longest window.
create index recipient_contact_last on recipient_contact (last_contact_at);

-- Which limit a LIMIT_EXCEEDED refusal met, e.g. `instance:3/7d` (scope, contacts, days).
alter table rule_decision add column detail text;
