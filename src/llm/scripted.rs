//! A scripted model server for tests and benchmarks: plain HTTP/1.1 on 127.0.0.1, answering each
//! request with the next scripted [`Reply`] in the real wire formats of every backend (OpenAI SSE
//! with `[DONE]`, Ollama NDJSON, Anthropic SSE events, llama.cpp SSE) and their failures.
//!
//! It records every request it receives (method, path, headers, JSON body, arrival time) and
//! notices when a client hangs up before its reply is complete, so tests can check cancellation.
//! It stops when dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::config::Backend;

/// How many bytes the server reads at a time.
const READ_SIZE: usize = 64 * 1024;

/// The prompt size reported in the usage of every scripted stream.
pub const SCRIPTED_PROMPT_TOKENS: u64 = 12;

/// One answer of the scripted server.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    delay: Duration,
    chunk_delay: Duration,
}

#[derive(Debug, Clone)]
enum Body {
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
    Stream {
        backend: Backend,
        candidates: Vec<Vec<String>>,
        shape: Shape,
    },
    Hang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Complete,
    /// The connection closes after the text, before the end of the stream.
    Cut,
    /// A line that is not JSON after the first piece of text.
    Malformed,
    /// OpenAI formats: every choice's last event carries that choice's usage, and no event
    /// carries the total.
    UsagePerChoice,
    /// OpenAI formats, as some proxies send `n` choices: all under index 0, each ending with its
    /// own `finish_reason` and usage.
    AllAtIndexZero,
}

impl Reply {
    /// A 200 answer with a JSON body.
    pub fn json(value: Value) -> Reply {
        Reply::bytes(200, "application/json", value.to_string().into_bytes())
    }

    /// An answer with any status; the body is sent as JSON when it parses as JSON.
    pub fn status(status: u16, body: impl Into<String>) -> Reply {
        let body = body.into();
        let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        };
        Reply::bytes(status, content_type, body.into_bytes())
    }

    pub fn bytes(status: u16, content_type: &str, bytes: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Bytes {
                content_type: content_type.to_string(),
                bytes,
            },
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
        }
    }

    /// A complete streamed answer made of `chunks`, in the backend's format for the path asked
    /// (chat or completion formats are picked from the request's path).
    pub fn stream(backend: Backend, chunks: &[&str]) -> Reply {
        Reply::streamed(backend, vec![owned(chunks)], Shape::Complete)
    }

    /// Several candidates in one stream (OpenAI's `n`; other backends send the first only).
    pub fn stream_candidates(backend: Backend, candidates: &[&[&str]]) -> Reply {
        Reply::streamed(
            backend,
            candidates.iter().map(|chunks| owned(chunks)).collect(),
            Shape::Complete,
        )
    }

    /// Several candidates in one OpenAI stream, each choice's usage in its last event and no total.
    pub fn stream_candidates_with_usage_per_choice(
        backend: Backend,
        candidates: &[&[&str]],
    ) -> Reply {
        Reply::streamed(
            backend,
            candidates.iter().map(|chunks| owned(chunks)).collect(),
            Shape::UsagePerChoice,
        )
    }

    /// Several candidates in one OpenAI stream as a proxy that loses the indexes sends them: each
    /// under index 0, one after another, each ending with its own `finish_reason` and usage.
    pub fn stream_candidates_at_index_zero(backend: Backend, candidates: &[&[&str]]) -> Reply {
        Reply::streamed(
            backend,
            candidates.iter().map(|chunks| owned(chunks)).collect(),
            Shape::AllAtIndexZero,
        )
    }

    /// A stream that sends `chunks` and then closes the connection before it is complete.
    pub fn cut_stream(backend: Backend, chunks: &[&str]) -> Reply {
        Reply::streamed(backend, vec![owned(chunks)], Shape::Cut)
    }

    /// A stream whose second event is not JSON.
    pub fn malformed_stream(backend: Backend) -> Reply {
        Reply::streamed(
            backend,
            vec![vec!["x = ".to_string(), "1".to_string()]],
            Shape::Malformed,
        )
    }

    /// Accepts the request and never answers.
    pub fn hang() -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: Body::Hang,
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
        }
    }

    /// The 401 each backend sends for a bad key.
    pub fn unauthorized(backend: Backend) -> Reply {
        let body = match backend {
            Backend::Anthropic => {
                json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
            }
            Backend::Ollama => json!({"error": "unauthorized"}),
            _ => {
                json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}})
            }
        };
        Reply::status(401, body.to_string())
    }

    /// A 429 with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u64) -> Reply {
        Reply::status(
            429,
            json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})
                .to_string(),
        )
        .header("Retry-After", &seconds.to_string())
    }

    /// A 500 with a JSON error message.
    pub fn server_error(message: &str) -> Reply {
        Reply::status(500, json!({"error": {"message": message}}).to_string())
    }

    /// The 404 each backend sends for a model it does not have.
    pub fn model_not_found(backend: Backend, model: &str) -> Reply {
        let body = match backend {
            Backend::Ollama => {
                json!({"error": format!("model '{model}' not found, try pulling it first")})
            }
            Backend::Anthropic => {
                json!({"type": "error", "error": {"type": "not_found_error", "message": format!("model: {model}")}})
            }
            _ => {
                json!({"error": {"message": format!("The model `{model}` does not exist or you do not have access to it."), "code": "model_not_found"}})
            }
        };
        Reply::status(404, body.to_string())
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits before sending the response headers.
    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Waits before each event of a stream.
    pub fn chunk_delay(mut self, delay: Duration) -> Reply {
        self.chunk_delay = delay;
        self
    }

    fn streamed(backend: Backend, candidates: Vec<Vec<String>>, shape: Shape) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: Body::Stream {
                backend,
                candidates,
                shape,
            },
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
        }
    }
}

