//! Rules SQL: the number-hashing key, the do-not-call lists, the recipients' contact history
//! and the decision ledger. The claim's side of the lists, the limits and the ledger are
//! CTEs ([`dnc_check_cte`], [`limit_check_ctes`], [`ledger_cte`]) that the engine splices
//! into its claim statement, so that a number is checked, its contact counted, and the
//! decision recorded, in the statement that takes its request.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::dnc::{DncList, Listed};
use super::ledger::{Decision, Rule, Verdict};
use super::limits::{InstanceLimitsHandling, LimitScope, HISTORY_DAYS, MAX_LIMITS_PER_SCOPE};
use super::number_hash::{NumberHash, NumberHasher};
use super::retry::{RetryPolicy, RetryPolicySpec};
use super::RulesError;
use crate::accounts::AccountId;
use crate::queue::lifecycle::FailureReason;

/// The deployment's hasher, from the key the migration made.
pub async fn number_hasher(db: impl PgExecutor<'_>) -> Result<NumberHasher, RulesError> {
    let pads: Option<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("select inner_pad, outer_pad from number_hash_key")
            .fetch_optional(db)
            .await?;
    pads.and_then(|(inner, outer)| NumberHasher::from_pads(&inner, &outer))
        .ok_or(RulesError::NoHashKey)
}

/// `$1` is the account, `$2` the list: true where the list may be written and read, that is
/// the account-wide one or a campaign of the account.
const LIST_OF_ACCOUNT: &str =
    "($2 = '' or exists (select 1 from campaign where id = $2 and account_id = $1))";

fn hashes_param(hashes: &[NumberHash]) -> Vec<&[u8]> {
    hashes.iter().map(|h| h.as_slice()).collect()
}

/// Runs a statement that returns the list's ownership check as its first column, and maps
/// "not the account's" to [`RulesError::CampaignNotFound`].
fn owned_or_not_found<T>(list: &DncList, row: Option<(bool, T)>) -> Result<T, RulesError> {
    match row {
        Some((true, value)) => Ok(value),
        _ => Err(RulesError::CampaignNotFound(list.stored().to_string())),
    }
}

/// Adds hashes to a list (present ones stay as they are); returns how many were new.
pub async fn dnc_add_many(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    list: &DncList,
    hashes: &[NumberHash],
) -> Result<u64, RulesError> {
    let insert = format!(
        "insert into do_not_call (account_id, list, number_hash)
         select $1, $2, h from unnest($3::bytea[]) as h
         where {LIST_OF_ACCOUNT}
         on conflict do nothing"
    );
    dnc_write(db, account, list, hashes, &insert).await
}

/// Removes hashes from a list; returns how many were there.
pub async fn dnc_remove_many(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    list: &DncList,
    hashes: &[NumberHash],
) -> Result<u64, RulesError> {
    let delete = "delete from do_not_call
                  where account_id = $1 and list = $2 and number_hash = any($3::bytea[])";
    dnc_write(db, account, list, hashes, delete).await
}

/// Runs `change` (an insert or delete with parameters account `$1`, list `$2` and hashes
/// `$3`) on a list of the account; returns the rows it changed.
async fn dnc_write(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    list: &DncList,
    hashes: &[NumberHash],
    change: &str,
) -> Result<u64, RulesError> {
    let row: Option<(bool, i64)> = sqlx::query_as(&format!(
        "with changed as ({change} returning 1)
         select {LIST_OF_ACCOUNT}, (select count(*) from changed)"
    ))
    .bind(account.as_str())
    .bind(list.stored())
    .bind(hashes_param(hashes))
    .fetch_optional(db)
    .await?;
    owned_or_not_found(list, row).map(|n| n as u64)
}

