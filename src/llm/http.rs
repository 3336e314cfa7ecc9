//! The HTTP side of every backend: one shared client, the API key kept secret, and the mapping
//! from HTTP statuses and transport failures to [`ModelError`] with one sentence for the user.
//!
//! The API key is read from the environment for each request, travels only in a header marked
//! sensitive, and is scrubbed from any text a server sends back before that text can reach an
//! error, a log line or `Debug` output.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{Backend, ModelConfig};
use crate::llm::{ModelError, ModelResult};

/// The Anthropic API version spackle speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The most of a server's error text kept in an error.
const MAX_DETAIL_CHARS: usize = 300;

/// The most of an error response's body read.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The largest answer a probe reads (model lists of big providers fit).
const MAX_PROBE_BYTES: usize = 16 * 1024 * 1024;

/// Where requests go and how long they may take, built once from a [`ModelConfig`].
#[derive(Clone, PartialEq)]
pub struct Target {
    pub backend: Backend,
    /// The base URL without a trailing slash. It may hold credentials: show [`Target::shown_endpoint`].
    pub endpoint: String,
    pub model: String,
    /// The name of the variable holding the API key, never the key.
    pub key_env: Option<String>,
    pub first_token_timeout: Duration,
    pub timeout: Duration,
    /// The most bytes of answer text kept per candidate.
    pub max_answer_bytes: usize,
    loopback: bool,
}