fn owned(chunks: &[&str]) -> Vec<String> {
    chunks.iter().map(|chunk| chunk.to_string()).collect()
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, or `Null` when it is not JSON.
    pub json: Value,
    pub body: String,
    pub received_at: Instant,
    /// When the server began writing the last part of its reply (the final event of a stream,
    /// or the whole of any other body). It is set before the write, so a client that returns as
    /// soon as it reads that part finds it set.
    pub last_write_at: Option<Instant>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Option<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    disconnects: AtomicUsize,
    connections: AtomicUsize,
}

impl Shared {
    fn next_reply(&self) -> Reply {
        if let Some(reply) = self
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
        {
            return reply;
        }
        match self
            .fallback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            Some(reply) => reply,
            None => Reply::status(
                500,
                json!({"error": {"message": "the scripted server has no reply left"}}).to_string(),
            ),
        }
    }
}

/// The scripted server; it stops (and drops every open connection) when dropped.
pub struct ScriptedServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedServer {
    /// Starts a server on 127.0.0.1 with a free port that gives `replies` in order, then 500s.
    pub async fn start(
        replies: impl IntoIterator<Item = Reply>,
    ) -> std::io::Result<ScriptedServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(replies);
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(ScriptedServer { addr, shared, task })
    }

    /// Starts a server that gives the same reply to every request (for benchmarks).
    pub async fn repeating(reply: Reply) -> std::io::Result<ScriptedServer> {
        let server = ScriptedServer::start([]).await?;
        *server
            .shared
            .fallback
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(reply);
        Ok(server)
    }

    /// The base URL, such as `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a reply at the end of the script.
    pub fn push(&self, reply: Reply) {
        self.shared
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(reply);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many times a client hung up before its reply was complete.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// How many connections clients opened (fewer than requests when connections are reused).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` requests arrived; false when `within` passed first.
    pub async fn wait_for_requests(&self, count: usize, within: Duration) -> bool {
        wait_until(within, || {
            self.shared
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len()
                >= count
        })
        .await
    }

    /// Waits until clients hung up early at least `count` times; false when `within` passed first.
    pub async fn wait_for_disconnects(&self, count: usize, within: Duration) -> bool {
        wait_until(within, || self.disconnects() >= count).await
    }
}

async fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An address where nothing listens: connecting to it is refused.
pub fn refused_address() -> SocketAddr {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).expect("binding 127.0.0.1:0 works");
    listener
        .local_addr()
        .expect("a bound listener has an address")
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // The connections live in this set, so aborting this task closes them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(error) => {
                    tracing::debug!(%error, "the scripted server could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What happened to a reply.
enum Sent {
    /// Complete; the connection may serve another request.
    KeepAlive,
    /// Complete or cut on purpose; the connection closes.
    Close,
    /// The client hung up first.
    ClientGone,
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    loop {
        let request = match read_request(&mut stream, &mut buffer).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        let close_requested = request
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let path = request.path.clone();
        let index = {
            let mut requests = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
            requests.push(request);
            requests.len() - 1
        };
        let reply = shared.next_reply();
        let mark_last_write = || {
            if let Some(request) = shared
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(index)
            {
                request.last_write_at = Some(Instant::now());
            }
        };
        let sent = send_reply(&mut stream, &mut buffer, &path, &reply, &mark_last_write).await;
        if matches!(sent, Sent::ClientGone) {
            shared.disconnects.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if close_requested || matches!(sent, Sent::Close) {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<RecordedRequest>> {
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut request_line = lines.next().unwrap_or_default().split_whitespace();
            let method = request_line.next().unwrap_or_default().to_string();
            let path = request_line.next().unwrap_or_default().to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
                .collect();
            let length = headers
                .iter()
                .find(|(name, _)| name == "content-length")
                .and_then(|(_, value)| value.parse::<usize>().ok())
                .unwrap_or(0);
            let start = end + 4;
            while buffer.len() < start + length {
                buffer.reserve(READ_SIZE);
                buffer.reserve(READ_SIZE);
                if stream.read_buf(buffer).await? == 0 {
                    return Ok(None);
                }
            }
            let body = String::from_utf8_lossy(&buffer[start..start + length]).into_owned();
            buffer.drain(..start + length);
            let json = serde_json::from_str(&body).unwrap_or(Value::Null);
            return Ok(Some(RecordedRequest {
                method,
                path,
                headers,
                json,
                body,
                received_at: Instant::now(),
                last_write_at: None,
            }));
        }
        buffer.reserve(READ_SIZE);
        if stream.read_buf(buffer).await? == 0 {
            return Ok(None);
        }
    }
}

/// Waits `duration`, watching the connection; true if the client hung up meanwhile.
async fn pause_or_hang_up(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    duration: Option<Duration>,
) -> bool {
    let deadline = duration.map(|duration| tokio::time::Instant::now() + duration);
    loop {
        buffer.reserve(READ_SIZE);
        let read = stream.read_buf(buffer);
        let result = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, read).await {
                Err(_) => return false,
                Ok(result) => result,
            },
            None => read.await,
        };
        match result {
            Ok(0) | Err(_) => return true,
            Ok(_) => continue,
        }
    }
}

async fn send_reply(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    path: &str,
    reply: &Reply,
    mark_last_write: &(dyn Fn() + Sync),
) -> Sent {
    if !reply.delay.is_zero() && pause_or_hang_up(stream, buffer, Some(reply.delay)).await {
        return Sent::ClientGone;
    }
    let reason = reqwest::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Unknown");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &reply.body {
        Body::Hang => {
            pause_or_hang_up(stream, buffer, None).await;
            Sent::ClientGone
        }
        Body::Bytes {
            content_type,
            bytes,
        } => {
            head.push_str(&format!(
                "content-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
                bytes.len()
            ));
            let mut message = head.into_bytes();
            message.extend_from_slice(bytes);
            mark_last_write();
            match stream.write_all(&message).await {
                Ok(()) => Sent::KeepAlive,
                Err(_) => Sent::ClientGone,
            }
        }
        Body::Stream {
            backend,
            candidates,
            shape,
        } => {
            let (content_type, events, ending) = stream_events(*backend, path, candidates, *shape);
            head.push_str(&format!(
                "content-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
            ));
            if stream.write_all(head.as_bytes()).await.is_err() {
                return Sent::ClientGone;
            }
            let count = events.len() + ending.len();
            for (position, event) in events.iter().chain(ending.iter()).enumerate() {
                if !reply.chunk_delay.is_zero()
                    && pause_or_hang_up(stream, buffer, Some(reply.chunk_delay)).await
                {
                    return Sent::ClientGone;
                }
                let mut chunk = format!("{:x}\r\n{event}\r\n", event.len());
                let last = position + 1 == count;
                if last {
                    mark_last_write();
                    if *shape != Shape::Cut {
                        // The end of the body travels with the last event, so the client can
                        // put the connection back in its pool at once.
                        chunk.push_str("0\r\n\r\n");
                    }
                }
                if stream.write_all(chunk.as_bytes()).await.is_err()
                    || stream.flush().await.is_err()
                {
                    return Sent::ClientGone;
                }
            }
            if count == 0 && *shape != Shape::Cut && stream.write_all(b"0\r\n\r\n").await.is_err() {
                return Sent::ClientGone;
            }
            if *shape == Shape::Cut {
                Sent::Close
            } else {
                Sent::KeepAlive
            }
        }
    }
}