/// Whether each hash is on the account's list and on `list`'s (if it is a campaign's), in
/// input order.
pub async fn dnc_check_many(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    list: &DncList,
    hashes: &[NumberHash],
) -> Result<Vec<Listed>, RulesError> {
    let row: Option<(bool, Vec<bool>, Vec<bool>)> = sqlx::query_as(&format!(
        "with q as (
             select h, ord from unnest($3::bytea[]) with ordinality as q(h, ord)
         ),
         found as (
             select ord,
                    exists (select 1 from do_not_call where account_id = $1 and list = '' and number_hash = h) as account,
                    $2 <> '' and exists (select 1 from do_not_call where account_id = $1 and list = $2 and number_hash = h) as campaign
             from q
         )
         select {LIST_OF_ACCOUNT},
                coalesce(array(select account from found order by ord), '{{}}'),
                coalesce(array(select campaign from found order by ord), '{{}}')"
    ))
    .bind(account.as_str())
    .bind(list.stored())
    .bind(hashes_param(hashes))
    .fetch_optional(db)
    .await?;
    let (accounts, campaigns) = owned_or_not_found(list, row.map(|(ok, a, c)| (ok, (a, c))))?;
    Ok(accounts
        .into_iter()
        .zip(campaigns)
        .map(|(account, campaign)| Listed { account, campaign })
        .collect())
}

/// Entries on a list.
pub async fn dnc_count(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    list: &DncList,
) -> Result<i64, RulesError> {
    Ok(
        sqlx::query_scalar("select count(*) from do_not_call where account_id = $1 and list = $2")
            .bind(account.as_str())
            .bind(list.stored())
            .fetch_one(db)
            .await?,
    )
}

/// The key's pads, as the claim's statements join them: `limit 1` tells the planner the
/// one row the table has. Unanalyzed (a new database), the table is estimated at hundreds of
/// rows, which multiplied every estimate of the claim past the JIT's thresholds: compiling
/// it then took seconds per claim.
const HASH_KEY: &str = "select inner_pad, outer_pad from number_hash_key limit 1";

/// The claim's do-not-call check, as a CTE `checked (id, expires_at, number_hash,
/// do_not_call)` over the caller's CTE `picked (id, expires_at, phone_number)` of campaign
/// `campaign` (an SQL expression): each picked request's number hash, and whether the
/// number is on the account's list or the campaign's. Each list is probed on the whole
/// primary key: with `list in ('', campaign)` the claim's generic plan (see
/// [`crate::db::Plans::Generic`]) probed on the account and list alone and filtered a
/// million-entry list by hash, for every request.
pub fn dnc_check_cte(picked: &str, campaign: &str) -> String {
    format!(
        "checked as (
            select p.id, p.expires_at, h.number_hash,
                   exists (select 1 from do_not_call n
                           where n.account_id = a.account_id and n.list = ''
                             and n.number_hash = h.number_hash)
                   or exists (select 1 from do_not_call n
                              where n.account_id = a.account_id and n.list = {campaign}
                                and n.number_hash = h.number_hash) as do_not_call
            from {picked} p cross join ({HASH_KEY}) k
            cross join (select account_id from campaign where id = {campaign}) a
            cross join lateral (select number_hash_with(k.inner_pad, k.outer_pad, p.phone_number) as number_hash) h
        )"
    )
}

/// The abandoned-call quiet period's check, as a CTE `quiet (id, until)` over the rows of
/// the caller's CTE `checked (id, expires_at, number_hash)` that the SQL condition
/// `eligible` lets through: those whose number had a call abandoned, by any campaign of the
/// account of campaign `campaign` (an SQL expression), within the SQL interval `quiet`
/// before `now`, with when the period ends (or the request expires, if sooner: the sweeper
/// then expires it). The lookup is a scalar subquery, which the planner cannot turn into a
/// join that reads the account's every abandon: one primary-key probe per eligible
/// request, at most the claim's picks. None when `quiet` is zero, which the planner makes a
/// one-time filter of the whole CTE.
pub fn abandon_quiet_cte(eligible: &str, campaign: &str, now: &str, quiet: &str) -> String {
    format!(
        "quiet as (
            select id, least(abandoned_at + {quiet}, expires_at) as until
            from (
                select c.id, c.expires_at,
                       (select a.abandoned_at from abandoned_number a
                        where a.account_id = (select account_id from campaign where id = {campaign})
                          and a.number_hash = c.number_hash) as abandoned_at
                from checked c
                where {quiet} > interval '0' and ({eligible})
                -- Kept a subquery: pulled up, each use of the lookup would probe again.
                offset 0
            ) q
            where abandoned_at > {now} - {quiet}
        )"
    )
}

