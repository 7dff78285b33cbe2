//! Calling rules at dial time: numbers put on a do-not-call list after their requests were
//! queued are never called, with two daemons claiming, and the decision ledger explains
//! every dial and every refusal of the run.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::harness::{
    agentless_campaign, check_invariants, command, put_requests, sim_contacts, wait_drained, Knobs,
    TestDb,
};

/// The number `put_requests` gives request `i`.
fn number(i: usize) -> String {
    format!("+1415555{:04}", i % 10_000)
}

#[sqlx::test]
async fn numbers_listed_after_queueing_are_never_called_and_the_ledger_says_why(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let db = TestDb::new(connect).await;
    let knobs = Knobs::default();
    let (first, second) = (db.app(&knobs).await, db.app(&knobs).await);
    let campaign = agentless_campaign(&first).await;
    let other = agentless_campaign(&first).await;
    let accepted = put_requests(&first, &campaign, "r", 60, |_| Duration::from_secs(120)).await;
    let elsewhere = put_requests(&first, &other, "o", 10, |_| Duration::from_secs(120)).await;

    // Queued first, listed after: 0-9 on the account's list (both campaigns), 10-19 on this
    // campaign's suppression list only, written as people write numbers.
    let account: Vec<String> = (0..10).map(number).collect();
    let suppressed: Vec<String> = (10..20)
        .map(|i| {
            let n = number(i);
            format!("{} ({}) {}-{}", &n[..2], &n[2..5], &n[5..8], &n[8..])
        })
        .collect();
    let added = first
        .call(
            "PUT",
            "/do-not-call",
            Some(json!({ "phoneNumbers": account })),
        )
        .await;
    assert_eq!(added.ok()["added"], 10);
    let added = first
        .call(
            "PUT",
            "/do-not-call",
            Some(json!({ "phoneNumbers": suppressed, "campaignId": campaign })),
        )
        .await;
    assert_eq!(added.ok()["added"], 10);

    for c in [&campaign, &other] {
        command(&first, c, "start").await;
    }
    let campaigns = [campaign.clone(), other.clone()];
    wait_drained(&db.pool, &campaigns, Duration::from_secs(60)).await;
    let mut all = accepted.clone();
    all.extend(&elsewhere);
    check_invariants(&db.pool, &campaigns, &all)
        .await
        .assert_clean();

    // Requests by client token: state, reason, attempts.
    let rows: Vec<(Uuid, String, String, Option<String>, i32)> =
        sqlx::query_as("select id, client_token, state::text, reason, attempts from dial_request")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let contacted = sim_contacts(&db.pool).await;
    for (id, token, state, reason, _) in &rows {
        let i: usize = token[2..].parse().unwrap();
        let listed = i < 10 || (token.starts_with("r-") && i < 20);
        if listed {
            assert_eq!(
                (state.as_str(), reason.as_deref()),
                ("failed", Some("DO_NOT_CALL")),
                "{token}"
            );
            assert!(!contacted.contains_key(id), "{token} was called");
        } else {
            assert_eq!(state, "completed", "{token}: {reason:?}");
        }
    }

    // The ledger: a dial per claim of a request, a refusal per listed one, each with the
    // request's number hash and the campaign's config version.
    let ledger: Vec<(Uuid, String, String, i32, bool, String)> = sqlx::query_as(
        "select r.request_id, r.verdict::text, r.rule, r.attempt,
                r.number_hash = number_hash(d.phone_number), r.config_version
         from rule_decision r join dial_request d on d.id = r.request_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut per_request: HashMap<Uuid, Vec<(String, String, i32)>> = HashMap::new();
    for (id, verdict, rule, attempt, hash_matches, version) in ledger {
        assert!(hash_matches, "ledger row of {id} names another number");
        assert_eq!(version.len(), 16);
        per_request
            .entry(id)
            .or_default()
            .push((verdict, rule, attempt));
    }
    for (id, token, state, _, attempts) in &rows {
        let mut decisions = per_request.remove(id).unwrap_or_default();
        decisions.sort_by_key(|d| d.2);
        if state == "failed" {
            assert_eq!(
                decisions,
                [("refuse".to_string(), "do_not_call".to_string(), 1)],
                "{token}"
            );
        } else {
            let dials: Vec<(String, String, i32)> = (1..=*attempts)
                .map(|a| ("dial".to_string(), "all_passed".to_string(), a))
                .collect();
            assert_eq!(decisions, dials, "{token}");
        }
    }
    assert!(per_request.is_empty(), "ledger rows of unknown requests");

    let refused = format!("dialer_dial_requests_refused_total{{campaign_id=\"{campaign}\"");
    // Both in-process daemons record into the process's one recorder.
    assert_eq!(first.metric_sum(&refused).await, 20.0);
    first.shutdown().await.unwrap();
    second.shutdown().await.unwrap();
}

/// Two zones twelve hours apart and hours from 00:00 to 12:00 every day: at any instant the
/// hours are open in exactly one of them.
const EAST: &str = "Etc/GMT-6"; // UTC+6
const WEST: &str = "Etc/GMT+6"; // UTC-6

/// Waits until every request of `campaign` is decided, dialed to its end or waiting for its
/// hours, and `waiting` of them wait.
async fn wait_decided(db: &TestDb, campaign: &str, waiting: i64) {
    let campaigns = [campaign.to_string()];
    crate::harness::wait_for("every request decided", Duration::from_secs(30), || async {
        let undecided: i64 = sqlx::query_scalar(
            "select count(*) from dial_request
             where state = 'in_progress' or (state = 'pending' and not_before is null)",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        let open = crate::harness::unfinished(&db.pool, &campaigns).await;
        (undecided == 0 && open == waiting).then_some(())
    })
    .await;
}

/// Gives `campaign` calling hours from midnight to noon every day, local time, UTC when
/// nothing tells the recipient's zone.
async fn mornings_only(app: &crate::common::Client, campaign: &str) {
    let every_day: serde_json::Map<String, serde_json::Value> = dialer::rules::window::DAYS
        .iter()
        .map(|d| {
            (
                d.to_string(),
                json!([{"startTime": "T00:00", "endTime": "T12:00"}]),
            )
        })
        .collect();
    let hours = json!({"communicationTimeConfig": {
        "localTimeZoneConfig": {"defaultTimeZone": "UTC"},
        "telephony": {"openHours": {"dailyHours": every_day}},
    }});
    app.call(
        "POST",
        &format!("/v2/campaigns/{campaign}/communication-time"),
        Some(hours),
    )
    .await
    .ok();
}

/// A daemon on a fresh database and an agentless campaign of it with [`mornings_only`].
async fn mornings_campaign(connect: PgConnectOptions) -> (TestDb, crate::common::TestApp, String) {
    let db = TestDb::new(connect).await;
    let app = db.app(&Knobs::default()).await;
    let campaign = agentless_campaign(&app).await;
    mornings_only(&app, &campaign).await;
    (db, app, campaign)
}

#[sqlx::test]
async fn requests_outside_their_hours_wait_for_them_and_the_ledger_shows_their_local_time(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (db, app, campaign) = mornings_campaign(connect).await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let items: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            json!({
                "clientToken": format!("z-{i}"),
                "phoneNumber": number(i),
                "expirationTime": expires,
                "attributes": {"timeZone": if i.is_multiple_of(2) { EAST } else { WEST }},
            })
        })
        .collect();
    app.put_dial_requests(&campaign, json!(items)).await.ok();
    command(&app, &campaign, "start").await;

    // Every request is decided once: dialed to its end, or waiting for its zone's midnight.
    wait_decided(&db, &campaign, 10).await;

    type Row = (
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<bool>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select d.client_token, r.verdict::text, r.time_zone, d.state::text,
                to_char(r.local_time, 'HH24'),
                to_char(d.not_before at time zone r.time_zone, 'HH24:MI'),
                d.not_before > r.decided_at
         from rule_decision r join dial_request d on d.id = r.request_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 20, "one decision per request: {rows:?}");
    let mut verdicts: HashMap<String, String> = HashMap::new();
    for (token, verdict, zone, state, hour, not_before, later) in rows {
        let i: usize = token[2..].parse().unwrap();
        assert_eq!(
            zone.as_deref(),
            Some(if i.is_multiple_of(2) { EAST } else { WEST })
        );
        let hour: u32 = hour.unwrap().parse().unwrap();
        match verdict.as_str() {
            "dial" => {
                assert!(hour < 12, "{token} dialed at {hour}h local");
                assert_eq!(state, "completed", "{token}");
            }
            "wait" => {
                assert!(hour >= 12, "{token} waited at {hour}h local");
                assert_eq!(state, "pending", "{token}");
                assert_eq!(
                    not_before.as_deref(),
                    Some("00:00"),
                    "{token} waits for midnight"
                );
                assert_eq!(later, Some(true), "{token}");
            }
            other => panic!("{token}: {other}"),
        }
        // Both requests of a zone got the same verdict.
        let zone = zone.unwrap();
        let previous = verdicts.entry(zone.clone()).or_insert(verdict.clone());
        assert_eq!(*previous, verdict, "{zone}");
    }
    let mut seen: Vec<&String> = verdicts.values().collect();
    seen.sort();
    assert_eq!(seen, ["dial", "wait"], "one zone open, the other closed");
    app.shutdown().await.unwrap();
}

