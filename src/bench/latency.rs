//! `spackle bench latency`: the server's own latency around a model that answers at once.
//!
//! The language server runs in this process over in-memory pipes; a scripted model server on
//! 127.0.0.1 answers every request at once. For each `textDocument/inlineCompletion` request two
//! spans are measured on one clock: from the request being written to the model request arriving
//! at the model server ("to model"), and from the model server writing the last part of its answer
//! to the response arriving at the client ("from model"). The reference run calls the model layer
//! directly in the same process, so the ratio shows what the server adds over the bare HTTP call.
//!
//! usage: spackle bench latency [--requests N] [--backend ollama|openai|llamacpp|anthropic]

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::config::{Backend, ModelConfig};
use crate::llm::scripted::{Reply, ScriptedServer};
use crate::llm::{GenerateRequest, RequestKind};

const SOURCE: &str = "from dataclasses import dataclass\n\n\n@dataclass\nclass Point:\n    x: float\n    y: float\n\n\ndef norm(p: Point) -> float:\n    \n\n\nprint(norm(Point(3, 4)))\n";

struct Options {
    requests: usize,
    backend: Backend,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        requests: 300,
        backend: Backend::Ollama,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => {
                options.requests = args.next().context("--requests needs a number")?.parse().context("--requests needs a number")?
            }
            "--backend" => {
                let name = args.next().context("--backend needs a name")?;
                options.backend = serde_json::from_value(json!(name)).with_context(|| format!("unknown backend `{name}`"))?;
            }
            "-h" | "--help" => bail!("usage: spackle bench latency [--requests N] [--backend ollama|openai|llamacpp|anthropic]"),
            other => bail!("unknown argument `{other}`; usage: spackle bench latency [--requests N] [--backend NAME]"),
        }
    }
    if options.requests < 10 {
        bail!("--requests must be at least 10");
    }
    Ok(options)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let figures = runtime.block_on(measure(&options))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", figures)?;
    Ok(())
}

fn model_config(backend: Backend, endpoint: String) -> ModelConfig {
    let name = if backend == Backend::Anthropic {
        "claude-3-5-haiku-latest"
    } else {
        "qwen2.5-coder:1.5b"
    };
    ModelConfig {
        backend,
        endpoint,
        name: name.into(),
        ..ModelConfig::default()
    }
}

/// A scripted answer that passes the checks for [`SOURCE`]'s hole.
fn answer(backend: Backend) -> Reply {
    Reply::stream(backend, &["return ", "(p.x ** 2 + p.y ** 2)", " ** 0.5\n"])
}