impl Target {
    /// Checks the parts of the configuration every backend needs.
    pub fn from_config(config: &ModelConfig) -> ModelResult<Target> {
        let endpoint = config.endpoint();
        let shown = redact_url(&endpoint);
        let url = reqwest::Url::parse(&endpoint).map_err(|error| ModelError::Config {
            detail: format!("`model.endpoint` = `{shown}` is not a URL ({error}); write it like `http://127.0.0.1:11434`"),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ModelError::Config {
                detail: format!("`model.endpoint` = `{shown}` must start with http:// or https://"),
            });
        }
        if config.name.trim().is_empty() && config.backend != Backend::Llamacpp {
            return Err(ModelError::Config {
                detail: "`model.name` is empty; name the model to ask".into(),
            });
        }
        if config.max_answer_bytes == 0 {
            return Err(ModelError::Config {
                detail: "`model.max_answer_bytes` must be more than 0".into(),
            });
        }
        if config.timeout_ms == 0 || config.first_token_timeout_ms == 0 {
            return Err(ModelError::Config {
                detail: "`model.timeout_ms` and `model.first_token_timeout_ms` must be more than 0"
                    .into(),
            });
        }
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback());
        Ok(Target {
            backend: config.backend,
            endpoint,
            model: config.name.trim().to_string(),
            key_env: config.api_key_env(),
            first_token_timeout: Duration::from_millis(config.first_token_timeout_ms),
            timeout: Duration::from_millis(config.timeout_ms),
            max_answer_bytes: config.max_answer_bytes,
            loopback,
        })
    }

    /// The URL of `path` under the endpoint; a query in the endpoint (some servers take the key
    /// there) stays at the end.
    pub fn url(&self, path: &str) -> String {
        match self.endpoint.split_once('?') {
            Some((base, query)) => format!("{}{path}?{query}", base.trim_end_matches('/')),
            None => format!("{}{path}", self.endpoint),
        }
    }

    /// The endpoint as it may be shown in messages and logs, credentials hidden.
    pub fn shown_endpoint(&self) -> String {
        redact_url(&self.endpoint)
    }

    /// Hides the endpoint's credentials in text a server sent back, or a library wrote.
    fn hide_endpoint_credentials(&self, text: &str) -> String {
        let mut text = text.to_string();
        for range in credential_ranges(&self.endpoint) {
            let secret = &self.endpoint[range];
            for part in
                std::iter::once(secret).chain(secret.split_once(':').map(|(_, password)| password))
            {
                if part.len() >= 4 {
                    text = text.replace(part, "***");
                }
            }
        }
        text
    }

    /// The API key, read from the environment now.
    pub fn api_key(&self) -> Option<ApiKey> {
        let name = self.key_env.as_ref()?;
        std::env::var(name)
            .ok()
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
            .map(ApiKey)
    }

    /// The shared client; servers on this machine are reached without any configured proxy.
    pub fn client(&self) -> &'static reqwest::Client {
        static REMOTE: OnceLock<reqwest::Client> = OnceLock::new();
        static LOCAL: OnceLock<reqwest::Client> = OnceLock::new();
        if self.loopback {
            LOCAL.get_or_init(|| build_client(true))
        } else {
            REMOTE.get_or_init(|| build_client(false))
        }
    }

    /// Starts a request to `path` with the backend's authentication headers.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&ApiKey>,
    ) -> RequestBuilder {
        let mut builder = self.client().request(method, self.url(path));
        if self.backend == Backend::Anthropic {
            builder = builder.header("anthropic-version", ANTHROPIC_VERSION);
            if let Some(key) = key {
                builder = builder.header("x-api-key", key.header_value(""));
            }
        } else if let Some(key) = key {
            builder = builder.header(AUTHORIZATION, key.header_value("Bearer "));
        }
        builder
    }

    pub fn unreachable(&self, detail: impl Into<String>) -> ModelError {
        ModelError::Unreachable {
            endpoint: self.shown_endpoint(),
            detail: self.hide_endpoint_credentials(&detail.into()),
            backend: self.backend,
            model: self.model.clone(),
        }
    }

    pub fn bad_response(&self, detail: impl Into<String>) -> ModelError {
        ModelError::BadResponse {
            endpoint: self.shown_endpoint(),
            detail: self.hide_endpoint_credentials(&detail.into()),
        }
    }

    pub fn timeout(&self, what: &'static str, after: Duration) -> ModelError {
        ModelError::Timeout {
            endpoint: self.shown_endpoint(),
            what,
            after,
        }
    }

    pub fn model_not_found(&self) -> ModelError {
        ModelError::ModelNotFound {
            endpoint: self.shown_endpoint(),
            model: self.model.clone(),
            backend: self.backend,
        }
    }

    /// Maps a failure to send a request or read its body.
    pub fn transport_error(&self, error: &reqwest::Error, key: Option<&ApiKey>) -> ModelError {
        let detail = redact(&transport_detail(error), key);
        if error.is_body() || error.is_decode() {
            self.bad_response(format!(
                "the connection broke in the middle of the answer ({detail})"
            ))
        } else {
            self.unreachable(detail)
        }
    }

    /// Maps an answer whose status is not a success.
    pub fn status_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
        key: Option<&ApiKey>,
    ) -> ModelError {
        let detail = self.hide_endpoint_credentials(&redact(&error_detail(body), key));
        let code = status.as_u16();
        match code {
            401 | 403 => ModelError::Unauthorized {
                endpoint: self.shown_endpoint(),
                status: code,
                key_env: self.key_env.clone(),
            },
            429 => ModelError::RateLimited {
                endpoint: self.shown_endpoint(),
                retry_after: retry_after(headers),
            },
            404 if mentions_missing_model(body) => self.model_not_found(),
            _ => ModelError::Server {
                endpoint: self.shown_endpoint(),
                status: code,
                detail,
            },
        }
    }

    /// Sends a request and waits for its headers until `deadline`; any status but success is an
    /// error. A 429 whose `Retry-After` ends before `deadline` is retried once, after that delay.
    pub async fn send(
        &self,
        builder: RequestBuilder,
        key: Option<&ApiKey>,
        deadline: Instant,
        what: &'static str,
        after: Duration,
    ) -> ModelResult<reqwest::Response> {
        let retry = builder.try_clone();
        let result = self.send_once(builder, key, deadline, what, after).await;
        let wait = match &result {
            Err(ModelError::RateLimited {
                retry_after: Some(wait),
                ..
            }) => *wait,
            _ => return result,
        };
        let in_time = Instant::now()
            .checked_add(wait)
            .is_some_and(|end| end < deadline);
        let Some(retry) = retry.filter(|_| in_time) else {
            return result;
        };
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "rate-limited: asking again once after the server's Retry-After"
        );
        tokio::time::sleep(wait).await;
        self.send_once(retry, key, deadline, what, after).await
    }

    async fn send_once(
        &self,
        builder: RequestBuilder,
        key: Option<&ApiKey>,
        deadline: Instant,
        what: &'static str,
        after: Duration,
    ) -> ModelResult<reqwest::Response> {
        let response = match tokio::time::timeout_at(deadline, builder.send()).await {
            Err(_) => return Err(self.timeout(what, after)),
            Ok(Err(error)) => return Err(self.transport_error(&error, key)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if let Some(origin) = redirect_to_another_origin(&response) {
            return Err(ModelError::Redirected {
                endpoint: self.shown_endpoint(),
                to: origin,
            });
        }
        let headers = response.headers().clone();
        let body =
            match tokio::time::timeout_at(deadline, read_limited(response, MAX_ERROR_BODY_BYTES))
                .await
            {
                Ok(Ok((body, _))) => String::from_utf8_lossy(&body).into_owned(),
                _ => String::new(),
            };
        Err(self.status_error(status, &headers, &body, key))
    }

    /// A GET whose answer is JSON, for probes; the whole exchange must finish within the
    /// first-token timeout.
    pub async fn get_json(&self, path: &str) -> ModelResult<Value> {
        let key = self.api_key();
        let deadline = Instant::now() + self.first_token_timeout;
        let builder = self.request(reqwest::Method::GET, path, key.as_ref());
        let response = self
            .send(
                builder,
                key.as_ref(),
                deadline,
                "an answer",
                self.first_token_timeout,
            )
            .await?;
        let body = match tokio::time::timeout_at(deadline, read_limited(response, MAX_PROBE_BYTES))
            .await
        {
            Err(_) => return Err(self.timeout("an answer", self.first_token_timeout)),
            Ok(Err(error)) => return Err(self.transport_error(&error, key.as_ref())),
            Ok(Ok((_, false))) => {
                return Err(self.bad_response(format!(
                    "{path} answered with more than {MAX_PROBE_BYTES} bytes"
                )))
            }
            Ok(Ok((body, true))) => body,
        };
        serde_json::from_slice(&body).map_err(|error| {
            self.bad_response(redact(
                &format!("{path} did not answer with JSON ({error})"),
                key.as_ref(),
            ))
        })
    }
}

fn build_client(loopback: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("spackle/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(follow_same_origin));
    if loopback {
        builder = builder.no_proxy();
    }
    builder.build().unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot build the configured HTTP client; using the default one");
        reqwest::Client::new()
    })
}

