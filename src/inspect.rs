//! The operator's view of a running daemon: `dialer campaigns [list|show ID]`,
//! `dialer progress ID` and `dialer request ID REQUEST_ID`.
//!
//! The commands are API callers like any other: they sign with an access key (flags or the
//! usual AWS environment), so they see what that key's account sees and nothing more, and
//! they work against any daemon the operator can reach. Each one makes its calls, then prints
//! the answers as JSON (`--output json`) or renders them as text tables; the renderers are
//! pure (JSON in, text out). The API never returns a dial request's phone number or
//! attributes, so these commands cannot print them either.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, bail};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::client::{ApiClient, ClientError};
use crate::contacts::Outcome;
use crate::queue::DialRequestState;

/// Region signed for when neither `--region`, `AWS_REGION` nor `AWS_DEFAULT_REGION` names
/// one: the AWS CLI's usual default, and `aws.region`'s.
pub const REGION_DEFAULT: &str = "us-east-1";

/// How long one call may take. A daemon answers these in milliseconds; an endpoint behind a
/// firewall that drops packets would otherwise leave the operator waiting forever.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// ListCampaigns' largest page (`maxResults`), so that listing takes the fewest calls.
const LIST_PAGE: usize = 50;

/// GetCampaignStateBatch's most ids per call.
const STATE_BATCH: usize = 25;

/// What a path segment keeps unescaped: ids are letters, digits, `-` and `_`; anything else
/// an operator types (`/`, `?`, `.`) must stay inside its segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// The commands.
#[derive(Debug, clap::Subcommand)]
pub enum InspectCommand {
    /// List the campaigns (the default), or show one, on a running daemon.
    Campaigns {
        /// `list` when none is given.
        #[command(subcommand)]
        action: Option<CampaignsAction>,
        /// Which daemon, as whom, printed how.
        #[command(flatten)]
        target: Target,
    },
    /// A campaign's progress: requests by state, outcomes, abandonment against its target.
    Progress {
        /// Campaign id.
        id: String,
        /// Which daemon, as whom, printed how.
        #[command(flatten)]
        target: Target,
    },
    /// One dial request: state, reason, outcome, contact and timeline.
    Request {
        /// Campaign id.
        id: String,
        /// Dial request id, as PutDialRequestBatch returned it.
        request_id: String,
        /// Which daemon, as whom, printed how.
        #[command(flatten)]
        target: Target,
    },
}

/// `dialer campaigns` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CampaignsAction {
    /// Every campaign of the key's account: id, name, state, instance.
    List,
    /// One campaign's settings (DescribeCampaign) and state.
    Show {
        /// Campaign id.
        id: String,
    },
}

/// Which daemon to ask, as whom, and how to print the answer.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The daemon's API endpoint.
    #[arg(long, env = "DIALER_ENDPOINT", value_name = "URL", global = true,
          default_value_t = format!("http://{}", crate::config::LISTEN_DEFAULT))]
    endpoint_url: String,
    /// Access key id to sign with.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", global = true)]
    access_key_id: Option<String>,
    /// Secret access key to sign with (prefer the environment: flags show in `ps`).
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
    secret_access_key: Option<String>,
    /// Region to sign for (then AWS_DEFAULT_REGION, then us-east-1); the daemon's
    /// `aws.region`.
    #[arg(long, env = "AWS_REGION", global = true)]
    region: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text, global = true)]
    output: Output,
}

/// How answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Text tables for people.
    Text,
    /// The API's JSON answers, for scripts.
    Json,
}

impl Target {
    fn client(&self) -> anyhow::Result<ApiClient> {
        // An exported but empty variable is as good as none.
        let given = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let (Some(key_id), Some(secret)) =
            (given(&self.access_key_id), given(&self.secret_access_key))
        else {
            bail!(
                "no access key: pass --access-key-id and --secret-access-key, or set \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            );
        };
        let endpoint = self.endpoint_url.trim_end_matches('/');
        // The signing client sends the authority as the Host header it signs, so anything
        // after it (a path, a query) would break the signature in a confusing way.
        let authority = endpoint.strip_prefix("http://").unwrap_or_default();
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            bail!("--endpoint-url {endpoint}: expected http://HOST:PORT (the daemon serves plain HTTP)");
        }
        let region = given(&self.region)
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|region| !region.is_empty())
            .unwrap_or_else(|| REGION_DEFAULT.to_string());
        Ok(ApiClient::new(endpoint, &region, &key_id, &secret).with_timeout(CALL_TIMEOUT))
    }
}

