//! The command-line jobs behind `spackle complete`, `context`, `doctor` and `bench`.
//!
//! Results go to stdout; messages for the person at the terminal go to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use crate::config::{Config, ConfigWarning, Layers, CONFIG_FILE_NAME};
use crate::engine::{Engine, EngineError, Prepared, UnavailableModel};
use crate::index::environment::Environment;
use crate::index::{Index, IndexOptions};
use crate::llm::{self, ModelError, RequestKind};
use crate::store::Document;

/// Exit code when the model could not be asked (unreachable, refused, misconfigured).
const EXIT_NO_MODEL: u8 = 3;

/// Logs go to stderr; `SPACKLE_LOG` sets the filter (default `default_filter`, such as `spackle=info`).
pub fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPACKLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// A cursor given on the command line as `FILE:LINE:COL`, 1-based, the column in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

pub fn parse_location(text: &str) -> anyhow::Result<Location> {
    let usage = || format!("expected FILE:LINE:COL (1-based), got `{text}`");
    let mut parts = text.rsplitn(3, ':');
    let column = parts
        .next()
        .and_then(|c| c.parse::<usize>().ok())
        .with_context(usage)?;
    let line = parts
        .next()
        .and_then(|l| l.parse::<usize>().ok())
        .with_context(usage)?;
    let file = parts.next().filter(|f| !f.is_empty()).with_context(usage)?;
    if line == 0 || column == 0 {
        bail!("{}: lines and columns count from 1", usage());
    }
    Ok(Location {
        file: PathBuf::from(file),
        line,
        column,
    })
}

/// The byte offset of a 1-based line and character column, clamped into the text.
pub fn offset_of_location(text: &str, line: usize, column: usize) -> usize {
    let mut line_start = 0;
    for _ in 1..line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map(|i| line_start + i)
        .unwrap_or(text.len());
    let line_text = text[line_start..line_end].trim_end_matches('\r');
    let bytes: usize = line_text.chars().take(column - 1).map(char::len_utf8).sum();
    line_start + bytes
}

/// The workspace root of a path: the nearest folder above it with `spackle.toml`, `.git`,
/// `pyproject.toml`, `setup.py` or `setup.cfg`; else, when the path is in a package, the folder
/// above its topmost package; else the current directory when the path is under it; else the
/// path's own folder. A root that is itself a package gives way to the folder above its topmost
/// package, where the package's absolute imports resolve.
pub fn workspace_root(path: &Path) -> PathBuf {
    let current = std::env::current_dir()
        .ok()
        .and_then(|dir| std::fs::canonicalize(dir).ok());
    workspace_root_from(path, current.as_deref())
}

fn workspace_root_from(path: &Path, current_dir: Option<&Path>) -> PathBuf {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let start = if absolute.is_dir() {
        absolute.clone()
    } else {
        absolute.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    for folder in start.ancestors() {
        if [
            CONFIG_FILE_NAME,
            ".git",
            "pyproject.toml",
            "setup.py",
            "setup.cfg",
        ]
        .iter()
        .any(|marker| folder.join(marker).exists())
        {
            return crate::index::walk::import_root(folder);
        }
    }
    let above_packages = crate::index::walk::import_root(&start);
    if above_packages != start {
        return above_packages;
    }
    match current_dir {
        Some(current) if start.starts_with(current) => current.to_path_buf(),
        _ => start,
    }
}

/// The configuration for a workspace, from `spackle.toml` and the environment.
pub fn load_config(root: &Path) -> (Config, Vec<ConfigWarning>) {
    let mut warnings = Vec::new();
    let layers = Layers::discover(Some(root), &mut warnings);
    let config = layers.resolve(&mut warnings);
    (config, warnings)
}

fn print_warnings(warnings: &[ConfigWarning]) {
    for warning in warnings {
        eprintln!("spackle: configuration: {warning}");
    }
}

/// Reads a source file; non-UTF-8 bytes are an error that names the file.
fn read_source(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|error| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            error.utf8_error().valid_up_to()
        )
    })
}

struct Job {
    config: Config,
    document: Document,
    offset: usize,
    index: Index,
}

