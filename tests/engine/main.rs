//! Engine invariant tests against real Postgres: the five invariants of the dialing engine
//! (see `src/engine/mod.rs`), each driven by daemons in-process or as real `dialer serve`
//! processes killed with SIGKILL, with the simulated contact center injecting faults. Contacts
//! are counted in the simulator's own ClientToken ledger, which outlives every daemon.

mod agentless;
mod checker;
#[path = "../common/mod.rs"]
mod common;
mod connect;
mod control;
mod dial_by;
mod duplicates;
mod events;
mod expiry;
mod harness;
mod limits;
mod outage;
mod pacing;
mod quiet;
mod restart;
mod retention;
mod retries;
mod rules;
mod schedule;
mod sms;
mod supervision;
mod takeover;