/// Reads a response's body, at most `limit` bytes of it; true when that was the whole body.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// Follows a redirect only within the origin (scheme, host and port) of the first request, at
/// most ten times: another origin would be sent the prompt and, for some servers, the API key in
/// a header reqwest does not know to remove. The redirect response itself is returned instead,
/// and [`Target::send`] turns it into [`ModelError::Redirected`].
fn follow_same_origin(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let same_origin = attempt
        .previous()
        .first()
        .is_none_or(|first| first.origin() == attempt.url().origin());
    if !same_origin {
        attempt.stop()
    } else if attempt.previous().len() > 10 {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

/// The origin a redirect response points to, when it is not the response's own.
fn redirect_to_another_origin(response: &reqwest::Response) -> Option<String> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)?
        .to_str()
        .ok()?;
    let next = response.url().join(location).ok()?;
    (next.origin() != response.url().origin()).then(|| next.origin().ascii_serialization())
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("backend", &self.backend)
            .field("endpoint", &self.shown_endpoint())
            .field("model", &self.model)
            .field("key_env", &self.key_env)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A URL with its credentials replaced by `***`: the user information before `@`, and the values
/// of query or fragment parameters named like a key, token, secret, password or signature. Every
/// place that shows an endpoint shows it through this function. It works on the text, so a value
/// that is not a URL is redacted too, and everything else stays exactly as it was written.
pub fn redact_url(url: &str) -> String {
    let mut shown = url.to_string();
    for range in credential_ranges(url).into_iter().rev() {
        shown.replace_range(range, "***");
    }
    shown
}

/// The byte ranges of the credentials in a URL, in order (see [`redact_url`]).
fn credential_ranges(url: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| authority_start + at);
    if let Some(at) = url[authority_start..authority_end].rfind('@') {
        ranges.push(authority_start..authority_start + at);
    }
    let Some(parameters_start) = url[authority_end..]
        .find(['?', '#'])
        .map(|at| authority_end + at + 1)
    else {
        return ranges;
    };
    let mut start = parameters_start;
    for parameter in url[parameters_start..].split(['&', ';', '?', '#']) {
        if let Some((name, value)) = parameter.split_once('=') {
            let name = name.to_ascii_lowercase();
            let secret = [
                "key",
                "token",
                "secret",
                "password",
                "passwd",
                "auth",
                "sig",
                "credential",
            ];
            if !value.is_empty() && secret.iter().any(|word| name.contains(word)) {
                let value_start = start + name.len() + 1;
                ranges.push(value_start..value_start + value.len());
            }
        }
        start += parameter.len() + 1;
    }
    ranges
}

