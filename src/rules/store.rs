//! Rules SQL: the number-hashing key, the do-not-call lists and the decision ledger. The
//! claim's side of the lists and the ledger are CTEs ([`dnc_check_cte`], [`ledger_cte`])
//! that the engine splices into its claim statement, so that a number is checked, and the
//! decision recorded, in the statement that takes its request.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::dnc::{DncList, Listed};
use super::ledger::{Decision, Rule, Verdict};
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

/// The claim's do-not-call check, as a CTE `checked (id, expires_at, do_not_call)` over the
/// caller's CTE `picked (id, expires_at, phone_number)` of campaign `campaign` (an SQL
/// expression): whether each picked request's number is on the account's list or the
/// campaign's.
pub fn dnc_check_cte(picked: &str, campaign: &str) -> String {
    format!(
        "checked as (
            select p.id, p.expires_at,
                   exists (select 1 from do_not_call n
                           where n.account_id = (select account_id from campaign where id = {campaign})
                             and n.list in ('', {campaign})
                             and n.number_hash = number_hash_with(k.inner_pad, k.outer_pad, p.phone_number)) as do_not_call
            from {picked} p cross join {hash_key} k
        )",
        hash_key = HASH_KEY,
    )
}

/// The key's row, as the claim joins it. `limit 1` tells the planner it is one row: the
/// table is never analyzed (autovacuum waits for 50 changes), and without statistics the
/// planner takes it for hundreds of rows, multiplies the claim's rows by as many, and
/// updates the claimed requests through a scan of every pending one.
const HASH_KEY: &str = "(select inner_pad, outer_pad from number_hash_key limit 1)";

/// The rule a refusal's reason names, as an SQL expression over the column `reason`.
fn refusal_rule() -> String {
    format!(
        "case reason when '{dnc_reason}' then '{dnc}' else '{time}' end",
        dnc_reason = FailureReason::DoNotCall.as_str(),
        dnc = Rule::DoNotCall.as_str(),
        time = Rule::CommunicationTime.as_str(),
    )
}

/// The claim's ledger entries, as a CTE `decided`: a `dial` for every request of the
/// caller's CTE `claimed (id, attempts, phone_number)`, a `refuse` for every one of `refused
/// (id, attempt, phone_number, reason)` and a `wait` for every one of `waited (id, attempt,
/// phone_number)`, with the numbers' hashes, the campaign's configuration version, the time
/// zone, its source and the local time the SQL from-item `zones (id, zone, source,
/// local_time)` gives a request (if any), decided at the SQL expression `now`.
pub fn ledger_cte(campaign: &str, now: &str, zones: &str) -> String {
    format!(
        "decided as (
            insert into rule_decision (decided_at, campaign_id, request_id, attempt, rule, verdict,
                                       config_version, number_hash, time_zone, time_zone_source,
                                       local_time)
            select {now}, {campaign}, x.id, x.attempt, x.rule, x.verdict,
                   (select campaign_config_version(c) from campaign c where c.id = {campaign}),
                   number_hash_with(k.inner_pad, k.outer_pad, x.phone_number), z.zone, z.source,
                   z.local_time
            from (select id, attempts as attempt, phone_number, '{passed}' as rule, '{dial}'::rule_verdict as verdict from claimed
                  union all
                  select id, attempt, phone_number, {refusal_rule}, '{refuse}' from refused
                  union all
                  select id, attempt, phone_number, '{time}', '{wait}' from waited) x
            cross join {hash_key} k
            left join {zones} on z.id = x.id
        )",
        passed = Rule::AllPassed.as_str(),
        time = Rule::CommunicationTime.as_str(),
        refusal_rule = refusal_rule(),
        hash_key = HASH_KEY,
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
        "select r.seq, r.decided_at, r.campaign_id, r.request_id, r.attempt, r.rule, r.verdict,
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