/// Runs one command and prints its answer.
pub async fn run(command: InspectCommand) -> anyhow::Result<()> {
    let (target, answer, render): (_, _, fn(&Value) -> String) = match &command {
        InspectCommand::Campaigns { action, target } => {
            let api = target.client()?;
            match action {
                None | Some(CampaignsAction::List) => {
                    let summaries = campaigns_list(&api).await?;
                    let answer = json!({ "campaignSummaryList": summaries });
                    (target, answer, render_list)
                }
                Some(CampaignsAction::Show { id }) => {
                    let path = format!("/campaigns/{}", segment(id));
                    let described = call(&api, "GET", &path, None).await?;
                    let state = call(&api, "GET", &format!("{path}/state"), None).await?;
                    let answer =
                        json!({ "campaign": described["campaign"], "state": state["state"] });
                    (target, answer, render_campaign)
                }
            }
        }
        InspectCommand::Progress { id, target } => {
            let path = format!("/campaigns/{}/progress", segment(id));
            let answer = call(&target.client()?, "GET", &path, None).await?;
            (target, answer, render_progress)
        }
        InspectCommand::Request {
            id,
            request_id,
            target,
        } => {
            let path = format!(
                "/campaigns/{}/dial-requests/{}",
                segment(id),
                segment(request_id)
            );
            let answer = call(&target.client()?, "GET", &path, None).await?;
            (target, answer, render_request)
        }
    };
    match target.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&answer)?),
        Output::Text => print!("{}", render(&answer)),
    }
    Ok(())
}

