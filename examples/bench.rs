//! A stand-in for `spackle bench ...` until main.rs wires the subcommands: `bench context|index ARGS`.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("context") => spackle::bench::context::run(&args[1..]),
        Some("index") => spackle::bench::index::run(&args[1..]),
        _ => anyhow::bail!("usage: bench context|index ARGS"),
    }
}
