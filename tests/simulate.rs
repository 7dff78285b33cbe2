//! `dialer simulate`: the engine's pacing holds the abandonment cap when the world changes
//! mid-shift, progressive never dials ahead of its agents, and a seed fixes the whole run.
//!
//! Shifts are 2-4 hours of 20-50 agents so the suite stays fast; the 8-hour benchmark table
//! is in BENCHMARKS.md.

use std::path::PathBuf;
use std::process::Command;

use dialer::contact_center::sim::model::{AnswerRateChange, StaffingChange};
use dialer::whatif::{simulate, Mode, Report, Scenario};

const CAP: f64 = 0.03;

fn run(scenario: &Scenario) -> Report {
    simulate(scenario).unwrap_or_else(|e| panic!("{e}"))
}

fn assert_cap_each_half(report: &Report) {
    for (half, rate) in [
        ("first", report.first_half_abandonment_rate),
        ("second", report.second_half_abandonment_rate),
    ] {
        assert!(
            rate <= CAP,
            "{half} half abandonment {:.2}% over the cap: {report:#?}",
            rate * 100.0
        );
    }
    assert!(report.abandonment_rate <= CAP, "{report:#?}");
}

/// The 4-hour shift of 50 agents whose answer rate halves at hour 2.
fn shifting(seed: u64) -> Scenario {
    let mut scenario = Scenario::reference(50, 0.30, 120.0, 4.0, Mode::Predictive, seed);
    scenario.contact_center.sim.customers.answer_rate_changes = vec![AnswerRateChange {
        at_secs: 2.0 * 3600.0,
        probability: 0.15,
    }];
    scenario
}

#[test]
fn predictive_holds_the_cap_when_the_answer_rate_halves_mid_shift() {
    let report = run(&shifting(1));
    assert_cap_each_half(&report);
    // It keeps agents busy by dialing more, not by spending the abandonment budget.
    assert!(report.second_half_occupancy > 0.85, "{report:#?}");
    let first: u64 = report.minutes[..120].iter().map(|m| m.dials).sum();
    let second: u64 = report.minutes[120..].iter().map(|m| m.dials).sum();
    assert!(
        second as f64 > 1.5 * first as f64,
        "dials {first} then {second}"
    );
}

#[test]
fn the_recent_budget_holds_each_half_under_the_cap() {
    // Seeds 7 and 12 are those of the first 16 whose second half went over 3% (3.05% and
    // 3.10%) with the evaluation-window budget alone: its newest answers run close to the
    // target. The recent window's budget holds them at 2.9% or under.
    for seed in [7, 12] {
        let on = run(&shifting(seed));
        assert_cap_each_half(&on);
        assert!(on.occupancy >= 0.89, "seed {seed}: {on:#?}");
    }
    let mut off = shifting(12);
    off.pacing.recent_window_secs = 0;
    let off = run(&off);
    assert!(
        off.second_half_abandonment_rate > CAP,
        "without the recent budget the second half should run over: {off:#?}"
    );
}

#[test]
fn predictive_holds_the_cap_when_agents_leave_mid_shift() {
    let mut scenario = Scenario::reference(50, 0.25, 120.0, 4.0, Mode::Predictive, 1);
    scenario.contact_center.sim.queues[0].staffing = vec![StaffingChange {
        at_secs: 2.0 * 3600.0,
        delta: -20,
    }];
    let report = run(&scenario);
    assert_cap_each_half(&report);
    assert_eq!(report.minutes.last().map(|m| m.agents), Some(30));
    assert!(report.occupancy > 0.85, "{report:#?}");
}

#[test]
fn predictive_beats_progressive_and_vicidial() {
    let shift = |mode| run(&Scenario::reference(20, 0.25, 120.0, 2.0, mode, 2));
    let (progressive, vicidial, predictive) = (
        shift(Mode::Progressive),
        shift(Mode::Vicidial),
        shift(Mode::Predictive),
    );
    assert!(predictive.abandonment_rate <= CAP, "{predictive:#?}");
    assert!(predictive.occupancy > vicidial.occupancy + 0.1);
    assert!(predictive.occupancy > progressive.occupancy + 0.1);
    assert!(predictive.mean_agent_idle_secs < progressive.mean_agent_idle_secs / 2.0);
}

#[test]
fn progressive_never_has_more_dials_in_flight_than_free_agents() {
    for seed in [1, 2] {
        let report = run(&Scenario::reference(
            30,
            0.25,
            120.0,
            2.0,
            Mode::Progressive,
            seed,
        ));
        assert_eq!(report.peak_excess_dials, 0, "seed {seed}");
        assert_eq!(report.abandons, 0, "seed {seed}");
    }
}

fn dialer(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dialer"))
        .arg("simulate")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run dialer: {e}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dialer-simulate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir.join(name)
}

#[test]
fn the_same_seed_prints_the_same_json() {
    let args = [
        "--agents",
        "20",
        "--hours",
        "1",
        "--seed",
        "5",
        "--json",
        "--no-chart",
    ];
    let first = dialer(&args);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(first.stdout, dialer(&args).stdout);
    let json: serde_json::Value =
        serde_json::from_slice(&first.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (json["seed"].as_u64(), json["agents"].as_u64()),
        (Some(5), Some(20))
    );
    assert_eq!(json["mode"], "predictive");
    let other = dialer(&[
        "--agents",
        "20",
        "--hours",
        "1",
        "--seed",
        "6",
        "--json",
        "--no-chart",
    ]);
    assert_ne!(first.stdout, other.stdout);
}