/// Every page of ListCampaigns, each summary with its state (GetCampaignStateBatch): the
/// summaries alone do not say which campaigns are running.
async fn campaigns_list(api: &ApiClient) -> anyhow::Result<Vec<Value>> {
    let mut summaries = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({ "maxResults": LIST_PAGE });
        if let Some(token) = &token {
            body["nextToken"] = Value::String(token.clone());
        }
        let page = call(api, "POST", "/campaigns-summary", Some(&body)).await?;
        let mut items = page["campaignSummaryList"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for chunk in items.chunks_mut(STATE_BATCH) {
            let ids: Vec<&str> = chunk.iter().filter_map(|c| c["id"].as_str()).collect();
            if ids.is_empty() {
                continue;
            }
            let answer = call(
                api,
                "POST",
                "/campaigns-state",
                Some(&json!({ "campaignIds": ids })),
            )
            .await?;
            // A campaign deleted since the page was read has no state; it keeps none.
            let states: HashMap<String, Value> = answer["successfulRequests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| Some((s["campaignId"].as_str()?.to_string(), s["state"].clone())))
                .collect();
            for summary in chunk.iter_mut() {
                let state = summary["id"]
                    .as_str()
                    .and_then(|id| states.get(id))
                    .cloned();
                if let (Some(state), Some(summary)) = (state, summary.as_object_mut()) {
                    summary.insert("state".into(), state);
                }
            }
        }
        summaries.extend(items);
        match page["nextToken"].as_str() {
            None => return Ok(summaries),
            Some(next) if token.as_deref() == Some(next) => {
                bail!("ListCampaigns answered the same nextToken twice; stopping")
            }
            Some(next) => token = Some(next.to_string()),
        }
    }
}

/// One call, its failure put the way an operator needs it: the AWS error type and message,
/// or that the daemon cannot be reached, naming the endpoint.
async fn call(
    api: &ApiClient,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let answer = api
        .call(method, path, body)
        .await
        .map_err(|error| explain(api.endpoint(), error))?;
    // Every answer of these operations is a JSON object; anything else comes from a server
    // that is not a dialer (a wrong port), and rendering it would print a table of dashes.
    if !answer.is_object() {
        bail!(
            "{}{path} answered without a JSON object; is it a dialer?",
            api.endpoint()
        );
    }
    Ok(answer)
}

fn explain(endpoint: &str, error: ClientError) -> anyhow::Error {
    match error {
        ClientError::Api {
            error_type: Some(error_type),
            body,
            ..
        } => {
            let message = body["message"].as_str().unwrap_or("(no message)");
            anyhow!("{error_type}: {}", printable(message))
        }
        ClientError::Api { path, status, .. } => anyhow!(
            "{endpoint}{path} answered HTTP {status} without an AWS error type; is it a dialer?"
        ),
        ClientError::Http(error) if error.is_timeout() => anyhow!(
            "the dialer at {endpoint} did not answer within {} s",
            CALL_TIMEOUT.as_secs()
        ),
        ClientError::Http(error) if error.is_connect() => {
            anyhow!(
                "cannot reach the dialer at {endpoint}: {}",
                root_cause(&error)
            )
        }
        other => anyhow::Error::new(other).context(format!("calling the dialer at {endpoint}")),
    }
}

/// The innermost cause ("Connection refused (os error 111)"): reqwest's outer layers only
/// repeat the URL.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// `answer` of `dialer campaigns list`: `{"campaignSummaryList": [...]}`.
fn render_list(answer: &Value) -> String {
    let summaries = answer["campaignSummaryList"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if summaries.is_empty() {
        return "no campaigns\n".to_string();
    }
    let mut rows = vec![cells(["ID", "NAME", "STATE", "INSTANCE"])];
    rows.extend(summaries.iter().map(|summary| {
        ["id", "name", "state", "connectInstanceId"]
            .map(|member| text(&summary[member]))
            .to_vec()
    }));
    columns(&rows)
}

/// `answer` of `dialer campaigns show`: `{"campaign": {...}, "state": "..."}`. Every member
/// DescribeCampaign returns is shown, nested ones by their dotted path, so that a member a
/// newer daemon adds shows too.
fn render_campaign(answer: &Value) -> String {
    const FIRST: [&str; 4] = ["id", "arn", "name", "connectInstanceId"];
    let campaign = &answer["campaign"];
    let mut rows: Vec<Vec<String>> = FIRST
        .iter()
        .map(|member| vec![member.to_string(), text(&campaign[*member])])
        .collect();
    rows.insert(3, vec!["state".to_string(), text(&answer["state"])]);
    let rest = campaign.as_object().into_iter().flatten();
    for (member, value) in rest.filter(|(m, _)| !FIRST.contains(&m.as_str())) {
        flatten(member, value, &mut rows);
    }
    columns(&rows)
}

fn flatten(path: &str, value: &Value, rows: &mut Vec<Vec<String>>) {
    match value.as_object() {
        Some(members) if !members.is_empty() => {
            for (member, value) in members {
                flatten(&format!("{path}.{member}"), value, rows);
            }
        }
        _ => rows.push(vec![printable(path), text(value)]),
    }
}

/// `answer` of GetCampaignProgress.
fn render_progress(answer: &Value) -> String {
    let mut out = columns(&[
        vec!["campaign".into(), text(&answer["campaignId"])],
        vec!["state".into(), text(&answer["state"])],
    ]);
    let states = DialRequestState::ALL.map(DialRequestState::as_str);
    out += "\n";
    out += &counts(["STATE", "REQUESTS"], &answer["requests"], &states);
    let outcomes = Outcome::ALL.map(Outcome::as_str);
    out += "\n";
    out += &counts(["OUTCOME", "COMPLETED"], &answer["outcomes"], &outcomes);
    if answer["failures"]
        .as_object()
        .is_some_and(|f| !f.is_empty())
    {
        out += "\n";
        out += &counts(["FAILURE", "REQUESTS"], &answer["failures"], &[]);
    }
    let abandonment = &answer["abandonment"];
    let percent = |value: &Value| {
        value
            .as_f64()
            .map_or_else(|| "-".to_string(), |v| format!("{:.2}%", v * 100.0))
    };
    let window = abandonment["windowSeconds"].as_u64().map_or_else(
        || "-".to_string(),
        |secs| format!("{} ({secs} s)", span(secs)),
    );
    out += "\n";
    out += &columns(&[
        cells(["ABANDONMENT", ""]),
        vec!["window".into(), window],
        vec!["dials".into(), text(&abandonment["dials"])],
        vec!["person answers".into(), text(&abandonment["personAnswers"])],
        vec!["abandons".into(), text(&abandonment["abandons"])],
        vec!["rate".into(), percent(&abandonment["rate"])],
        vec!["target".into(), percent(&abandonment["target"])],
    ]);
    out
}

/// A table of counts: the `known` keys first in their order (zeros included), then any
/// others the daemon sent, by name.
fn counts(header: [&str; 2], map: &Value, known: &[&str]) -> String {
    let keys: Vec<&str> = map
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let present = known.iter().copied().filter(|k| keys.contains(k));
    let others = keys.iter().copied().filter(|k| !known.contains(k));
    let mut rows = vec![cells(header)];
    for key in present.chain(others) {
        rows.push(vec![printable(key), text(&map[key])]);
    }
    if rows.len() == 1 {
        rows.push(cells(["none", "0"]));
    }
    columns(&rows)
}

/// `answer` of DescribeDialRequest: the request, then its timeline one event a line.
fn render_request(answer: &Value) -> String {
    let fields = [
        "id",
        "campaignId",
        "clientToken",
        "state",
        "reason",
        "outcome",
        "contactId",
        "attempts",
        "expirationTime",
        "createdAt",
        "updatedAt",
    ];
    let mut out = columns(
        &fields
            .iter()
            .map(|field| vec![field.to_string(), text(&answer[*field])])
            .collect::<Vec<_>>(),
    );
    out += "\n";
    let timeline = answer["timeline"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if timeline.is_empty() {
        out += "no contact events yet\n";
        return out;
    }
    let mut rows = vec![cells(["TIME", "EVENT", "AGENT"])];
    rows.extend(timeline.iter().map(|event| {
        let agent = match &event["agentId"] {
            Value::Null => String::new(),
            agent => text(agent),
        };
        vec![text(&event["at"]), text(&event["event"]), agent]
    }));
    out += &columns(&rows);
    out
}

fn cells<const N: usize>(texts: [&str; N]) -> Vec<String> {
    texts.map(str::to_string).to_vec()
}

/// Rows as left-aligned columns two spaces apart.
fn columns(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line += &format!("{cell:<width$}  ");
        }
        out += line.trim_end();
        out += "\n";
    }
    out
}

/// A JSON value as a cell: strings as they are (made printable), null as `-`.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(s) => printable(s),
        other => other.to_string(),
    }
}