async fn measure(options: &Options) -> anyhow::Result<Value> {
    let server = ScriptedServer::repeating(answer(options.backend)).await?;
    let config = model_config(options.backend, server.url());
    let warmup = 20;

    // The reference: the model layer alone, in this process.
    let model =
        crate::llm::model_from_config(&config).map_err(|error| anyhow::anyhow!("{error}"))?;
    let request = GenerateRequest {
        kind: RequestKind::Infill {
            path: "geometry.py".into(),
            prefix: SOURCE[..SOURCE.find("\n\n\nprint").unwrap_or(SOURCE.len())].into(),
            suffix: "\n\n\nprint(norm(Point(3, 4)))\n".into(),
            context: Vec::new(),
        },
        stop: Vec::new(),
        max_tokens: 64,
        temperature: 0.2,
        candidates: 1,
    };
    let mut direct_to = Vec::new();
    let mut direct_from = Vec::new();
    for round in 0..warmup + options.requests {
        let before = server.requests().len();
        let started = Instant::now();
        model
            .generate(&request)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let finished = Instant::now();
        let recorded = server
            .requests()
            .get(before)
            .cloned()
            .context("the scripted server saw no request")?;
        if round >= warmup {
            direct_to.push(recorded.received_at.saturating_duration_since(started));
            direct_from.push(
                finished.saturating_duration_since(recorded.last_write_at.unwrap_or(finished)),
            );
        }
    }

    // The server: spackle's LSP over in-memory pipes.
    let (client_side, server_side) = tokio::io::duplex(1 << 20);
    let (server_read, server_write) = tokio::io::split(server_side);
    let serving = tokio::spawn(crate::lsp::serve(server_read, server_write));
    let (client_read, mut client_write) = tokio::io::split(client_side);
    let mut reader = BufReader::new(client_read);
    let settings = json!({"model": {"backend": options.backend.name(), "endpoint": server.url(), "name": config.name},
                          "completion": {"debounce_ms": 0}});
    let mut next_id = 0;
    let mut call = |method: &str, params: Value| {
        next_id += 1;
        (
            next_id,
            json!({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params}),
        )
    };
    let (id, message) = call(
        "initialize",
        json!({"processId": null, "capabilities": {}, "initializationOptions": settings}),
    );
    send(&mut client_write, &message).await?;
    wait_response(&mut reader, id).await?;
    send(
        &mut client_write,
        &json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    )
    .await?;
    let uri = "file:///bench/geometry.py";
    send(
        &mut client_write,
        &json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": SOURCE}}}),
    )
    .await?;
    let mut to_model = Vec::new();
    let mut from_model = Vec::new();
    let mut empty = 0;
    for round in 0..warmup + options.requests {
        let before = server.requests().len();
        let (id, message) = call(
            "textDocument/inlineCompletion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 10, "character": 4}, "context": {"triggerKind": 1}}),
        );
        let started = Instant::now();
        send(&mut client_write, &message).await?;
        let response = wait_response(&mut reader, id).await?;
        let finished = Instant::now();
        if response["result"]
            .as_array()
            .is_none_or(|items| items.is_empty())
        {
            empty += 1;
        }
        let recorded = server
            .requests()
            .get(before)
            .cloned()
            .context("the model server saw no request from spackle")?;
        if round >= warmup {
            to_model.push(recorded.received_at.saturating_duration_since(started));
            from_model.push(
                finished.saturating_duration_since(recorded.last_write_at.unwrap_or(finished)),
            );
        }
    }
    let (id, message) = call("shutdown", Value::Null);
    send(&mut client_write, &message).await?;
    wait_response(&mut reader, id).await?;
    send(
        &mut client_write,
        &json!({"jsonrpc": "2.0", "method": "exit"}),
    )
    .await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
    if empty > 0 {
        bail!("{empty} requests returned no completion; the figures would not be comparable");
    }

    let figures = json!({
        "requests": options.requests,
        "backend": options.backend.name(),
        "to_model_p50_ms": millis(percentile(&mut to_model, 50.0)),
        "to_model_p99_ms": millis(percentile(&mut to_model, 99.0)),
        "from_model_p50_ms": millis(percentile(&mut from_model, 50.0)),
        "from_model_p99_ms": millis(percentile(&mut from_model, 99.0)),
        "reference_to_model_p50_ms": millis(percentile(&mut direct_to, 50.0)),
        "reference_from_model_p50_ms": millis(percentile(&mut direct_from, 50.0)),
        "to_model_ratio": ratio(percentile(&mut to_model, 50.0), percentile(&mut direct_to, 50.0)),
        "from_model_ratio": ratio(percentile(&mut from_model, 50.0), percentile(&mut direct_from, 50.0)),
    });
    eprintln!(
        "spackle bench latency: {} requests through the server ({} backend, scripted model answering at once)",
        options.requests,
        options.backend.name()
    );
    eprintln!(
        "  request -> model request:   median {:.3} ms, p99 {:.3} ms   (model layer alone: median {:.3} ms; ratio {:.2})",
        figures["to_model_p50_ms"].as_f64().unwrap_or_default(),
        figures["to_model_p99_ms"].as_f64().unwrap_or_default(),
        figures["reference_to_model_p50_ms"].as_f64().unwrap_or_default(),
        figures["to_model_ratio"].as_f64().unwrap_or_default(),
    );
    eprintln!(
        "  model's last byte -> response: median {:.3} ms, p99 {:.3} ms   (model layer alone: median {:.3} ms; ratio {:.2})",
        figures["from_model_p50_ms"].as_f64().unwrap_or_default(),
        figures["from_model_p99_ms"].as_f64().unwrap_or_default(),
        figures["reference_from_model_p50_ms"].as_f64().unwrap_or_default(),
        figures["from_model_ratio"].as_f64().unwrap_or_default(),
    );
    Ok(figures)
}

async fn send(writer: &mut (impl AsyncWriteExt + Unpin), message: &Value) -> anyhow::Result<()> {
    let body = message.to_string();
    writer
        .write_all(format!("Content-Length: {}\r\n\r\n{}", body.len(), body).as_bytes())
        .await?;
    writer.flush().await?;
    Ok(())
}

/// Reads messages until the response with `id`, answering server requests with `null`.
async fn wait_response(
    reader: &mut BufReader<impl AsyncReadExt + Unpin>,
    id: i64,
) -> anyhow::Result<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), read_message(reader))
            .await
            .context("the server did not answer")??;
        if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
            return Ok(message);
        }
    }
}

async fn read_message(reader: &mut BufReader<impl AsyncReadExt + Unpin>) -> anyhow::Result<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            bail!("the server closed its output");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = Some(value.trim().parse::<usize>()?);
        }
    }
    let mut body = vec![0; length.context("a message without Content-Length")?];
    reader.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

fn percentile(values: &mut [Duration], pct: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    let rank = ((pct / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

fn ratio(value: Duration, reference: Duration) -> f64 {
    if reference.is_zero() {
        return 0.0;
    }
    (value.as_secs_f64() / reference.as_secs_f64() * 100.0).round() / 100.0
}
