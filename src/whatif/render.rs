//! A report for people: the interval table, the summary line and the SVG chart.
//!
//! Pure: strings in, strings out. The chart is hand-written SVG (three panels sharing the
//! time axis: occupancy, abandonment with the cap line, dial ratio), so it needs no crate
//! and opens in any browser.

use std::fmt::Write;

use serde::Serialize;

use super::shift::{Minute, Report};
use crate::pacing::PacingConfig;

/// Figures of a stretch of the shift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Minutes from the start of the shift to the interval's start.
    pub start_minute: usize,
    /// Its length in minutes (the last may be shorter).
    pub minutes: usize,
    /// Agent time on contacts over logged-in agent time.
    pub occupancy: f64,
    /// Abandons over person answers of calls answered in it.
    pub abandonment_rate: f64,
    /// Mean dial ratio.
    pub dial_ratio: f64,
    /// Contacts created.
    pub dials: u64,
    /// Person answers.
    pub answers: u64,
    /// Abandons.
    pub abandons: u64,
    /// Agents logged in at its end.
    pub agents: u32,
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// The shift cut into intervals of `every` minutes (at least one).
pub fn intervals(minutes: &[Minute], every: usize) -> Vec<Interval> {
    minutes
        .chunks(every.max(1))
        .enumerate()
        .map(|(i, chunk)| {
            let sum = |f: fn(&Minute) -> f64| chunk.iter().map(f).sum::<f64>();
            let count = |f: fn(&Minute) -> u64| chunk.iter().map(f).sum::<u64>();
            let answers = count(|m| m.answers);
            let abandons = count(|m| m.abandons);
            Interval {
                start_minute: i * every.max(1),
                minutes: chunk.len(),
                occupancy: ratio(sum(|m| m.busy_secs), sum(|m| m.online_secs)),
                abandonment_rate: ratio(abandons as f64, answers as f64),
                dial_ratio: ratio(sum(|m| m.dial_ratio_sum), sum(|m| f64::from(m.ticks))),
                dials: count(|m| m.dials),
                answers,
                abandons,
                agents: chunk.last().map_or(0, |m| m.agents),
            }
        })
        .collect()
}

fn clock(minute: usize) -> String {
    format!("{}:{:02}", minute / 60, minute % 60)
}

/// The interval table, one row per interval.
pub fn table(intervals: &[Interval]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:>9} {:>11} {:>10} {:>7} {:>7} {:>8} {:>6}",
        "time", "occupancy", "abandonment", "dial ratio", "dials", "answers", "abandons", "agents"
    );
    for i in intervals {
        let span = format!(
            "{}-{}",
            clock(i.start_minute),
            clock(i.start_minute + i.minutes)
        );
        let _ = writeln!(
            out,
            "{span:<13} {:>9.3} {:>10.2}% {:>10.2} {:>7} {:>7} {:>8} {:>6}",
            i.occupancy,
            i.abandonment_rate * 100.0,
            i.dial_ratio,
            i.dials,
            i.answers,
            i.abandons,
            i.agents
        );
    }
    out
}

/// One line with the shift's result.
pub fn summary(report: &Report) -> String {
    let mut retries = if report.retries > 0 {
        format!(", {} retries", report.retries)
    } else {
        String::new()
    };
    if report.window_waits > 0 {
        let _ = write!(
            retries,
            ", {} window waits ({} still waiting at the end)",
            report.window_waits, report.waiting_at_end
        );
    }
    for (reason, n) in &report.refused {
        let _ = write!(retries, ", {n} refused {reason}");
    }
    format!(
        "{mode}, {agents} agents, {hours} h, seed {seed}: occupancy {occ:.3}, abandonment {ab:.2}% \
         ({abandons}/{answers}; halves {h1:.2}% / {h2:.2}%), {dials} dials, dial ratio {ratio:.2}, \
         mean agent idle {idle:.1} s per contact{retries}",
        mode = report.mode.as_str(),
        agents = report.agents,
        hours = report.hours,
        seed = report.seed,
        occ = report.occupancy,
        ab = report.abandonment_rate * 100.0,
        abandons = report.abandons,
        answers = report.human_answers,
        h1 = report.first_half_abandonment_rate * 100.0,
        h2 = report.second_half_abandonment_rate * 100.0,
        dials = report.dials,
        ratio = report.mean_dial_ratio,
        idle = report.mean_agent_idle_secs,
    )
}