#[test]
fn a_scenario_file_runs_with_a_table_and_a_chart() {
    let scenario = scratch("staffing.toml");
    std::fs::write(
        &scenario,
        r#"
        hours = 1
        mode = "progressive"
        [[contact_center.sim.queues]]
        queue_id = "q"
        agents = 12
        staffing = [{ at_secs = 1800, delta = 4 }]
        "#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let chart = scratch("shift.svg");
    let out = dialer(&[
        "--scenario",
        scenario.to_str().unwrap_or_default(),
        "--table-every",
        "15",
        "--chart",
        chart.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        10,
        "header, 4 rows, summary, 4 lines of notes:\n{stdout}"
    );
    assert!(lines[1].starts_with("0:00-0:15") && lines[1].trim_end().ends_with("12"));
    assert!(lines[4].starts_with("0:45-1:00") && lines[4].trim_end().ends_with("16"));
    assert!(
        lines[5].starts_with("progressive, 12 agents, 1 h, seed 1:"),
        "{}",
        lines[5]
    );
    // The columns people misread are explained under the table.
    assert!(
        lines[6].starts_with("dial ratio: calls ringing per logged-in agent, free or busy"),
        "{stdout}"
    );
    assert!(
        lines[9].contains("cap over its window (30 days) and the last 2 h, not in every row"),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(&chart).unwrap_or_else(|e| panic!("{e}"));
    assert!(svg.starts_with("<svg") && svg.contains("cap 3.0%"));
}

#[test]
fn a_bad_scenario_key_is_named() {
    let scenario = scratch("typo.toml");
    std::fs::write(
        &scenario,
        "[contact_center.sim.customers]\nanswer_prob = 0.3\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = dialer(&[
        "--scenario",
        scenario.to_str().unwrap_or_default(),
        "--no-chart",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("answer_prob"), "{stderr}");
}

#[test]
fn calling_rules_show_as_waits_refusals_and_their_cost_in_occupancy() {
    let scenario = repo("examples/calling-rules.toml");
    let args = [
        "--scenario",
        scenario.to_str().unwrap_or_default(),
        "--hours",
        "4",
        "--no-chart",
    ];
    let out = dialer(&[&args[..], &["--json"]].concat());
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    // The west coast's 40% wait until hour 3; the repeats are refused by the limit.
    assert!(json["window_waits"].as_u64() > Some(100), "{json}");
    assert!(
        json["refused"]["LIMIT_EXCEEDED"].as_u64() > Some(100),
        "{json}"
    );
    let (with, without) = (
        json["first_half_occupancy"].as_f64().unwrap_or_default(),
        json["without_rules"]["first_half_occupancy"]
            .as_f64()
            .unwrap_or_default(),
    );
    assert!(with < without, "{json}");

    let out = dialer(&args);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" window waits ("), "{stdout}");
    assert!(stdout.contains(" refused LIMIT_EXCEEDED"), "{stdout}");
    assert!(
        stdout.contains("\nwithout the calling rules: occupancy "),
        "{stdout}"
    );
}

/// The repository's root, where README.md, BENCHMARKS.md and examples/ live.
fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The scenario files under examples/.
fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("examples"))
        .unwrap_or_else(|e| panic!("examples/: {e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_scenario_runs() {
    let files = examples();
    assert!(files.len() >= 2, "examples/ holds {files:?}");
    for file in files {
        // A quarter hour: enough to load, validate and dial, short enough for the suite.
        let out = dialer(&[
            "--scenario",
            file.to_str().unwrap_or_default(),
            "--hours",
            "0.25",
            "--json",
            "--no-chart",
        ]);
        assert!(out.status.success(), "{}: {out:?}", file.display());
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(json["dials"].as_u64() > Some(0), "{}", file.display());
    }
}

/// The scenario paths a document names after `--scenario`, with `$f` expanded from the
/// words of the nearest `for f in WORDS;` before it (BENCHMARKS.md loops over scenarios).
fn scenarios_named_in(text: &str) -> Vec<String> {
    let mut named = Vec::new();
    for (at, _) in text.match_indices("--scenario ") {
        let path = text[at + "--scenario ".len()..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_end_matches(['`', ',', ')']);
        if path == "FILE" {
            continue; // the flag's description, not an example
        }
        if !path.contains("$f") {
            named.push(path.to_string());
            continue;
        }
        let words = text[..at]
            .rfind("for f in ")
            .map(|start| &text[start + "for f in ".len()..at])
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("{path}: no `for f in` before it"));
        named.extend(
            words
                .split_whitespace()
                .map(|word| path.replace("$f", word)),
        );
    }
    named
}

#[test]
fn every_scenario_the_docs_name_is_in_examples() {
    let mut named = Vec::new();
    for doc in ["README.md", "BENCHMARKS.md"] {
        let text = std::fs::read_to_string(repo(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        named.extend(scenarios_named_in(&text).into_iter().map(|p| (doc, p)));
    }
    // README's example and BENCHMARKS.md's two loops (2 and 4 files).
    assert!(named.len() >= 7, "{named:?}");
    for (doc, path) in named {
        assert!(
            path.starts_with("examples/") && repo(&path).is_file(),
            "{doc} names --scenario {path}, which is not a file in examples/"
        );
    }
}
