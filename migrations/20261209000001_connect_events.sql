-- Amazon Connect contact events, as EventBridge delivered them to any daemon. A daemon
-- answers EventBridge only once the event is here (so EventBridge retries what was not
-- stored); the daemon holding the event's campaign then takes it to its engine. Rows stay
-- for a day after delivery: EventBridge retries for up to 24 hours, and the primary key
-- turns those late duplicates away.
create table connect_event (
    event_id     text primary key,
    campaign_id  text,
    contact_id   text not null,
    event_time   timestamptz not null,
    received_at  timestamptz not null default now(),
    delivered_at timestamptz,
    body         jsonb not null
);
create index connect_event_waiting on connect_event (received_at) where delivered_at is null;
create index connect_event_delivered on connect_event (delivered_at) where delivered_at is not null;
