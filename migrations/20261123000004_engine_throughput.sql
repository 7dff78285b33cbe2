-- Outcome counts per campaign per hour are added to by every batch resolution and every
-- event write; on one row per hour, those transactions queue behind each other's commits.
-- Like campaign_pending, the counts are spread over shards that readers sum.
alter table campaign_hourly add column shard smallint not null default 0;
alter table campaign_hourly drop constraint campaign_hourly_pkey;
alter table campaign_hourly add primary key (campaign_id, hour, shard);

-- The sweeper now finds lapsed requests campaign by campaign on dial_request_pending. This
-- index served only it, and the claim's planner took it too, walking every campaign's
-- requests in expiration order to find its own.
drop index dial_request_pending_expiry;

-- A contact's lifecycle events move into its request's row, keyed by event kind (a kind
-- already there makes a later copy a duplicate): the event writer updates that row anyway,
-- and six rows per contact in a table of their own cost more than the rest of a dial.
alter table dial_request add column timeline jsonb not null default '{}';
update dial_request d
set timeline = e.timeline
from (
    select dial_request_id,
           jsonb_object_agg(kind, jsonb_strip_nulls(jsonb_build_object('at', at, 'detail', detail))) as timeline
    from contact_event
    group by dial_request_id
) e
where d.id = e.dial_request_id;
drop table contact_event;
