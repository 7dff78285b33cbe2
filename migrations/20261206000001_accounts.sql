-- Every resource belongs to the account of the access key that created it (src/accounts.rs).
--
-- Rows from before accounts belong to the default account, aws.account_id. A migration cannot
-- read the config, but the rows already say which account that was when they were made:
-- a campaign's ARN names it, and so does an instance config's service-linked role ARN. An
-- onboarding job takes the account of its instance's config; a job whose config was deleted
-- takes that of the newest campaign, and on a database with neither, the built-in default.

alter table campaign add column account_id text;
update campaign set account_id = split_part(arn, ':', 5);
alter table campaign alter column account_id set not null;
-- ListCampaigns pages one account's campaigns, with or without an instance filter.
drop index campaign_instance_seq;
create index campaign_account_seq on campaign (account_id, seq);
create index campaign_account_instance_seq on campaign (account_id, connect_instance_id, seq);

-- Two accounts may onboard the same instance id: the records are per (account, instance).
alter table connect_instance_config add column account_id text;
update connect_instance_config set account_id = split_part(service_linked_role_arn, ':', 5);
alter table connect_instance_config alter column account_id set not null;
alter table connect_instance_config drop constraint connect_instance_config_pkey;
alter table connect_instance_config add primary key (account_id, instance_id);

alter table instance_onboarding_job add column account_id text;
update instance_onboarding_job j
set account_id = coalesce(
    (select c.account_id from connect_instance_config c where c.instance_id = j.instance_id),
    (select account_id from campaign order by seq desc limit 1),
    '123456789012');
alter table instance_onboarding_job alter column account_id set not null;
alter table instance_onboarding_job drop constraint instance_onboarding_job_pkey;
alter table instance_onboarding_job add primary key (account_id, instance_id);
