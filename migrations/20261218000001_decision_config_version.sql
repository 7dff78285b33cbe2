-- The configuration version of a ledger entry covers every setting the decision used: the
-- campaign's own (campaign_config_version), its instance's communication limits and, for a
-- retry, the retry policy that scheduled it (the API's or the config file's). Where neither
-- of the latter exists the version stays the campaign's, as entries written before had it.
create function decision_config_version(c campaign, instance_limits jsonb, retry_policy jsonb)
    returns text
    language sql immutable parallel safe
    return case
        when instance_limits is null and retry_policy is null then campaign_config_version(c)
        else left(encode(sha256(convert_to(jsonb_build_array(
            campaign_config_version(c), instance_limits, retry_policy)::text, 'UTF8')), 'hex'), 16)
    end;