/// An API key. It has no `Display`, its `Debug` hides it, and its header is marked sensitive.
#[derive(Clone)]
pub struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<hidden>)")
    }
}

impl ApiKey {
    fn header_value(&self, prefix: &str) -> HeaderValue {
        let mut value = HeaderValue::from_str(&format!("{prefix}{}", self.0))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        value.set_sensitive(true);
        value
    }
}

/// Replaces every occurrence of the key in `text`.
pub fn redact(text: &str, key: Option<&ApiKey>) -> String {
    match key {
        Some(ApiKey(secret)) if secret.len() >= 4 => text.replace(secret.as_str(), "<api key>"),
        _ => text.to_string(),
    }
}

/// The innermost cause of a transport failure, in a few words.
fn transport_detail(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::TimedOut => return "connection timed out".into(),
                _ => {}
            }
        }
        innermost = current.to_string();
        source = current.source();
    }
    if error.is_timeout() {
        return "connection timed out".into();
    }
    // reqwest names the URL in some messages, query included.
    match error.url() {
        Some(url) => innermost.replace(url.as_str(), &redact_url(url.as_str())),
        None => innermost,
    }
}

/// The message of a JSON error body (`{"error": {"message": ...}}`, `{"error": "..."}`,
/// `{"message": ...}`), or the start of the body.
pub(crate) fn error_detail(body: &str) -> String {
    let body = body.trim();
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|value| {
        let error = value.get("error").unwrap_or(&value);
        error
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| error.as_str())
            .map(str::to_string)
    });
    let detail = from_json.unwrap_or_else(|| body.to_string());
    if detail.is_empty() {
        return "no details given".into();
    }
    truncate_chars(&detail, MAX_DETAIL_CHARS)
}

fn truncate_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Whether a 404 body talks about a model (Ollama, OpenAI, vLLM and Anthropic all do).
fn mentions_missing_model(body: &str) -> bool {
    let lower = body.to_lowercase();
    lower.contains("model")
        && (lower.contains("not found")
            || lower.contains("not_found")
            || lower.contains("does not exist")
            || lower.contains("no such"))
}

/// `Retry-After` in seconds (the HTTP-date form is not read), or OpenAI's `retry-after-ms`.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::trim)
    };
    if let Some(millis) = text("retry-after-ms").and_then(|value| value.parse::<f64>().ok()) {
        if millis.is_finite() && millis >= 0.0 {
            return Some(Duration::from_millis(millis as u64));
        }
    }
    let seconds = text(RETRY_AFTER.as_str())?.parse::<f64>().ok()?;
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_millis((seconds * 1000.0) as u64))
}

/// Whether a server said the model cannot fill in the middle: Ollama's "does not support insert",
/// llama.cpp's 501 "Infill is not supported by this model".
fn cannot_fill_in_the_middle(status: u16, detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    lower.contains("does not support insert")
        || (lower.contains("infill") && lower.contains("not supported"))
        || (status == 501 && lower.contains("infill"))
}