/// The same shift without the calling rules, to compare occupancy with.
pub fn without_rules(report: &Report) -> String {
    format!(
        "without the calling rules: occupancy {occ:.3} (halves {h1:.3} / {h2:.3}), {dials} dials",
        occ = report.occupancy,
        h1 = report.first_half_occupancy,
        h2 = report.second_half_occupancy,
        dials = report.dials,
    )
}

/// A length of time as people say it: `30 days`, `2 h`, `90 s`.
fn span(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s => format!("{s} s"),
    }
}

/// What the table's dial ratio and abandonment columns mean, printed under it: both are
/// easily misread (a ratio under 1 looks like too little dialing, a row over the cap like
/// a breach).
pub fn notes(report: &Report, pacing: &PacingConfig) -> String {
    let recent = match pacing.recent_window_secs {
        0 => String::new(),
        secs => format!(" and the last {}", span(secs)),
    };
    format!(
        "dial ratio: calls ringing per logged-in agent, free or busy (not per free agent), \
         averaged;\n  under 1 while most agents are on a call as the next dials ring.\n\
         abandonment: abandons / person answers of the calls answered in that row. Predictive \
         pacing\n  holds the {cap:.1}% cap over its window ({window}){recent}, not in every row.\n",
        cap = report.abandonment_target * 100.0,
        window = span(pacing.evaluation_window_secs),
    )
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 50.0;
const PANEL: f64 = 170.0;
const GAP: f64 = 45.0;
/// Points the chart aims for along the time axis; minutes are pooled to stay near it.
const CHART_POINTS: usize = 120;

/// A panel: a vertical range and where it sits.
struct Panel {
    top: f64,
    max: f64,
}

impl Panel {
    fn y(&self, value: f64) -> f64 {
        self.top + PANEL * (1.0 - (value / self.max).clamp(0.0, 1.0))
    }
}

fn polyline(out: &mut String, points: &[(f64, f64)], style: &str) {
    let coords: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let _ = writeln!(
        out,
        r#"<polyline fill="none" {style} points="{}"/>"#,
        coords.join(" ")
    );
}

/// Draws a panel's frame, title and horizontal grid with labels.
fn frame(out: &mut String, panel: &Panel, title: &str, ticks: &[(f64, String)]) {
    let plot_width = WIDTH - LEFT - RIGHT;
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{plot_width}" height="{PANEL}" fill="#fafafa" stroke="#999"/>"##,
        top = panel.top
    );
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{y:.1}" font-size="13" font-weight="bold">{title}</text>"#,
        y = panel.top - 8.0
    );
    for (value, label) in ticks {
        let y = panel.y(*value);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="#e2e2e2"/><text x="{lx}" y="{ty:.1}" font-size="11" text-anchor="end">{label}</text>"##,
            x2 = WIDTH - RIGHT,
            lx = LEFT - 6.0,
            ty = y + 4.0
        );
    }
}