#[sqlx::test]
async fn without_a_zone_attribute_the_number_tells_the_zone_and_the_request_waits_for_its_hours(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let (db, app, campaign) = mornings_campaign(connect).await;
    // Honolulu (UTC-10) and Johannesburg (UTC+2), twelve hours apart and neither with
    // daylight saving time: whenever the test runs, one of them is in its morning and the
    // other is not. No attribute names a zone.
    const NUMBERS: [(&str, &str); 2] = [
        ("+18085550123", "Pacific/Honolulu"),
        ("+27115550123", "Africa/Johannesburg"),
    ];
    let expires = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let items: Vec<serde_json::Value> = (0..10)
        .map(|i| {
            json!({
                "clientToken": format!("n-{i}"),
                "phoneNumber": NUMBERS[i % 2].0,
                "expirationTime": expires,
                "attributes": {"customer": "c"},
            })
        })
        .collect();
    app.put_dial_requests(&campaign, json!(items)).await.ok();
    command(&app, &campaign, "start").await;

    wait_decided(&db, &campaign, 5).await;

    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select d.phone_number, r.verdict::text, d.state::text, r.time_zone, r.time_zone_source,
                coalesce(to_char(d.not_before at time zone r.time_zone, 'HH24:MI'), '')
         from rule_decision r join dial_request d on d.id = r.request_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 10, "one decision per request: {rows:?}");
    let mut verdicts: Vec<&str> = Vec::new();
    for (number, verdict, state, zone, source, not_before) in &rows {
        let expected = NUMBERS.iter().find(|(n, _)| n == number).unwrap().1;
        assert_eq!(zone.as_deref(), Some(expected), "{number}");
        assert_eq!(source.as_deref(), Some("phone_number"), "{number}");
        match verdict.as_str() {
            "dial" => assert_eq!(state, "completed"),
            "wait" => {
                assert_eq!(state, "pending");
                assert_eq!(not_before, "00:00", "waits for its zone's midnight");
            }
            other => panic!("{number}: {other}"),
        }
        verdicts.push(verdict);
    }
    verdicts.sort();
    verdicts.dedup();
    assert_eq!(
        verdicts,
        ["dial", "wait"],
        "one zone open, the other closed"
    );
    app.shutdown().await.unwrap();
}
