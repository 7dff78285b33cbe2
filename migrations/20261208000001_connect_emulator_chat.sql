-- The Connect emulator's record of StartOutboundChatContact calls: one row per ClientToken,
-- written before the answer, so a retried call returns the same contact and sends nothing
-- again, across emulator restarts. The message itself is not kept (personal data): its
-- length says what was sent.
create table connect_emulator_chat (
    client_token text primary key,
    contact_id text not null,
    fingerprint text not null,
    instance_id text not null,
    content_length integer not null,
    sent_at timestamptz not null default now()
);