/// The SVG chart of occupancy, abandonment (per stretch and shift to date, with the cap
/// line at `report.abandonment_target`) and dial ratio over the shift.
pub fn chart(report: &Report) -> String {
    let minutes = &report.minutes;
    let pool = minutes.len().div_ceil(CHART_POINTS).max(1);
    let stretches = intervals(minutes, pool);
    let total_minutes = minutes.len().max(1) as f64;
    let plot_width = WIDTH - LEFT - RIGHT;
    let x = |minute: f64| LEFT + plot_width * minute / total_minutes;
    let mid = |i: &Interval| x(i.start_minute as f64 + i.minutes as f64 / 2.0);

    let mut to_date = Vec::with_capacity(stretches.len());
    let (mut answers, mut abandons) = (0u64, 0u64);
    for i in &stretches {
        answers += i.answers;
        abandons += i.abandons;
        to_date.push(ratio(abandons as f64, answers as f64));
    }
    let target = report.abandonment_target;
    let abandon_max = [2.0 * target, target + 0.01]
        .into_iter()
        .chain(to_date.iter().map(|r| r * 1.2))
        .fold(0.0, f64::max);
    let ratio_max = stretches
        .iter()
        .map(|i| i.dial_ratio)
        .fold(1.0, f64::max)
        .ceil();

    let occupancy = Panel { top: TOP, max: 1.0 };
    let abandonment = Panel {
        top: TOP + PANEL + GAP,
        max: abandon_max,
    };
    let dial_ratio = Panel {
        top: TOP + 2.0 * (PANEL + GAP),
        max: ratio_max,
    };
    let height = dial_ratio.top + PANEL + 45.0;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">dialer simulate: {}</text>"#,
        summary_title(report)
    );

    let quarters: Vec<(f64, String)> = (0..=4)
        .map(|q| (q as f64 / 4.0, format!("{:.2}", q as f64 / 4.0)))
        .collect();
    frame(&mut out, &occupancy, "occupancy", &quarters);
    let points: Vec<(f64, f64)> = stretches
        .iter()
        .map(|i| (mid(i), occupancy.y(i.occupancy)))
        .collect();
    polyline(&mut out, &points, r##"stroke="#1f77b4" stroke-width="2""##);

    let steps: Vec<(f64, String)> = (0..=4)
        .map(|q| {
            let v = abandon_max * q as f64 / 4.0;
            (v, format!("{:.1}%", v * 100.0))
        })
        .collect();
    frame(
        &mut out,
        &abandonment,
        "abandonment (thin: per stretch, thick: shift to date; the cap binds the window, not a stretch)",
        &steps,
    );
    let points: Vec<(f64, f64)> = stretches
        .iter()
        .map(|i| (mid(i), abandonment.y(i.abandonment_rate)))
        .collect();
    polyline(&mut out, &points, r##"stroke="#f4a582" stroke-width="1""##);
    let points: Vec<(f64, f64)> = stretches
        .iter()
        .zip(&to_date)
        .map(|(i, r)| (mid(i), abandonment.y(*r)))
        .collect();
    polyline(&mut out, &points, r##"stroke="#b2182b" stroke-width="2""##);
    let cap = abandonment.y(target);
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{cap:.1}" x2="{x2}" y2="{cap:.1}" stroke="#d62728" stroke-dasharray="6,4"/><text x="{tx}" y="{ty:.1}" font-size="11" fill="#d62728" text-anchor="end">cap {pct:.1}%</text>"##,
        x2 = WIDTH - RIGHT,
        tx = WIDTH - RIGHT - 4.0,
        ty = cap - 4.0,
        pct = target * 100.0
    );

    let steps: Vec<(f64, String)> = (0..=4)
        .map(|q| {
            let v = ratio_max * q as f64 / 4.0;
            (v, format!("{v:.2}"))
        })
        .collect();
    frame(
        &mut out,
        &dial_ratio,
        "dial ratio (calls ringing per logged-in agent, free or busy)",
        &steps,
    );
    let points: Vec<(f64, f64)> = stretches
        .iter()
        .map(|i| (mid(i), dial_ratio.y(i.dial_ratio)))
        .collect();
    polyline(&mut out, &points, r##"stroke="#2ca02c" stroke-width="2""##);

    let axis = dial_ratio.top + PANEL;
    let hours = total_minutes / 60.0;
    let step = if hours > 12.0 {
        (hours / 8.0).ceil()
    } else {
        1.0
    };
    let mut hour = 0.0;
    while hour <= hours + 1e-9 {
        let hx = x(hour * 60.0);
        let _ = writeln!(
            out,
            r##"<line x1="{hx:.1}" y1="{axis}" x2="{hx:.1}" y2="{tick}" stroke="#999"/><text x="{hx:.1}" y="{ty}" font-size="11" text-anchor="middle">{hour}h</text>"##,
            tick = axis + 5.0,
            ty = axis + 18.0
        );
        hour += step;
    }
    let _ = writeln!(
        out,
        r#"<text x="{cx}" y="{ty}" font-size="12" text-anchor="middle">hours into the shift</text>"#,
        cx = LEFT + plot_width / 2.0,
        ty = axis + 36.0
    );
    out.push_str("</svg>\n");
    out
}

fn summary_title(report: &Report) -> String {
    format!(
        "{}, {} agents, seed {}: occupancy {:.3}, abandonment {:.2}%",
        report.mode.as_str(),
        report.agents,
        report.seed,
        report.occupancy,
        report.abandonment_rate * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatif::scenario::Mode;

    fn minute(dials: u64, answers: u64, abandons: u64, busy: f64) -> Minute {
        Minute {
            dials,
            answers,
            abandons,
            connects: answers - abandons,
            busy_secs: busy,
            online_secs: 600.0,
            dial_ratio_sum: 30.0,
            ticks: 60,
            agents: 10,
        }
    }

    fn report(minutes: Vec<Minute>) -> Report {
        Report {
            retries: 0,
            requests: 0,
            recipients: 0,
            window_waits: 0,
            waiting_at_end: 0,
            refused: Default::default(),
            mode: Mode::Predictive,
            seed: 1,
            hours: 1.0,
            agents: 10,
            answer_rate: 0.25,
            mean_handle_secs: 120.0,
            abandonment_target: 0.03,
            dials: 0,
            human_answers: 0,
            machine_answers: 0,
            connected: 0,
            abandons: 0,
            abandonment_rate: 0.02,
            first_half_abandonment_rate: 0.0,
            second_half_abandonment_rate: 0.0,
            occupancy: 0.9,
            first_half_occupancy: 0.0,
            second_half_occupancy: 0.0,
            mean_agent_idle_secs: 0.0,
            mean_agents_logged_in: 10.0,
            mean_dial_ratio: 0.5,
            peak_excess_dials: 0,
            minutes,
        }
    }

    #[test]
    fn intervals_pool_minutes() {
        let minutes = vec![
            minute(10, 4, 0, 600.0),
            minute(20, 6, 1, 300.0),
            minute(5, 0, 0, 0.0),
        ];
        let cut = intervals(&minutes, 2);
        assert_eq!(cut.len(), 2);
        assert_eq!((cut[0].start_minute, cut[0].minutes), (0, 2));
        assert_eq!((cut[0].dials, cut[0].answers, cut[0].abandons), (30, 10, 1));
        assert!((cut[0].occupancy - 0.75).abs() < 1e-12);
        assert!((cut[0].abandonment_rate - 0.1).abs() < 1e-12);
        assert!((cut[0].dial_ratio - 0.5).abs() < 1e-12);
        assert_eq!((cut[1].start_minute, cut[1].minutes), (2, 1));
        assert_eq!(cut[1].abandonment_rate, 0.0, "no answers, no rate");
    }

    #[test]
    fn the_table_has_a_row_per_interval() {
        let minutes = vec![minute(10, 4, 0, 600.0); 90];
        let text = table(&intervals(&minutes, 30));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("time"));
        assert!(lines[3].starts_with("1:00-1:30"), "{}", lines[3]);
        assert!(lines[3].contains("1.000"), "{}", lines[3]);
    }

    #[test]
    fn the_chart_is_svg_with_three_series_and_the_cap() {
        let minutes = vec![minute(10, 40, 1, 540.0); 480];
        let svg = chart(&report(minutes));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("cap 3.0%"));
        assert!(svg.contains(">8h</text>"));
        // 480 minutes pool into 120 points per series.
        let first = svg.split("points=\"").nth(1).unwrap_or_default();
        let points = first.split('"').next().unwrap_or_default();
        assert_eq!(points.split(' ').count(), 120);
    }

    #[test]
    fn the_notes_explain_the_dial_ratio_and_the_cap_window() {
        let text = notes(&report(Vec::new()), &PacingConfig::default());
        assert!(
            text.starts_with("dial ratio: calls ringing per logged-in agent"),
            "{text}"
        );
        assert!(
            text.contains("holds the 3.0% cap over its window (30 days) and the last 2 h, not"),
            "{text}"
        );
        let off = PacingConfig {
            recent_window_secs: 0,
            evaluation_window_secs: 3_600,
            ..PacingConfig::default()
        };
        assert!(notes(&report(Vec::new()), &off).contains("over its window (1 h), not"));
        assert_eq!(span(90), "90 s");
    }

    #[test]
    fn the_summary_names_mode_and_figures() {
        let line = summary(&report(Vec::new()));
        assert!(line.starts_with("predictive, 10 agents, 1 h, seed 1: occupancy 0.900"));
        assert!(line.contains("abandonment 2.00%"));
        assert!(!line.contains("waits") && !line.contains("refused"));
    }

    #[test]
    fn the_summary_gives_waits_and_refusals_and_the_baseline_its_occupancy() {
        let mut with_rules = report(Vec::new());
        with_rules.window_waits = 40;
        with_rules.waiting_at_end = 3;
        with_rules.refused = [("LIMIT_EXCEEDED".to_string(), 12)].into();
        let line = summary(&with_rules);
        assert!(
            line.ends_with(
                ", 40 window waits (3 still waiting at the end), 12 refused LIMIT_EXCEEDED"
            ),
            "{line}"
        );
        assert_eq!(
            without_rules(&report(Vec::new())),
            "without the calling rules: occupancy 0.900 (halves 0.000 / 0.000), 0 dials"
        );
    }
}
