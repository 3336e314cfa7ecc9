//! `spackle bench checks`: not written yet.

/// Runs the benchmark with the command line's arguments (after `bench checks`).
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`spackle bench checks` is not implemented yet")
}