/// The events of a stream, and the events that end it (left out when the stream is cut).
fn stream_events(
    backend: Backend,
    path: &str,
    candidates: &[Vec<String>],
    shape: Shape,
) -> (&'static str, Vec<String>, Vec<String>) {
    let completion_tokens = candidates
        .first()
        .map(|chunks| chunks.len() as u64)
        .unwrap_or(0);
    let first: &[String] = candidates.first().map(Vec::as_slice).unwrap_or(&[]);
    let openai_style =
        backend == Backend::Openai || (backend == Backend::Llamacpp && path.starts_with("/v1/"));
    let sse = |value: Value| format!("data: {value}\n\n");
    let (content_type, mut events, ending, broken) = if openai_style {
        let chat = path.ends_with("/chat/completions");
        let choice = |index: usize, text: Option<&str>, finish: Option<&str>| {
            if chat {
                let delta = match text {
                    Some(text) => json!({"content": text}),
                    None => json!({}),
                };
                json!({"index": index, "delta": delta, "finish_reason": finish})
            } else {
                json!({"index": index, "text": text.unwrap_or(""), "finish_reason": finish})
            }
        };
        let object = if chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        let per_choice = matches!(shape, Shape::UsagePerChoice | Shape::AllAtIndexZero);
        if per_choice {
            let mut events = Vec::new();
            let mut ending = Vec::new();
            for (index, chunks) in candidates.iter().enumerate() {
                let shown = if shape == Shape::AllAtIndexZero {
                    0
                } else {
                    index
                };
                if chat {
                    events.push(sse(json!({"id": "scripted", "object": object, "choices": [{"index": shown, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})));
                }
                for chunk in chunks {
                    events.push(sse(json!({"id": "scripted", "object": object, "choices": [choice(shown, Some(chunk), None)]})));
                }
                let last = sse(
                    json!({"id": "scripted", "object": object, "choices": [choice(shown, None, Some("stop"))],
                                      "usage": {"prompt_tokens": SCRIPTED_PROMPT_TOKENS, "completion_tokens": chunks.len()}}),
                );
                if index + 1 == candidates.len() {
                    ending.push(last);
                } else {
                    events.push(last);
                }
            }
            ending.push("data: [DONE]\n\n".to_string());
            return ("text/event-stream", events, ending);
        }
        let mut events = Vec::new();
        if chat {
            let roles: Vec<Value> = (0..candidates.len()).map(|index| json!({"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": null})).collect();
            events.push(sse(
                json!({"id": "scripted", "object": object, "choices": roles}),
            ));
        }
        let longest = candidates.iter().map(Vec::len).max().unwrap_or(0);
        for position in 0..longest {
            for (index, chunks) in candidates.iter().enumerate() {
                if let Some(chunk) = chunks.get(position) {
                    events.push(sse(json!({"id": "scripted", "object": object, "choices": [choice(index, Some(chunk), None)]})));
                }
            }
        }
        let mut ending: Vec<String> = (0..candidates.len()).map(|index| sse(json!({"id": "scripted", "object": object, "choices": [choice(index, None, Some("stop"))]}))).collect();
        let total: u64 = candidates.iter().map(|chunks| chunks.len() as u64).sum();
        ending.push(sse(json!({"id": "scripted", "object": object, "choices": [], "usage": {"prompt_tokens": SCRIPTED_PROMPT_TOKENS, "completion_tokens": total}})));
        ending.push("data: [DONE]\n\n".to_string());
        (
            "text/event-stream",
            events,
            ending,
            "data: {\"choices\": [{\"text\": \"oops\"\n\n".to_string(),
        )
    } else {
        match backend {
            Backend::Ollama => {
                let chat = path == "/api/chat";
                let line = |text: &str, done: bool| {
                    let mut value = if chat {
                        json!({"model": "scripted", "created_at": "2024-01-01T00:00:00Z", "message": {"role": "assistant", "content": text}, "done": done})
                    } else {
                        json!({"model": "scripted", "created_at": "2024-01-01T00:00:00Z", "response": text, "done": done})
                    };
                    if done {
                        value["done_reason"] = json!("stop");
                        value["prompt_eval_count"] = json!(SCRIPTED_PROMPT_TOKENS);
                        value["eval_count"] = json!(completion_tokens);
                    }
                    format!("{value}\n")
                };
                let events = first.iter().map(|chunk| line(chunk, false)).collect();
                (
                    "application/x-ndjson",
                    events,
                    vec![line("", true)],
                    "{\"response\": \"oops\", \"done\"\n".to_string(),
                )
            }
            Backend::Anthropic => {
                let event = |name: &str, value: Value| format!("event: {name}\ndata: {value}\n\n");
                let mut events = vec![
                    event(
                        "message_start",
                        json!({"type": "message_start", "message": {"id": "msg_scripted", "type": "message", "role": "assistant", "content": [], "model": "scripted", "usage": {"input_tokens": SCRIPTED_PROMPT_TOKENS, "output_tokens": 1}}}),
                    ),
                    event(
                        "content_block_start",
                        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                    ),
                    event("ping", json!({"type": "ping"})),
                ];
                for chunk in first {
                    events.push(event("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}})));
                }
                let ending = vec![
                    event(
                        "content_block_stop",
                        json!({"type": "content_block_stop", "index": 0}),
                    ),
                    event(
                        "message_delta",
                        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": completion_tokens}}),
                    ),
                    event("message_stop", json!({"type": "message_stop"})),
                ];
                ("text/event-stream", events, ending, "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"delta\"\n\n".to_string())
            }
            Backend::Llamacpp | Backend::Openai => {
                let events = first
                    .iter()
                    .map(|chunk| sse(json!({"content": chunk, "stop": false, "id_slot": 0})))
                    .collect();
                let ending = vec![sse(
                    json!({"content": "", "stop": true, "stop_type": "eos", "tokens_evaluated": SCRIPTED_PROMPT_TOKENS, "tokens_predicted": completion_tokens}),
                )];
                (
                    "text/event-stream",
                    events,
                    ending,
                    "data: {\"content\": \"oops\"\n\n".to_string(),
                )
            }
        }
    };
    match shape {
        Shape::Complete | Shape::UsagePerChoice | Shape::AllAtIndexZero => {
            (content_type, events, ending)
        }
        Shape::Cut => (content_type, events, Vec::new()),
        Shape::Malformed => {
            events.insert(events.len().min(1), broken);
            (content_type, events, ending)
        }
    }
}