/// `s` safe to put on a terminal: a campaign name may hold any character, and an escape
/// sequence or a bidirectional override in one must not rewrite the operator's screen.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            let reorders = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || reorders {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Seconds in the largest whole unit: the pacing window is configured in round figures.
fn span(secs: u64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_names_cannot_drive_the_terminal() {
        let answer = json!({"campaignSummaryList": [
            {"id": "c-1", "name": "spring\u{1b}[2J", "state": "Running", "connectInstanceId": "i-1"},
            {"id": "c-22", "name": "\u{202e}fall", "connectInstanceId": "i-2"},
        ]});
        assert_eq!(
            render_list(&answer),
            "ID    NAME             STATE    INSTANCE\n\
             c-1   spring\\u{1b}[2J  Running  i-1\n\
             c-22  \\u{202e}fall     -        i-2\n"
        );
    }

    #[test]
    fn progress_lists_states_in_lifecycle_order_then_unknown_ones() {
        let answer = json!({
            "campaignId": "c-1", "state": "Running",
            "requests": {"cancelled": 0, "completed": 7, "expired": 0, "failed": 1,
                         "in_progress": 2, "pending": 3, "parked": 4},
            "outcomes": {"connected": 5, "no_answer": 2},
            "failures": {"INVALID_CUSTOMER_ENDPOINT": 1},
            "abandonment": {"windowSeconds": 2_592_000, "dials": 9, "personAnswers": 5,
                            "abandons": 0, "rate": 0.0, "target": 0.03},
        });
        let text = render_progress(&answer);
        let states: Vec<&str> = text
            .lines()
            .skip_while(|line| !line.starts_with("STATE"))
            .skip(1)
            .take_while(|line| !line.is_empty())
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert_eq!(
            states,
            [
                "pending",
                "in_progress",
                "completed",
                "expired",
                "failed",
                "cancelled",
                "parked"
            ]
        );
        assert!(text.contains("window          30d (2592000 s)"), "{text}");
        assert!(text.contains("target          3.00%"), "{text}");
        assert!(text.contains("INVALID_CUSTOMER_ENDPOINT  1"), "{text}");
    }

    #[test]
    fn ids_stay_inside_their_path_segment() {
        assert_eq!(segment("a/../b?c"), "a%2F%2E%2E%2Fb%3Fc");
        assert_eq!(segment("7f3c-09_ab"), "7f3c-09_ab");
    }
}
