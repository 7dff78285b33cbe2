-- The connectcampaignsv2 API on the same campaigns and queue (issue 13).
--
-- A campaign's channels are now its v2 `ChannelSubtypeConfig`, stored exactly as on the wire
-- (src/campaigns/channels.rs reads and writes it). The v1 dialerConfig/outboundCallConfig are
-- a view of its telephony member, computed in Rust; their columns stay only so that rows
-- inserted the old way (tools, tests of older branches) still work: a trigger turns them
-- into the telephony member and clears them, so at rest they are always null.

-- Terminal: a campaign whose schedule ended.
alter type campaign_state add value if not exists 'Completed';

alter table campaign
    add column channel_subtype_config        jsonb,
    add column source                        jsonb,
    add column schedule                      jsonb,
    add column connect_campaign_flow_arn     text,
    add column communication_time_config     jsonb,
    add column communication_limits_override jsonb,
    add column entry_limits_config           jsonb,
    add column campaign_type                 text,
    alter column dialer_config drop not null,
    alter column outbound_call_config drop not null;

-- The v2 telephony member a v1 campaign stands for: the pacing mode's bandwidth becomes the
-- outbound mode, dialingCapacity the capacity, the queue moves up a level, and the rest of
-- the outboundCallConfig is the defaultOutboundConfig.
create function campaign_v1_channels(dialer jsonb, call jsonb) returns jsonb
language sql immutable as $$
    select jsonb_build_object('telephony', jsonb_strip_nulls(jsonb_build_object(
        'capacity', coalesce(dialer -> 'progressiveDialerConfig' -> 'dialingCapacity',
                             dialer -> 'predictiveDialerConfig' -> 'dialingCapacity',
                             dialer -> 'agentlessDialerConfig' -> 'dialingCapacity'),
        'connectQueueId', call -> 'connectQueueId',
        'outboundMode', case
            when dialer ? 'progressiveDialerConfig' then jsonb_build_object('progressive',
                jsonb_build_object('bandwidthAllocation', dialer -> 'progressiveDialerConfig' -> 'bandwidthAllocation'))
            when dialer ? 'predictiveDialerConfig' then jsonb_build_object('predictive',
                jsonb_build_object('bandwidthAllocation', dialer -> 'predictiveDialerConfig' -> 'bandwidthAllocation'))
            else jsonb_build_object('agentless', '{}'::jsonb)
        end,
        'defaultOutboundConfig', call - 'connectQueueId')))
$$;

create function campaign_v1_columns() returns trigger
language plpgsql as $$
begin
    if new.dialer_config is not null and new.outbound_call_config is not null then
        -- The column's default '{}' is already in place here: a row given the v1 columns
        -- is an old-style insert, whose channels they are.
        new.channel_subtype_config := campaign_v1_channels(new.dialer_config, new.outbound_call_config);
    end if;
    new.dialer_config := null;
    new.outbound_call_config := null;
    return new;
end
$$;

update campaign set channel_subtype_config = campaign_v1_channels(dialer_config, outbound_call_config),
                    dialer_config = null, outbound_call_config = null;
alter table campaign alter column channel_subtype_config set not null,
                     alter column channel_subtype_config set default '{}';

create trigger campaign_v1_columns before insert on campaign
    for each row execute function campaign_v1_columns();

-- A request's channel: telephony requests are dialed by the engine, the others are sent by
-- their channel's sender. Per-request overrides of the campaign's defaults (SMS source number
-- and template) are in channel_parameters; template parameters are the attributes.
alter table dial_request
    add column channel text not null default 'telephony',
    add column channel_parameters jsonb,
    add constraint dial_request_channel_known check (channel in ('telephony', 'sms', 'email', 'whatsapp'));

-- Each channel's claim walks its own requests in expiration order.
drop index dial_request_pending;
create index dial_request_pending on dial_request (campaign_id, channel, expires_at) where state = 'pending';
