//! `spackle bench latency`: not written yet.

/// Runs the benchmark with the command line's arguments (after `bench latency`).
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`spackle bench latency` is not implemented yet")
}
