//! # dialer
//!
//! A self-hosted outbound campaign dialer engine. Contact centers push dial requests into
//! campaigns over an API that is wire-compatible with Amazon Connect Outbound Campaigns
//! (`connectcampaigns` 2021-01-30); the engine keeps them in a durable Postgres queue.
//!
//! ## Layout
//! - [`config`]: the TOML file, environment overlays, validation.
//! - [`accounts`]: account ids, access keys, and which account owns what.
//! - [`app`]: wiring: database, services, HTTP server, shutdown.
//! - [`server`]: the HTTP listener: connection limit, header timeout, graceful shutdown.
//! - [`api`]: the AWS-wire HTTP edge (SigV4, throttling, errors, handlers).
//! - [`campaigns`]: campaign records and their lifecycle state machine.
//! - [`queue`]: dial requests, batch admission, expiry sweeping.
//! - [`engine`]: the scheduler that paces, claims and dispatches, and follows contacts.
//! - [`pacing`]: pure pacing decisions (progressive, predictive, agentless, VICIdial-style).
//! - [`contacts`]: the contact lifecycle state machine.
//! - [`contact_center`]: the boundary to the contact center, and the simulated one.
//! - [`instances`]: Amazon Connect instance onboarding records.
//! - [`db`]: connection, migrations, the embedded Postgres cluster.
//! - [`metrics`]: metric names and the Prometheus exporter.
//! - [`clock`]: time as an input.
//! - [`logging`]: log output (text or JSON) and its reloadable filter.
//! - [`reload`]: config reload on SIGHUP or file change.
//! - [`sms`]: SMS templates and pacing.
//! - [`supervisor`]: keeps the background services running, restarting failed ones.
//! - [`bench`]: the benchmarks behind `dialer bench`.
//! - [`demo`]: `dialer demo`, a campaign run end to end on the embedded defaults.
//! - [`client`]: a signing client of the API for the demo, benchmarks and operator commands.
//! - [`inspect`]: `dialer campaigns`, `progress` and `request`: a running daemon's campaigns,
//!   progress and request timelines, through its API.
//! - [`whatif`]: `dialer simulate`, the what-if simulator: the engine's pacing on a virtual clock.
#![warn(missing_docs)]

pub mod accounts;
pub mod api;
pub mod app;
pub mod bench;
pub mod campaigns;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod contact_center;
pub mod contacts;
pub mod db;
pub mod demo;
pub mod engine;
pub mod inspect;
pub mod instances;
pub mod logging;
pub mod metrics;
pub mod pacing;
pub mod queue;
pub mod reload;
pub mod rules;
pub mod server;
pub mod sms;
pub mod supervisor;
pub mod whatif;
