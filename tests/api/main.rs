//! API integration tests: a real daemon on a fresh Postgres database per test.

mod accounts;
mod campaigns;
mod cli;
mod connect_events;
mod demo;
mod dial_requests;
mod edge;
#[path = "../common/mod.rs"]
mod helpers;
mod hostile;
mod rules;
mod startup;
mod status;
