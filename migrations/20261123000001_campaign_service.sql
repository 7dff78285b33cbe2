-- Campaigns, their dial-request queue, and the connect-instance records of the
-- connectcampaigns API.

create type campaign_state as enum ('Initialized', 'Running', 'Paused', 'Stopped', 'Failed');

create table campaign (
    id                   text primary key,
    -- Insertion order; ListCampaigns pages on it so a token stays valid while others are created.
    seq                  bigint generated always as identity unique,
    arn                  text not null unique,
    name                 text not null,
    connect_instance_id  text not null,
    dialer_config        jsonb not null,
    outbound_call_config jsonb not null,
    tags                 jsonb not null default '{}',
    state                campaign_state not null default 'Initialized',
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now()
);
create index campaign_instance_seq on campaign (connect_instance_id, seq);

create type dial_request_state as enum
    ('pending', 'in_progress', 'completed', 'expired', 'failed', 'cancelled');

create table dial_request (
    id           uuid primary key,
    campaign_id  text not null references campaign (id) on delete cascade,
    client_token text not null,
    phone_number text not null,
    expires_at   timestamptz not null,
    attributes   jsonb not null,
    -- sha256 of the request's content: a replayed clientToken must carry the same content.
    digest       bytea not null,
    state        dial_request_state not null default 'pending',
    reason       text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    unique (campaign_id, client_token)
);
-- The claim scans this in expiration order and starts past already-expired rows; the
-- sweeper walks it from the oldest expiration. Only pending rows are in it, so it stays small.
create index dial_request_pending on dial_request (campaign_id, expires_at) where state = 'pending';
create index dial_request_pending_expiry on dial_request (expires_at) where state = 'pending';

-- Pending requests per campaign, as a sharded counter: each ingest transaction bumps one
-- random shard, so concurrent batches for one campaign do not queue on a single row lock.
-- Whatever moves a request out of 'pending' subtracts in the same transaction.
create table campaign_pending (
    campaign_id text not null references campaign (id) on delete cascade,
    shard       smallint not null,
    n           bigint not null,
    primary key (campaign_id, shard)
);

-- Onboarding of an Amazon Connect instance for campaigns, and the config it leaves behind.
create table instance_onboarding_job (
    instance_id       text primary key,
    status            text not null,
    failure_code      text,
    encryption_config jsonb not null,
    updated_at        timestamptz not null default now()
);

create table connect_instance_config (
    instance_id             text primary key,
    service_linked_role_arn text not null,
    encryption_config       jsonb not null,
    updated_at              timestamptz not null default now()
);
