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
    /// Measure: `bench context|checks|diagnostics|docstrings|index|latency ...`.
    Bench {
        /// Which benchmark.
        kind: String,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
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
            Command::Bench { kind, args } => spackle::cli::bench(&kind, &args).await,
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
