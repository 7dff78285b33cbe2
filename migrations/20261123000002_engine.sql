-- The dialing engine: campaign leases, outgoing contact batches, and contact lifecycles.

-- One owner per campaign. The fence grows on every takeover, and every write the owner
-- makes on the campaign's requests is guarded by it, so a daemon that lost its lease
-- cannot overwrite its successor's work.
create table campaign_lease (
    campaign_id text primary key references campaign (id) on delete cascade,
    owner       text not null,
    fence       bigint not null,
    expires_at  timestamptz not null,
    -- The owner's pacing estimates, so a successor starts from them rather than cold.
    pacer_state jsonb
);

-- A BatchPutContact call, written in the claim transaction before the call is made. The
-- rendered request is kept so that a retry (or a successor after a crash) re-sends the very
-- same call with the same ClientToken, and the contact center returns the same contacts.
create table contact_batch (
    id              uuid primary key,
    campaign_id     text not null references campaign (id) on delete cascade,
    client_token    text not null unique,
    fence           bigint not null,
    request         jsonb not null,
    request_ids     uuid[] not null,
    attempts        int not null default 0,
    next_attempt_at timestamptz not null,
    created_at      timestamptz not null default now(),
    resolved_at     timestamptz
);
create index contact_batch_unresolved on contact_batch (campaign_id, next_attempt_at)
    where resolved_at is null;

alter table dial_request
    add column batch_id      uuid,
    add column attempts      int not null default 0,
    -- Retry backoff: a pending request is not claimed before this.
    add column not_before    timestamptz,
    add column contact_id    text,
    add column contact_phase text,
    add column outcome       text,
    add column dialed_at     timestamptz;

create index dial_request_contact on dial_request (contact_id) where contact_id is not null;
-- Calls in progress per campaign: the pacer's "in flight" and "lines in use".
create index dial_request_active on dial_request (campaign_id, contact_phase)
    where state = 'in_progress';

-- Every lifecycle event of a contact, once: duplicates are dropped by the key.
create table contact_event (
    dial_request_id uuid not null references dial_request (id) on delete cascade,
    contact_id      text not null,
    kind            text not null,
    at              timestamptz not null,
    detail          text,
    primary key (dial_request_id, kind)
);

-- Raw outcome counts per campaign per hour, so any abandonment window can be recomputed.
create table campaign_hourly (
    campaign_id    text not null references campaign (id) on delete cascade,
    hour           timestamptz not null,
    dials          bigint not null default 0,
    person_answers bigint not null default 0,
    abandons       bigint not null default 0,
    machines       bigint not null default 0,
    primary key (campaign_id, hour)
);
