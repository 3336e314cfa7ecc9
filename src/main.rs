//! The `spackle` command: `serve` (the language server, the default), `complete`, `context`,
//! `doctor` and `bench`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "spackle",
    version,
    about = "Fills holes in Python code with a language model, and checks its work"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Speak LSP over stdin and stdout (what editors start; the default).
    Serve {
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
    /// Complete the hole at FILE:LINE:COL (1-based, columns in characters) and print the completion.
    Complete {
        /// The cursor, as FILE:LINE:COL.
        location: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print what would be sent to the model for FILE:LINE:COL, without calling it.
    Context {
        /// The cursor, as FILE:LINE:COL.
        location: String,
    },
    /// Report the configuration in force, the workspace, and whether the model server answers.
    Doctor {
        /// A file or folder in the workspace to diagnose (default: the current folder).
        path: Option<std::path::PathBuf>,
    },
    /// Measure: `bench context|checks|diagnostics|docstrings|index|latency ...`;
    /// `spackle bench KIND --help` explains each.
    Bench {
        #[command(subcommand)]
        kind: Bench,
    },
}

/// The benchmarks; each takes its own arguments, and `--help` shows what they are.
#[derive(Subcommand)]
enum Bench {
    /// Contexts for holebench's cases, scored with `holebench.py score`.
    #[command(long_about = bench_help("context"))]
    Context {
        /// The benchmark's arguments, as above.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// The static checks on holebench's check cases, and on their packages whole.
    #[command(long_about = bench_help("checks"))]
    Checks {
        /// The benchmark's arguments, as above.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// The checks over every Python file of a folder, as the editor's diagnostics run them.
    #[command(long_about = bench_help("diagnostics"))]
    Diagnostics {
        /// The benchmark's arguments, as above.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// How well the docstring check tells real docstrings from defective ones.
    #[command(long_about = bench_help("docstrings"))]
    Docstrings {
        /// The benchmark's arguments, as above.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Index a large workspace, timed against the parse floor.
    #[command(long_about = bench_help("index"))]
    Index {
        /// The benchmark's arguments, as above.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// The server's own latency around a scripted model.
    #[command(long_about = bench_help("latency"))]
    Latency {
        /// The benchmark's arguments, as above.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
}

fn bench_help(kind: &str) -> &'static str {
    spackle::bench::help(kind).unwrap_or_default()
}

impl Bench {
    fn split(self) -> (&'static str, Vec<String>) {
        match self {
            Bench::Context { args } => ("context", args),
            Bench::Checks { args } => ("checks", args),
            Bench::Diagnostics { args } => ("diagnostics", args),
            Bench::Docstrings { args } => ("docstrings", args),
            Bench::Index { args } => ("index", args),
            Bench::Latency { args } => ("latency", args),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server logs to the editor's log; the other commands keep the terminal quiet.
    let default_filter = match cli.command {
        None | Some(Command::Serve { .. }) => "spackle=info",
        Some(_) => "spackle=warn",
    };
    spackle::cli::init_logging(default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("spackle: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve { stdio: true }) {
            Command::Serve { stdio: _ } => {
                Ok(spackle::lsp::serve(tokio::io::stdin(), tokio::io::stdout()).await)
            }
            Command::Complete { location, json } => spackle::cli::complete(&location, json).await,
            Command::Context { location } => spackle::cli::context(&location),
            Command::Doctor { path } => spackle::cli::doctor(path.as_deref()).await,
            Command::Bench { kind } => {
                let (kind, args) = kind.split();
                spackle::cli::bench(kind, &args).await
            }
        }
    });
    // The runtime may hold blocked reads of stdin; do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("spackle: {error:#}");
            ExitCode::FAILURE
        }
    }
}