fn load_job(location: &str) -> anyhow::Result<Job> {
    let location = parse_location(location)?;
    let text = read_source(&location.file)?;
    let root = workspace_root(&location.file);
    let (config, warnings) = load_config(&root);
    print_warnings(&warnings);
    let offset = offset_of_location(&text, location.line, location.column);
    let path = std::fs::canonicalize(&location.file).unwrap_or(location.file.clone());
    let index = index_workspace(&root);
    let mut index = index;
    index.update_buffer(&path, &text);
    let mut document = Document::new(
        path.display().to_string(),
        Some(path),
        0,
        &text,
        config.completion.max_file_bytes,
    );
    document.ensure_parsed();
    Ok(Job {
        config,
        document,
        offset,
        index,
    })
}

/// Indexes a workspace in this thread, from the persisted index where files did not change.
pub fn index_workspace(root: &Path) -> Index {
    let environment = std::sync::Arc::new(Environment::discover(root, &[]));
    let (index, report) = Index::build(
        root.to_path_buf(),
        environment,
        &IndexOptions::default(),
        &mut |_| {},
    );
    tracing::info!(
        files = report.files,
        parsed = report.parsed,
        cached = report.from_cache,
        "workspace indexed"
    );
    for (path, reason) in &report.skipped {
        tracing::info!(path = %path.display(), %reason, "skipped while indexing");
    }
    index
}

/// `spackle context FILE:LINE:COL`.
pub fn context(location: &str) -> anyhow::Result<ExitCode> {
    let job = load_job(location)?;
    let engine = Engine::new(
        job.config.clone(),
        std::sync::Arc::new(UnavailableModel {
            error: ModelError::Config {
                detail: "no model is needed to show the context".into(),
            },
        }),
    );
    let prepared = engine
        .prepare(&job.document, job.offset, Some(&job.index))
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut out = std::io::stdout().lock();
    write_prepared(&mut out, &prepared)?;
    match llm::render_prompt(&job.config.model, &prepared.request) {
        Ok(prompt) => {
            writeln!(
                out,
                "── the prompt as {} receives it ({} bytes)",
                job.config.model.backend.name(),
                prompt.len()
            )?;
            writeln!(out, "{prompt}")?;
        }
        Err(error) => eprintln!("spackle: {}", error.user_message()),
    }
    Ok(ExitCode::SUCCESS)
}

fn write_prepared(out: &mut impl Write, prepared: &Prepared) -> std::io::Result<()> {
    if let Some(context) = &prepared.context {
        writeln!(out, "── the typed hole")?;
        write!(out, "{}", context.describe())?;
    }
    for (rank, part) in prepared.parts.iter().enumerate() {
        writeln!(
            out,
            "── {} · #{} · {} bytes · {}",
            part.name,
            rank + 1,
            part.text.len(),
            part.why
        )?;
        writeln!(out, "{}", part.text)?;
    }
    let form = match &prepared.request.kind {
        RequestKind::Infill { .. } => "fill-in-the-middle",
        RequestKind::Chat { .. } => "chat",
    };
    writeln!(
        out,
        "── request: {form}, at most {} tokens, temperature {}",
        prepared.request.max_tokens, prepared.request.temperature
    )
}

/// `spackle complete FILE:LINE:COL`. With `json`, stdout gets one JSON object whatever happens:
/// the completions, or an error object (the message goes to stderr too).
pub async fn complete(location: &str, json: bool) -> anyhow::Result<ExitCode> {
    match complete_or_fail(location, json).await {
        Err(error) if json => {
            eprintln!("spackle: {error:#}");
            let value = serde_json::json!({
                "completions": [],
                "error": {"kind": "failed", "message": format!("{error:#}")},
            });
            writeln!(std::io::stdout().lock(), "{value}")?;
            Ok(ExitCode::FAILURE)
        }
        result => result,
    }
}

