-- A decision's configuration version names the instance's limits only when they apply to
-- the campaign: it is held to them (not OPT_OUT) and the instance has a limit list. Opted
-- out, or with an empty list, the version is the campaign's own, as the first version of
-- this function promised and did not keep.
create or replace function decision_config_version(c campaign, instance_limits jsonb, retry_policy jsonb)
    returns text
    language sql immutable parallel safe
    return case
        when retry_policy is null
             and (instance_limits is null
                  or coalesce(c.communication_limits_override ->> 'instanceLimitsHandling', 'OPT_IN') = 'OPT_OUT'
                  or jsonb_array_length(coalesce(
                         instance_limits #> '{allChannelSubtypes,communicationLimitsList}', '[]')) = 0)
            then campaign_config_version(c)
        else left(encode(sha256(convert_to(jsonb_build_array(
            campaign_config_version(c),
            case when coalesce(c.communication_limits_override ->> 'instanceLimitsHandling', 'OPT_IN') <> 'OPT_OUT'
                      and jsonb_array_length(coalesce(
                          instance_limits #> '{allChannelSubtypes,communicationLimitsList}', '[]')) > 0
                 then instance_limits end,
            retry_policy)::text, 'UTF8')), 'hex'), 16)
    end;
