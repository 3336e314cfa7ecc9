//! `spackle bench context`: not written yet.

/// Runs the benchmark with the command line's arguments (after `bench context`).
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`spackle bench context` is not implemented yet")
}