/// Whether an error says the prompt is longer than the model's context (llama.cpp's
/// `exceed_context_size_error`, OpenAI's and vLLM's "maximum context length").
fn exceeds_context(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    [
        "context size",
        "context length",
        "context window",
        "exceed_context",
    ]
    .iter()
    .any(|words| lower.contains(words))
        || (lower.contains("context") && lower.contains("too long"))
}

fn server_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Ollama => "Ollama",
        Backend::Llamacpp => "llama.cpp's server",
        Backend::Openai => "the OpenAI-compatible server",
        Backend::Anthropic => "Anthropic's API",
    }
}

fn port_of(endpoint: &str) -> u16 {
    reqwest::Url::parse(endpoint)
        .ok()
        .and_then(|url| url.port_or_known_default())
        .unwrap_or(8080)
}

impl ModelError {
    /// One sentence for the user: what went wrong and how to fix it.
    pub fn user_message(&self) -> String {
        match self {
            ModelError::Unreachable { endpoint, detail, backend, model } => {
                let fix = match backend {
                    Backend::Ollama => format!("start it with `ollama serve` and pull the model with `ollama pull {model}`"),
                    Backend::Llamacpp => format!("start it with `llama-server -m MODEL.gguf --port {}`", port_of(endpoint)),
                    Backend::Openai => "start the server (vLLM, LM Studio, `llama-server`) or set `model.endpoint` to its address".into(),
                    Backend::Anthropic => "check the network connection, or `model.endpoint` if you changed it".into(),
                };
                format!("cannot reach {} at {endpoint} ({detail}): {fix}.", server_name(*backend))
            }
            ModelError::Unauthorized { endpoint, status, key_env } => match key_env {
                Some(variable) => format!(
                    "the model server at {endpoint} refused the request (HTTP {status}): set {variable} to a valid API key in the environment spackle starts in, or name another variable with `model.api_key_env`."
                ),
                None => format!(
                    "the model server at {endpoint} wants an API key (HTTP {status}): put the key in an environment variable and name that variable with `model.api_key_env`."
                ),
            },
            ModelError::RateLimited { endpoint, retry_after } => match retry_after {
                Some(wait) => format!(
                    "the model server at {endpoint} is rate-limiting spackle and asks it to wait: try again in {} s; lower `completion.candidates` to send fewer requests.",
                    wait.as_secs_f32().ceil() as u64
                ),
                None => format!("the model server at {endpoint} is rate-limiting spackle: wait a moment, or lower `completion.candidates`."),
            },
            ModelError::ModelNotFound { endpoint, model, backend } => {
                let fix = match backend {
                    Backend::Ollama => format!("pull it with `ollama pull {model}`, or set `model.name` to one that `ollama list` shows"),
                    Backend::Llamacpp => "restart `llama-server -m MODEL.gguf` with the model you want".into(),
                    Backend::Openai => format!("set `model.name` to one of the models listed at {endpoint}/v1/models"),
                    Backend::Anthropic => "set `model.name` to a Claude model name your key may use".into(),
                };
                format!("{} at {endpoint} does not have the model `{model}`: {fix}.", server_name(*backend))
            }
            ModelError::Timeout { endpoint, what, after } => {
                let setting = if *what == crate::llm::stream::WHOLE_ANSWER { "model.timeout_ms" } else { "model.first_token_timeout_ms" };
                format!(
                    "the model server at {endpoint} did not send {what} within {:.1} s: the model may still be loading or be too slow for this machine; try a smaller model or raise `{setting}`.",
                    after.as_secs_f32()
                )
            }
            ModelError::Server { endpoint, status, detail } if cannot_fill_in_the_middle(*status, detail) => format!(
                "the model at {endpoint} cannot fill in the middle (HTTP {status}: {detail}): the model has no fill-in-the-middle tokens; load a code model such as qwen2.5-coder, or set `model.template = \"chat\"` to ask it as a chat model."
            ),
            ModelError::Server { endpoint, status, detail } if exceeds_context(detail) => format!(
                "the prompt does not fit the model's context (HTTP {status}: {detail}): lower `context.repository_tokens` and `context.local_tokens`, or give the model a larger context (for llama-server, `-c 8192` or more)."
            ),
            ModelError::Server { endpoint, status: 404, detail } if endpoint.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/').ends_with("/v1") => format!(
                "the model server at {endpoint} has no such path (HTTP 404: {detail}): `model.endpoint` ends in `/v1`, but spackle adds the API's paths itself; set it to the server's address without `/v1`."
            ),
            ModelError::Server { endpoint, status, detail } if *status >= 500 => {
                format!("the model server at {endpoint} failed (HTTP {status}: {detail}): look at the server's own log, then try again.")
            }
            ModelError::Server { endpoint, status, detail } => format!(
                "the model server at {endpoint} rejected spackle's request (HTTP {status}: {detail}): check that `model.backend` and `model.api` match the server."
            ),
            ModelError::BadResponse { endpoint, detail } => format!(
                "the model server at {endpoint} sent an answer spackle cannot read ({detail}): check that `model.backend` matches the server, or try again."
            ),
            ModelError::Redirected { endpoint, to } => format!(
                "the model server at {endpoint} redirected spackle to another host, {to}, and spackle did not follow, so the prompt and API key went nowhere else: if {to} is the right server, set `model.endpoint` to it."
            ),
            ModelError::Config { detail } => {
                format!("the model is not configured correctly: {detail}; fix it in spackle.toml or the editor settings.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(backend: Backend) -> Target {
        Target::from_config(&ModelConfig {
            backend,
            ..ModelConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let target = target(Backend::Ollama);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            target.status_error(StatusCode::TOO_MANY_REQUESTS, &headers, "", None),
            ModelError::RateLimited {
                endpoint: "http://127.0.0.1:11434".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        let not_found = target.status_error(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            r#"{"error":"model 'x' not found, try pulling it first"}"#,
            None,
        );
        assert!(
            matches!(not_found, ModelError::ModelNotFound { .. }),
            "{not_found:?}"
        );
        let plain_404 = target.status_error(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            "404 page not found",
            None,
        );
        assert!(
            matches!(plain_404, ModelError::Server { status: 404, .. }),
            "{plain_404:?}"
        );
        let server = target.status_error(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            r#"{"error":{"message":"upstream died"}}"#,
            None,
        );
        assert_eq!(
            server,
            ModelError::Server {
                endpoint: "http://127.0.0.1:11434".into(),
                status: 502,
                detail: "upstream died".into()
            }
        );
        let forbidden = target.status_error(StatusCode::FORBIDDEN, &HeaderMap::new(), "", None);
        assert!(matches!(
            forbidden,
            ModelError::Unauthorized {
                status: 403,
                key_env: None,
                ..
            }
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn endpoints_must_be_urls() {
        let config = ModelConfig {
            endpoint: "localhost:11434".into(),
            ..ModelConfig::default()
        };
        let error = Target::from_config(&config).unwrap_err();
        assert!(
            error.user_message().contains("`model.endpoint`"),
            "{}",
            error.user_message()
        );
    }

    #[test]
    fn user_messages_name_the_fix() {
        let ollama = target(Backend::Ollama).unreachable("connection refused");
        assert_eq!(
            ollama.user_message(),
            "cannot reach Ollama at http://127.0.0.1:11434 (connection refused): start it with `ollama serve` and pull the model with `ollama pull qwen2.5-coder:1.5b`."
        );
        let llamacpp = target(Backend::Llamacpp).unreachable("connection refused");
        assert!(
            llamacpp
                .user_message()
                .contains("llama-server -m MODEL.gguf --port 8080"),
            "{}",
            llamacpp.user_message()
        );
        let unauthorized = target(Backend::Openai).status_error(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            "",
            None,
        );
        assert!(
            unauthorized
                .user_message()
                .contains("set OPENAI_API_KEY to a valid API key"),
            "{}",
            unauthorized.user_message()
        );
        let timeout = target(Backend::Ollama)
            .timeout(crate::llm::stream::FIRST_TOKEN, Duration::from_millis(1500));
        assert!(
            timeout
                .user_message()
                .contains("raise `model.first_token_timeout_ms`"),
            "{}",
            timeout.user_message()
        );
    }

    #[test]
    fn server_errors_are_explained_by_what_they_say() {
        let llamacpp = target(Backend::Llamacpp);
        let advice = |status: u16, body: &str| {
            llamacpp
                .status_error(
                    StatusCode::from_u16(status).unwrap(),
                    &HeaderMap::new(),
                    body,
                    None,
                )
                .user_message()
        };
        // llama.cpp without fill-in-the-middle tokens.
        let infill = advice(
            501,
            r#"{"error":{"code":501,"message":"Infill is not supported by this model","type":"not_supported_error"}}"#,
        );
        assert!(
            infill.contains("`model.template = \"chat\"`") && infill.contains("code model"),
            "{infill}"
        );
        // llama.cpp and OpenAI-compatible servers on a prompt past the context.
        for body in [
            r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#,
            r#"{"error":{"message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"invalid_request_error"}}"#,
        ] {
            let context = advice(400, body);
            assert!(
                context.starts_with("the prompt does not fit the model's context")
                    && context.contains("context.repository_tokens")
                    && !context.contains("model.backend"),
                "{context}"
            );
        }
        // An endpoint that ends in /v1 for a backend that adds its own paths.
        let v1 = Target::from_config(&ModelConfig {
            backend: Backend::Llamacpp,
            endpoint: "http://127.0.0.1:8080/v1".into(),
            ..ModelConfig::default()
        })
        .unwrap()
        .status_error(
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            "File Not Found",
            None,
        )
        .user_message();
        assert!(v1.contains("without `/v1`"), "{v1}");
    }

    #[test]
    fn credentials_in_endpoints_are_redacted() {
        assert_eq!(
            redact_url("https://user:sk-pass@host:8080/v1?api-key=sk-q&api-version=2024&Token=t0k&x=1#access_token=f"),
            "https://***@host:8080/v1?api-key=***&api-version=2024&Token=***&x=1#access_token=***"
        );
        assert_eq!(
            redact_url("http://sk-token@host?key=k;sig=s"),
            "http://***@host?key=***;sig=***"
        );
        assert_eq!(redact_url("user:sk-pass@host"), "***@host");
        for unchanged in [
            "http://127.0.0.1:11434",
            "http://host/a@b?api-version=1",
            "localhost:11434",
        ] {
            assert_eq!(redact_url(unchanged), unchanged);
        }
        let config = ModelConfig {
            endpoint: "http://me:sk-pass-1234@127.0.0.1:1/?api-key=sk-query-5678".into(),
            ..ModelConfig::default()
        };
        let target = Target::from_config(&config).unwrap();
        assert_eq!(
            target.url("/api/tags"),
            "http://me:sk-pass-1234@127.0.0.1:1/api/tags?api-key=sk-query-5678"
        );
        let echoed = "the key sk-query-5678 or sk-pass-1234 is wrong";
        let errors = [
            target.unreachable(echoed),
            target.bad_response(echoed),
            target.status_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), echoed, None),
            target.timeout(crate::llm::stream::FIRST_TOKEN, Duration::from_secs(1)),
            target.model_not_found(),
        ];
        for shown in errors
            .iter()
            .flat_map(|error| {
                [
                    error.to_string(),
                    format!("{error:?}"),
                    error.user_message(),
                ]
            })
            .chain([format!("{target:?}")])
        {
            assert!(
                !shown.contains("5678") && !shown.contains("1234"),
                "{shown}"
            );
        }
        let not_http = ModelConfig {
            endpoint: "me:sk-pass-1234@localhost".into(),
            ..ModelConfig::default()
        };
        let error = Target::from_config(&not_http).unwrap_err().user_message();
        assert!(
            error.contains("`***@localhost`") && !error.contains("1234"),
            "{error}"
        );
    }

    #[test]
    fn keys_are_redacted_and_hidden_from_debug() {
        let key = ApiKey("sk-very-secret-key".into());
        assert_eq!(format!("{key:?}"), "ApiKey(<hidden>)");
        assert_eq!(
            redact("bad key sk-very-secret-key!", Some(&key)),
            "bad key <api key>!"
        );
        assert!(!format!("{:?}", key.header_value("Bearer ")).contains("secret"));
    }
}
