//! `spackle bench index`: not written yet.

/// Runs the benchmark with the command line's arguments (after `bench index`).
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`spackle bench index` is not implemented yet")
}
