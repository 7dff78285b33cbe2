-- Calling rules, first part: the deployment's number-hashing key, the do-not-call lists and
-- the append-only ledger of the claim's decisions. Why the numbers are hashed this way:
-- src/rules/number_hash.rs.

-- One row, made here once per database: every daemon and every CLI of a deployment hashes
-- with the same key because there is only one. The key itself is not kept, only its HMAC
-- pads (key XOR 0x36 and key XOR 0x5c, 64 bytes each), which is all HMAC-SHA256 needs.
create table number_hash_key (
    singleton  boolean primary key default true check (singleton),
    inner_pad  bytea not null check (length(inner_pad) = 64),
    outer_pad  bytea not null check (length(outer_pad) = 64),
    created_at timestamptz not null default now()
);

do $$
declare
    -- gen_random_uuid draws from the server's strong random source; four of them give the
    -- 64 bytes of a block-sized HMAC key (488 random bits, the rest version/variant bits).
    k bytea := decode(replace(gen_random_uuid()::text || gen_random_uuid()::text
                              || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
                      'hex');
    inner_pad bytea := k;
    outer_pad bytea := k;
begin
    for i in 0..63 loop
        inner_pad := set_byte(inner_pad, i, get_byte(k, i) # 54);
        outer_pad := set_byte(outer_pad, i, get_byte(k, i) # 92);
    end loop;
    insert into number_hash_key (inner_pad, outer_pad) values (inner_pad, outer_pad);
end
$$;

-- HMAC-SHA256 of an E.164 number from the key's pads: a plain expression, which the planner
-- inlines, so that the claim, joining the key row once, hashes its rows without a function
-- call each. The Rust side (rules::number_hash) computes the same bytes from the same pads.
create function number_hash_with(inner_pad bytea, outer_pad bytea, phone text) returns bytea
    language sql immutable parallel safe
    return sha256(outer_pad || sha256(inner_pad || convert_to(phone, 'UTF8')));

-- The same under the deployment's key, for one-off use.
create function number_hash(phone text) returns bytea
    language sql stable parallel safe
    return (select number_hash_with(inner_pad, outer_pad, phone) from number_hash_key);

-- Do-not-call entries: the account-wide list (list = '') and per-campaign suppression lists
-- (list = the campaign id). The primary key is the claim's lookup: two probes per request.
create table do_not_call (
    account_id  text not null,
    list        text not null,
    number_hash bytea not null check (length(number_hash) = 32),
    added_at    timestamptz not null default now(),
    primary key (account_id, list, number_hash)
);

-- The fingerprint of the campaign settings a decision was made under: it changes whenever
-- a setting that decides who is called, when and how does (channels, schedule, communication
-- time and limits, instance), and two decisions with the same one saw the same rules.
create function campaign_config_version(c campaign) returns text
    language sql immutable parallel safe
    return left(encode(sha256(convert_to(jsonb_build_array(
        c.connect_instance_id, c.channel_subtype_config, c.schedule,
        c.communication_time_config, c.communication_limits_override)::text, 'UTF8')), 'hex'), 16);

create type rule_verdict as enum ('dial', 'wait', 'refuse', 'retry');

-- Every decision of the claim about a request, written in the claim's statement. No foreign
-- keys: the ledger outlives the requests (retention) and the campaigns it speaks of.
create table rule_decision (
    seq            bigint generated always as identity primary key,
    decided_at     timestamptz not null,
    campaign_id    text not null,
    request_id     uuid not null,
    attempt        integer not null,
    rule           text not null,
    verdict        rule_verdict not null,
    -- The recipient's time zone and local time the decision used, when a rule needed them.
    time_zone      text,
    local_time     timestamp,
    config_version text not null,
    number_hash    bytea not null
);
create index rule_decision_campaign_time on rule_decision (campaign_id, decided_at);

create function rule_decision_append_only() returns trigger
    language plpgsql as
$$
begin
    raise exception 'rule_decision is append-only';
end
$$;
create trigger rule_decision_append_only before update or delete on rule_decision
    for each statement execute function rule_decision_append_only();
