-- SMS, the second channel.

-- The simulated contact center's record of StartOutboundChatContact calls: one row per
-- ClientToken, written before the message counts as sent, so a retry (after a timeout, a
-- crash, a lease takeover) is answered from here and sends nothing again. The message is
-- not kept (personal data): its length is. Rows go with retention once no contact_batch
-- carries the token, like sim_ledger's.
create table sim_sms (
    client_token   text primary key,
    contact_id     text not null,
    fingerprint    text not null,
    delivered      boolean not null,
    content_length integer not null,
    created_at     timestamptz not null default now()
);
create index sim_sms_created on sim_sms (created_at);

-- An SMS request completes with outcome 'sent' (crate::contacts::Outcome::Sent).
alter table dial_request drop constraint dial_request_outcome_known;
alter table dial_request
    add constraint dial_request_outcome_known check (outcome in
        ('lost', 'no_answer', 'busy', 'invalid', 'answered', 'machine', 'abandoned', 'connected',
         'sent'));
