-- Retries by outcome (src/rules/retry.rs): policies set through the API, and the attempts a
-- dial request has had before its current one.

-- A campaign's retry policy set through the API; it wins over the config file's. Goes with
-- its campaign.
create table campaign_retry_policy (
    campaign_id text primary key references campaign (id) on delete cascade,
    policy      jsonb not null,
    updated_at  timestamptz not null default now()
);

-- The ended attempts of a request that was retried, oldest first: attempt, contactId,
-- outcome, dialedAt, endedAt, retryAt and the contact's timeline. The current attempt is
-- the row's own columns. Kept in the row so that retention deletes it with the request.
alter table dial_request add column attempt_history jsonb not null default '[]';
