-- v2 instance records (issue 13): an onboarded instance's communication limits, and its
-- integrations (Customer Profiles domains, Q Connect knowledge bases, Lambda functions),
-- each kept as sent. Both go with the instance config they belong to.

alter table connect_instance_config add column communication_limits jsonb;

create table connect_instance_integration (
    account_id  text not null,
    instance_id text not null,
    -- customerProfiles, qConnect or lambda: the member of the wire union.
    kind        text not null,
    -- The ARN that identifies the integration within its kind.
    identifier  text not null,
    config      jsonb not null,
    updated_at  timestamptz not null default now(),
    primary key (account_id, instance_id, kind, identifier),
    foreign key (account_id, instance_id) references connect_instance_config (account_id, instance_id)
        on delete cascade
);