/// The claim's communication limits (see [`super::limits`]), as CTEs over `eligible`, a
/// query of the requests of campaign `campaign` (an SQL expression) that every other rule
/// lets through, as `(id, expires_at, number_hash)`, to be contacted at the SQL expression
/// `now`. `allowed (id, expires_at)` are the requests to contact, whose contacts are in
/// their recipients' histories already; `limited (id, detail)` are those a limit refuses,
/// with the limit (`scope:contacts/daysd`). Of several requests for one recipient, the
/// earliest expiring are contacted first.
pub fn limit_check_ctes(eligible: &str, campaign: &str, now: &str) -> String {
    format!(
        "limit_eligible as ({eligible}),
        limit_campaign as (
            select account_id, connect_instance_id as instance_id, communication_limits_override as override
            from campaign where id = {campaign}
        ),
        limit_rules as (
            -- The campaign's own limits, then its instance's unless it opted out of them.
            select r.scope, r.max_count, r.days, r.ord,
                   r.scope || ':' || r.max_count || '/' || r.days || 'd' as label
            from (
                select '{campaign_scope}' as scope, (e.v ->> 'maxCountPerRecipient')::int as max_count,
                       (e.v ->> 'frequency')::int as days, e.ord
                from limit_campaign c
                cross join jsonb_array_elements(coalesce(c.override #> '{{allChannelSubtypes,communicationLimitsList}}', '[]'))
                    with ordinality as e(v, ord)
                union all
                select '{instance_scope}', (e.v ->> 'maxCountPerRecipient')::int, (e.v ->> 'frequency')::int,
                       {max_limits} + e.ord
                from limit_campaign c
                join connect_instance_config i on i.account_id = c.account_id and i.instance_id = c.instance_id
                cross join jsonb_array_elements(coalesce(i.communication_limits #> '{{allChannelSubtypes,communicationLimitsList}}', '[]'))
                    with ordinality as e(v, ord)
                where coalesce(c.override ->> 'instanceLimitsHandling', '{opt_in}') <> '{opt_out}'
            ) r
        ),
        limit_history as (
            -- Histories are kept where a limit counts the campaign's contacts: its own, or
            -- its instance's (which count opted-out campaigns' contacts too).
            select exists (select 1 from limit_rules) or exists (
                       select 1 from limit_campaign c
                       join connect_instance_config i on i.account_id = c.account_id and i.instance_id = c.instance_id
                       where jsonb_array_length(coalesce(i.communication_limits #> '{{allChannelSubtypes,communicationLimitsList}}', '[]')) > 0
                   ) as kept
        ),
        limit_cap as (
            -- The smallest limit: no claim contacts a recipient more often, whatever its history.
            select max_count, label from limit_rules order by max_count, ord limit 1
        ),
        limit_ranked as (
            select id, expires_at, number_hash,
                   row_number() over (partition by number_hash order by expires_at, id) as rank
            from limit_eligible
        ),
        limit_wanted as (
            select number_hash, count(*)::int as wanted from limit_ranked
            where rank <= coalesce((select max_count from limit_cap), rank)
            group by number_hash
        ),
        limit_contacted as (
            -- One upsert per recipient, which finds the row as the last committed claim left
            -- it and locks it until this claim commits: a concurrent claim of the recipient
            -- waits, then counts this one's contacts. Rows in hash order, so that two claims
            -- lock their shared recipients in the same order.
            insert into recipient_contact as r (account_id, number_hash, contacts, last_contact_at, taken)
            select c.account_id, w.number_hash,
                   array(select row({now}, {campaign}, c.instance_id)::recipient_contact_entry
                         from generate_series(1, w.wanted)),
                   {now}, w.wanted
            from limit_wanted w cross join limit_campaign c
            where (select kept from limit_history)
            order by w.number_hash
            on conflict (account_id, number_hash) do update
            set (contacts, last_contact_at, taken, refused_by) = (
                select array(select e from unnest(r.contacts) e
                             where (e).contacted_at > {now} - interval '{history_days} days')
                           || excluded.contacts[1:t.n],
                       case when t.n > 0 then greatest(r.last_contact_at, excluded.last_contact_at)
                            else r.last_contact_at end,
                       t.n,
                       case when t.n < cardinality(excluded.contacts) then t.label end
                from (
                    select greatest(0, least(cardinality(excluded.contacts),
                                             coalesce(b.room, cardinality(excluded.contacts))))::int as n,
                           b.label
                    from (select) one
                    left join lateral (
                        -- The limit with the least room left in its window.
                        select l.label,
                               l.max_count - (select count(*) from unnest(r.contacts) e
                                              where (e).contacted_at > {now} - l.days * interval '1 day'
                                                and case l.scope
                                                        when '{campaign_scope}' then (e).campaign_id = {campaign}
                                                        else (e).instance_id = (select instance_id from limit_campaign)
                                                    end) as room
                        from limit_rules l
                        order by 2, l.ord
                        limit 1
                    ) b on true
                ) t
            )
            returning number_hash, taken, refused_by
        ),
        limit_taken as (
            -- Without a history to keep, no limit applies: every request is taken.
            select k.id, k.expires_at, c.refused_by,
                   k.rank <= case when (select kept from limit_history) then coalesce(c.taken, 0)
                                  else k.rank end as taken
            from limit_ranked k
            left join limit_contacted c on c.number_hash = k.number_hash
        ),
        allowed as (
            select id, expires_at from limit_taken where taken
        ),
        limited as (
            select id, coalesce(refused_by, (select label from limit_cap)) as detail
            from limit_taken where not taken
        )",
        campaign_scope = LimitScope::Campaign.as_str(),
        instance_scope = LimitScope::Instance.as_str(),
        max_limits = MAX_LIMITS_PER_SCOPE,
        opt_in = InstanceLimitsHandling::OptIn.as_str(),
        opt_out = InstanceLimitsHandling::OptOut.as_str(),
        history_days = HISTORY_DAYS,
    )
}

/// Rows kept per recipient (account and number hash) that retention deletes by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberRows {
    /// Contact histories, by their last contact. A claim that contacts such a recipient
    /// again meanwhile holds its row, which is skipped, or has moved its last contact on.
    ContactHistories,
    /// Recorded abandons, by the abandon's time.
    Abandons,
}

impl NumberRows {
    fn table_and_time(self) -> (&'static str, &'static str) {
        match self {
            NumberRows::ContactHistories => ("recipient_contact", "last_contact_at"),
            NumberRows::Abandons => ("abandoned_number", "abandoned_at"),
        }
    }
}

/// Deletes up to `limit` of `rows` whose time is before `before`, oldest first; returns how
/// many. Rows a writer holds are skipped, and one a writer moved past `before` meanwhile
/// stays.
pub async fn number_rows_purge_many(
    db: impl PgExecutor<'_>,
    rows: NumberRows,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, RulesError> {
    let (table, time) = rows.table_and_time();
    Ok(sqlx::query(&format!(
        "with old as (
             select account_id, number_hash from {table}
             where {time} < $1
             order by {time}
             limit $2
             for update skip locked
         )
         delete from {table} r using old
         where r.account_id = old.account_id and r.number_hash = old.number_hash
           and r.{time} < $1"
    ))
    .bind(before)
    .bind(limit)
    .execute(db)
    .await?
    .rows_affected())
}

/// The abandons of the caller's CTE `written (campaign_id, phone_number, abandons,
/// ended_at)` (contacts whose written events include `abandons` of them), into the
/// account's `abandoned_number`, as a CTE `abandoned`: one row per number, at the latest
/// abandon. The time is the end of the events written with it (the abandon or a later
/// event), which errs towards a longer quiet period, never a shorter one. Rows in hash order,
/// so that two writers lock their shared numbers in the same order.
pub fn abandon_record_cte(written: &str) -> String {
    format!(
        "abandoned as (
            insert into abandoned_number as a (account_id, number_hash, abandoned_at)
            select c.account_id, number_hash_with(k.inner_pad, k.outer_pad, w.phone_number), max(w.ended_at)
            from {written} w join campaign c on c.id = w.campaign_id cross join ({HASH_KEY}) k
            where w.abandons > 0
            group by 1, 2
            order by 2
            on conflict (account_id, number_hash) do update
            set abandoned_at = greatest(a.abandoned_at, excluded.abandoned_at)
        )"
    )
}

/// The rule a refusal's reason names, as an SQL expression over the column `reason`.
fn refusal_rule() -> String {
    format!(
        "case reason when '{dnc_reason}' then '{dnc}' when '{limit_reason}' then '{limits}' else '{time}' end",
        dnc_reason = FailureReason::DoNotCall.as_str(),
        dnc = Rule::DoNotCall.as_str(),
        limit_reason = FailureReason::LimitExceeded.as_str(),
        limits = Rule::CommunicationLimits.as_str(),
        time = Rule::CommunicationTime.as_str(),
    )
}

/// The claim's ledger entries, as a CTE `decided`: a `dial` for every request of the
/// caller's CTE `claimed (id, attempts, phone_number)`, a `refuse` for every one of `refused
/// (id, attempt, phone_number, reason)` and a `wait` for every one of `waited (id, attempt,
/// phone_number, rule)`, with the numbers' hashes (as the caller's CTE `checked (id, number_hash)`
/// has them, else hashed here: waiting requests are not checked), the configuration
/// version (the campaign's settings and its instance's limits), the time zone, its source
/// and the local time the SQL from-item `zones (id, zone, source, local_time)` gives a
/// request (if any), the limit the caller's CTE `limited (id, detail)` names for it (if
/// any), decided at the SQL expression `now`.
pub fn ledger_cte(campaign: &str, now: &str, zones: &str) -> String {
    format!(
        "decided as (
            insert into rule_decision (decided_at, campaign_id, request_id, attempt, rule, verdict,
                                       config_version, number_hash, time_zone, time_zone_source,
                                       local_time, detail)
            select {now}, {campaign}, x.id, x.attempt, x.rule, x.verdict,
                   (select decision_config_version(c, i.communication_limits, null) from campaign c
                    left join connect_instance_config i on i.account_id = c.account_id and i.instance_id = c.connect_instance_id
                    where c.id = {campaign}),
                   coalesce(ch.number_hash, number_hash_with(k.inner_pad, k.outer_pad, x.phone_number)),
                   z.zone, z.source,
                   z.local_time, l.detail
            from (select id, attempts as attempt, phone_number, '{passed}' as rule, '{dial}'::rule_verdict as verdict from claimed
                  union all
                  select id, attempt, phone_number, {refusal_rule}, '{refuse}' from refused
                  union all
                  select id, attempt, phone_number, rule, '{wait}' from waited) x
            cross join ({HASH_KEY}) k
            left join checked ch on ch.id = x.id
            left join {zones} on z.id = x.id
            left join limited l on l.id = x.id
        )",
        passed = Rule::AllPassed.as_str(),
        refusal_rule = refusal_rule(),
        dial = Verdict::Dial.as_str(),
        refuse = Verdict::Refuse.as_str(),
        wait = Verdict::Wait.as_str(),
    )
}

/// Sets the retry policy of a campaign of `account` (the API's, which wins over the config
/// file's).
pub async fn retry_policy_put(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    campaign_id: &str,
    policy: &RetryPolicy,
) -> Result<(), RulesError> {
    let stored = sqlx::query(
        "insert into campaign_retry_policy (campaign_id, policy)
         select id, $3 from campaign where id = $1 and account_id = $2
         on conflict (campaign_id) do update set policy = excluded.policy, updated_at = now()",
    )
    .bind(campaign_id)
    .bind(account.as_str())
    .bind(sqlx::types::Json(policy.to_sql()))
    .execute(db)
    .await?
    .rows_affected();
    if stored == 0 {
        return Err(RulesError::CampaignNotFound(campaign_id.to_string()));
    }
    Ok(())
}

/// A campaign of `account`: its name, and the retry policy set through the API, if any.
pub async fn retry_policy_get(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    campaign_id: &str,
) -> Result<(String, Option<RetryPolicySpec>), RulesError> {
    let row: Option<(String, Option<sqlx::types::Json<RetryPolicySpec>>)> = sqlx::query_as(
        "select c.name, p.policy from campaign c
         left join campaign_retry_policy p on p.campaign_id = c.id
         where c.id = $1 and c.account_id = $2",
    )
    .bind(campaign_id)
    .bind(account.as_str())
    .fetch_optional(db)
    .await?;
    let (name, policy) =
        row.ok_or_else(|| RulesError::CampaignNotFound(campaign_id.to_string()))?;
    Ok((name, policy.map(|p| p.0)))
}

/// Removes the retry policy set through the API from a campaign of `account`, which then
/// follows the config file's; whether it had one.
pub async fn retry_policy_delete(
    db: impl PgExecutor<'_>,
    account: &AccountId,
    campaign_id: &str,
) -> Result<bool, RulesError> {
    let row: Option<(bool,)> = sqlx::query_as(
        "with gone as (
             delete from campaign_retry_policy p using campaign c
             where p.campaign_id = $1 and c.id = p.campaign_id and c.account_id = $2
             returning 1
         )
         select exists (select 1 from gone) from campaign where id = $1 and account_id = $2",
    )
    .bind(campaign_id)
    .bind(account.as_str())
    .fetch_optional(db)
    .await?;
    row.map(|(had,)| had)
        .ok_or_else(|| RulesError::CampaignNotFound(campaign_id.to_string()))
}

/// What part of the ledger to read.
#[derive(Debug, Clone)]
pub struct LedgerQuery {
    /// Campaign.
    pub campaign_id: String,
    /// Decisions at or after, if given.
    pub from: Option<DateTime<Utc>>,
    /// Decisions before, if given.
    pub to: Option<DateTime<Utc>>,
    /// Numbers in clear (from the requests, while retention keeps them) instead of hashes.
    pub clear_numbers: bool,
}

/// Up to `limit` decisions of the query after ledger position `after`, in ledger order.
pub async fn ledger_page(
    db: impl PgExecutor<'_>,
    query: &LedgerQuery,
    after: i64,
    limit: i64,
) -> Result<Vec<Decision>, RulesError> {
    Ok(sqlx::query_as(
        "select r.seq, r.decided_at, r.campaign_id, r.request_id, r.attempt, r.rule, r.verdict, r.detail,
                r.time_zone, r.time_zone_source, r.local_time, r.config_version,
                case when $5 then coalesce((select phone_number from dial_request d where d.id = r.request_id), '')
                     else encode(r.number_hash, 'hex') end as number
         from rule_decision r
         where r.campaign_id = $1 and r.seq > $4
           and ($2::timestamptz is null or r.decided_at >= $2)
           and ($3::timestamptz is null or r.decided_at < $3)
         order by r.seq
         limit $6",
    )
    .bind(&query.campaign_id)
    .bind(query.from)
    .bind(query.to)
    .bind(after)
    .bind(query.clear_numbers)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::PhoneNumber;

    #[sqlx::test]
    async fn rust_and_sql_hash_a_number_alike(pool: sqlx::PgPool) {
        let hasher = number_hasher(&pool).await.unwrap();
        let number = PhoneNumber::parse("+14155550123").unwrap();
        let in_sql: Vec<u8> = sqlx::query_scalar("select number_hash($1)")
            .bind(number.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(in_sql, hasher.hash(&number));
    }

    #[sqlx::test]
    async fn lists_are_per_account_and_campaign(pool: sqlx::PgPool) {
        sqlx::query(
            "insert into campaign (id, arn, name, connect_instance_id, dialer_config, outbound_call_config, account_id)
             values ('c', 'arn:c', 'c', 'i', '{}', '{}', '111111111111')",
        )
        .execute(&pool)
        .await
        .unwrap();
        let me = AccountId::parse("111111111111").unwrap();
        let other = AccountId::parse("222222222222").unwrap();
        let hasher = number_hasher(&pool).await.unwrap();
        let [a, b] =
            ["+14155550123", "+14155550124"].map(|n| hasher.hash(&PhoneNumber::parse(n).unwrap()));
        let campaign = DncList::Campaign("c".into());
        assert_eq!(
            dnc_add_many(&pool, &me, &DncList::Account, &[a])
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            dnc_add_many(&pool, &me, &DncList::Account, &[a])
                .await
                .unwrap(),
            0
        );
        assert_eq!(dnc_add_many(&pool, &me, &campaign, &[b]).await.unwrap(), 1);
        let listed = dnc_check_many(&pool, &me, &campaign, &[a, b])
            .await
            .unwrap();
        assert_eq!(
            listed,
            [
                Listed {
                    account: true,
                    campaign: false
                },
                Listed {
                    account: false,
                    campaign: true
                }
            ]
        );
        // Another account neither sees the lists nor reaches the campaign's.
        let theirs = dnc_check_many(&pool, &other, &DncList::Account, &[a, b])
            .await
            .unwrap();
        assert!(theirs.iter().all(|l| !l.any()));
        assert!(matches!(
            dnc_add_many(&pool, &other, &campaign, &[a]).await,
            Err(RulesError::CampaignNotFound(_))
        ));
        assert_eq!(
            dnc_remove_many(&pool, &me, &DncList::Account, &[a, b])
                .await
                .unwrap(),
            1
        );
        assert_eq!(dnc_count(&pool, &me, &DncList::Account).await.unwrap(), 0);
    }
}
