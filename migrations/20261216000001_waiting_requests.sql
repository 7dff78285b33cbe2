-- Requests waiting for their calling hours or a retry's backoff (not_before set) are kept
-- out of the claim's walk: the pending index splits each campaign's channel into the ready
-- part (not_before is null) and the waiting part, each in expiration order, so a backlog of
-- waiting requests that expire before the ready ones costs the claim nothing. A waiting
-- request becomes ready (not_before cleared) once its time has come, found through
-- dial_request_waiting, which holds the waiting requests alone (new requests are never in
-- it, so ingest still writes one pending index).
drop index dial_request_pending;
create index dial_request_pending on dial_request (campaign_id, channel, (not_before is null), expires_at)
    where state = 'pending';
create index dial_request_waiting on dial_request (campaign_id, channel, not_before)
    where state = 'pending' and not_before is not null;

