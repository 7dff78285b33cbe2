//! Benchmarks behind `dialer bench`. Each prints its figures and, as its last line, a ratio
//! against a baseline measured in the same run, so results compare across machines.

pub mod ingest;

use clap::Subcommand;

/// A benchmark to run.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// PutDialRequestBatch over signed HTTP versus the same rows inserted with plain SQL.
    Ingest(ingest::IngestArgs),
}

/// Runs a benchmark.
pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(args).await,
    }
}

/// Latency percentiles of a set of samples, in milliseconds.
pub fn percentiles_ms(samples: &mut [f64]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] * 1000.0;
    (at(0.50), at(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_ranks() {
        let mut samples: Vec<f64> = (1..=100).map(|i| i as f64 / 1000.0).collect();
        let (p50, p99) = percentiles_ms(&mut samples);
        assert!((p50 - 51.0).abs() < 1.01, "{p50}");
        assert!((p99 - 99.0).abs() < 1.01, "{p99}");
        assert_eq!(percentiles_ms(&mut []), (0.0, 0.0));
    }
}