async fn complete_or_fail(location: &str, json: bool) -> anyhow::Result<ExitCode> {
    let job = load_job(location)?;
    let engine = crate::engine::engine_for(job.config.clone());
    let outcome = match engine
        .complete(&job.document, job.offset, Some(&job.index), &|| true)
        .await
    {
        Ok(outcome) => outcome,
        Err(EngineError::Model(error)) if json => {
            eprintln!("spackle: {}", error.user_message());
            writeln!(std::io::stdout().lock(), "{}", json_error(&error))?;
            return Ok(ExitCode::from(EXIT_NO_MODEL));
        }
        Err(EngineError::Model(error)) => return no_model(&job, &error),
        Err(error) => bail!("{error}"),
    };
    let mut out = std::io::stdout().lock();
    if json {
        let items: Vec<_> = outcome
            .completions
            .iter()
            .map(|c| serde_json::json!({"text": c.text, "offset": c.start, "verification": c.verification}))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({"completions": items, "model_ms": outcome.model_ms})
        )?;
    } else if let Some(best) = outcome.completions.first() {
        writeln!(out, "{}", best.text)?;
    }
    for dropped in &outcome.dropped {
        eprintln!("spackle: dropped a candidate: {}", dropped.reason);
    }
    if outcome.completions.is_empty() {
        eprintln!("spackle: the model answered, but no candidate passed the checks");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// What `complete --json` prints when the model could not be asked: no completions, and the
/// error's kind and message.
pub fn json_error(error: &ModelError) -> serde_json::Value {
    let kind = match error {
        ModelError::Unreachable { .. } => "unreachable",
        ModelError::Unauthorized { .. } => "unauthorized",
        ModelError::RateLimited { .. } => "rate_limited",
        ModelError::ModelNotFound { .. } => "model_not_found",
        ModelError::Timeout { .. } => "timeout",
        ModelError::Server { .. } => "server",
        ModelError::BadResponse { .. } => "bad_response",
        ModelError::Redirected { .. } => "redirected",
        ModelError::Config { .. } => "config",
    };
    serde_json::json!({
        "completions": [],
        "error": {"kind": kind, "message": error.user_message()},
    })
}

/// Explains why there is no model and shows what would have been sent.
fn no_model(job: &Job, error: &ModelError) -> anyhow::Result<ExitCode> {
    eprintln!("spackle: {}", error.user_message());
    eprintln!("spackle: (configure the model in {CONFIG_FILE_NAME} or with SPACKLE_BACKEND, SPACKLE_ENDPOINT, SPACKLE_MODEL; see the README)");
    eprintln!("spackle: here is what spackle would have sent:");
    let engine = Engine::new(
        job.config.clone(),
        std::sync::Arc::new(UnavailableModel {
            error: ModelError::Config {
                detail: "no model is needed to show the context".into(),
            },
        }),
    );
    if let Ok(prepared) = engine.prepare(&job.document, job.offset, Some(&job.index)) {
        write_prepared(&mut std::io::stdout().lock(), &prepared)?;
    }
    Ok(ExitCode::from(EXIT_NO_MODEL))
}

/// `spackle doctor [PATH]`.
pub async fn doctor(path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let start = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let root = workspace_root(&start);
    let (config, warnings) = load_config(&root);
    let mut out = std::io::stdout().lock();
    writeln!(out, "spackle {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "workspace: {}", root.display())?;
    let file = root.join(CONFIG_FILE_NAME);
    writeln!(
        out,
        "configuration file: {}",
        if file.exists() {
            file.display().to_string()
        } else {
            "none (defaults)".into()
        }
    )?;
    let environment = Environment::discover(&root, &[]);
    if environment.roots().is_empty() {
        writeln!(
            out,
            "installed packages: none found (.venv, venv, $VIRTUAL_ENV): their imports do not \
             resolve"
        )?;
    } else {
        for folder in environment.roots() {
            writeln!(out, "installed packages: {}", folder.display())?;
        }
        let vocabulary = environment.vocabulary();
        if vocabulary.is_complete() {
            writeln!(
                out,
                "installed packages' names: {} (members of untyped values are judged by them)",
                vocabulary.len()
            )?;
        } else {
            writeln!(
                out,
                "installed packages' names: too much Python to read; members of untyped values \
                 are not judged"
            )?;
        }
    }
    for (variable, value) in crate::config::environment_overrides() {
        let value = if variable == "SPACKLE_ENDPOINT" {
            llm::http::redact_url(&value)
        } else {
            value
        };
        writeln!(out, "environment: {variable}={value}")?;
    }
    for warning in &warnings {
        writeln!(out, "warning: {warning}")?;
    }
    writeln!(
        out,
        "model: backend {}, endpoint {}, name {}",
        config.model.backend.name(),
        llm::http::redact_url(&config.model.endpoint()),
        config.model.name
    )?;
    match config.model.api_key_env() {
        Some(variable) => {
            let state = if config.model.api_key().is_some() {
                "set"
            } else {
                "NOT set"
            };
            writeln!(out, "api key: from ${variable} ({state})")?;
        }
        None => writeln!(out, "api key: none needed")?,
    }
    let checker = config.actions.external_checker;
    if checker != crate::config::ExternalChecker::None {
        match crate::actions::external::find(checker, Some(&root)) {
            Ok(found) => writeln!(out, "external checker: {}", found.program.display())?,
            Err(reason) => writeln!(
                out,
                "external checker: {reason}; fixes are checked with spackle's own checks"
            )?,
        }
    }
    drop(out);
    let probe = llm::probe(&config.model).await;
    let mut out = std::io::stdout().lock();
    match probe {
        Ok(description) => {
            writeln!(out, "model server: ok, {description}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            writeln!(out, "model server: {}", error.user_message())?;
            Ok(ExitCode::from(EXIT_NO_MODEL))
        }
    }
}

/// `spackle bench KIND ARGS...`; `spackle bench KIND --help` prints that benchmark's help.
pub async fn bench(kind: &str, args: &[String]) -> anyhow::Result<ExitCode> {
    let Some(help) = crate::bench::help(kind) else {
        let kinds: Vec<&str> = crate::bench::KINDS.iter().map(|(name, _)| *name).collect();
        bail!(
            "unknown benchmark `{kind}`: expected one of {}",
            kinds.join(", ")
        );
    };
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        writeln!(std::io::stdout().lock(), "usage: {help}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let args = args.to_vec();
    let kind = kind.to_string();
    // Benchmarks do blocking work (file reads, parsing); keep it off the async workers.
    tokio::task::spawn_blocking(move || match kind.as_str() {
        "context" => crate::bench::context::run(&args),
        "diagnostics" => crate::bench::diagnostics::run(&args),
        "checks" => crate::bench::checks::run(&args),
        "index" => crate::bench::index::run(&args),
        "latency" => crate::bench::latency::run(&args),
        "docstrings" => crate::bench::docstrings::run(&args),
        other => bail!("unknown benchmark `{other}`"),
    })
    .await
    .context("the benchmark panicked")??;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_based_and_allow_colons_in_paths() {
        let location = parse_location("C:/x/a.py:3:5").unwrap();
        assert_eq!(
            location,
            Location {
                file: "C:/x/a.py".into(),
                line: 3,
                column: 5
            }
        );
        assert!(parse_location("a.py:0:1").is_err());
        assert!(parse_location("a.py:3").is_err());
    }

    #[test]
    fn the_root_of_a_package_without_markers_is_the_folder_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let proj = std::fs::canonicalize(dir.path()).unwrap().join("proj");
        for file in ["shop/__init__.py", "shop/models.py", "tools/run.py"] {
            let path = proj.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let model = proj.join("shop/models.py");
        assert_eq!(workspace_root_from(&model, None), proj);
        assert_eq!(workspace_root_from(&model, Some(&proj.join("shop"))), proj);
        let script = proj.join("tools/run.py");
        assert_eq!(workspace_root_from(&script, Some(&proj)), proj);
        assert_eq!(workspace_root_from(&script, None), proj.join("tools"));
        std::fs::write(proj.join("shop/pyproject.toml"), "").unwrap();
        assert_eq!(
            workspace_root_from(&model, None),
            proj,
            "a marker inside a package"
        );
    }

    #[test]
    fn location_offsets_count_characters_and_clamp() {
        let text = "é = 1\nab\n";
        assert_eq!(offset_of_location(text, 1, 2), 2);
        assert_eq!(offset_of_location(text, 2, 3), 9);
        assert_eq!(offset_of_location(text, 2, 99), 9);
        assert_eq!(offset_of_location(text, 9, 1), text.len());
    }
}
