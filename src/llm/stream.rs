//! Streamed answers: server-sent events and newline-delimited JSON decoded into text pieces, stop
//! sequences applied as the text arrives, and the first-token and total timeouts.
//!
//! Reading stops as soon as every candidate has reached a stop sequence, which drops the
//! connection and so ends the server's work early. A stream that ends before the server said it
//! was done is an error, unless a stop sequence had already ended every candidate.

use futures::{FutureExt, StreamExt};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::time::Instant;

use crate::llm::http::{read_limited, redact, ApiKey, Target};
use crate::llm::{Generation, ModelResult};

/// What a timeout waited for before the first piece of text arrived.
pub const FIRST_TOKEN: &str = "the first token";
/// What a timeout waited for after that.
pub const WHOLE_ANSWER: &str = "the whole answer";

/// The longest line a stream may send.
const MAX_LINE_BYTES: usize = 8 << 20;

/// The answer formats spackle reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// `/v1/completions`: SSE, `choices[].text`, `data: [DONE]`.
    OpenaiCompletions,
    /// `/v1/chat/completions`: SSE, `choices[].delta.content`, `data: [DONE]`.
    OpenaiChat,
    /// Ollama's `/api/generate`: NDJSON, `response`, `done: true`.
    OllamaGenerate,
    /// Ollama's `/api/chat`: NDJSON, `message.content`, `done: true`.
    OllamaChat,
    /// llama.cpp's `/infill` and `/completion`: SSE, `content`, `stop: true`.
    Llamacpp,
    /// Anthropic's `/v1/messages`: SSE events, `content_block_delta`, `message_stop`.
    Anthropic,
}

impl Wire {
    fn is_ndjson(self) -> bool {
        matches!(self, Wire::OllamaGenerate | Wire::OllamaChat)
    }
}

/// One event of a stream: an SSE event (name and data) or one NDJSON line (data only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub event: Option<String>,
    pub data: String,
}

/// What an event meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text {
        index: usize,
        text: String,
    },
    Usage {
        prompt: Option<u64>,
        completion: Option<u64>,
    },
    /// Tokens counted for one finished candidate (an OpenAI-compatible server that reports usage
    /// with each choice's last event); summed over the candidates.
    ChoiceUsage {
        prompt: Option<u64>,
        completion: Option<u64>,
    },
    /// The server says this candidate is complete (OpenAI's `finish_reason`).
    Finished {
        index: usize,
    },
    Done,
}

/// Why a stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Not the format the server should speak.
    Malformed(String),
    /// The server reported an error inside the stream, with the HTTP status it stands for.
    Reported { status: u16, message: String },
}

/// Splits bytes into frames; bytes of one line may arrive in several chunks.
#[derive(Debug)]
pub struct Framer {
    ndjson: bool,
    buffer: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl Framer {
    pub fn new(wire: Wire) -> Framer {
        Framer {
            ndjson: wire.is_ndjson(),
            buffer: Vec::new(),
            event: None,
            data: None,
        }
    }

    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Frame>) -> Result<(), WireError> {
        self.buffer.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(newline) = self.buffer[start..].iter().position(|&byte| byte == b'\n') {
            let end = start + newline;
            let line = &self.buffer[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = std::str::from_utf8(line)
                .map_err(|_| WireError::Malformed("a line is not UTF-8".into()))?
                .to_string();
            self.line(&line, out);
            start = end + 1;
        }
        self.buffer.drain(..start);
        if self.buffer.len() > MAX_LINE_BYTES {
            return Err(WireError::Malformed(format!(
                "a line is longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        // An event's `data` lines add up until a blank line; they are bounded like one line.
        if self
            .data
            .as_ref()
            .is_some_and(|data| data.len() > MAX_LINE_BYTES)
        {
            return Err(WireError::Malformed(format!(
                "an event is longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        Ok(())
    }

    /// Handles the end of the stream: a last line without a newline, a last event without a blank line.
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> Result<(), WireError> {
        if !self.buffer.is_empty() {
            let rest = std::mem::take(&mut self.buffer);
            let line = std::str::from_utf8(&rest)
                .map_err(|_| WireError::Malformed("a line is not UTF-8".into()))?
                .to_string();
            self.line(line.trim_end_matches('\r'), out);
        }
        self.dispatch(out);
        Ok(())
    }

    fn line(&mut self, line: &str, out: &mut Vec<Frame>) {
        if self.ndjson {
            if !line.trim().is_empty() {
                out.push(Frame {
                    event: None,
                    data: line.to_string(),
                });
            }
            return;
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            // llama.cpp writes `error: {...}` lines outside the SSE grammar.
            "error" => {
                self.dispatch(out);
                out.push(Frame {
                    event: Some("error".into()),
                    data: value.to_string(),
                });
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Frame>) {
        let event = self.event.take();
        if let Some(data) = self.data.take() {
            out.push(Frame { event, data });
        }
    }
}

fn parse_json(data: &str) -> Result<Value, WireError> {
    serde_json::from_str(data).map_err(|error| {
        let start: String = data.chars().take(80).collect();
        WireError::Malformed(format!("an event is not JSON ({error}): `{start}`"))
    })
}

fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(*key))?
        .as_str()
}

fn count_at(value: &Value, path: &[&str]) -> Option<u64> {
    path.iter()
        .try_fold(value, |value, key| value.get(*key))?
        .as_u64()
}

/// An `error` member of an event, as a reported error.
fn reported(error: &Value, default_status: u16) -> WireError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    let status = error
        .get("code")
        .and_then(Value::as_u64)
        .filter(|code| (400..600).contains(code))
        .map(|code| code as u16);
    WireError::Reported {
        status: status.unwrap_or(default_status),
        message,
    }
}

/// Decodes one frame of the given format.
pub fn decode(wire: Wire, frame: &Frame, out: &mut Vec<Piece>) -> Result<(), WireError> {
    let data = frame.data.trim();
    match wire {
        Wire::OpenaiCompletions | Wire::OpenaiChat => {
            if data == "[DONE]" {
                out.push(Piece::Done);
                return Ok(());
            }
            let value = parse_json(data)?;
            if let Some(error) = value.get("error") {
                return Err(reported(error, 500));
            }
            let mut finishes = false;
            for choice in value
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let text = if wire == Wire::OpenaiChat {
                    text_at(choice, &["delta", "content"]).or_else(|| text_at(choice, &["text"]))
                } else {
                    text_at(choice, &["text"]).or_else(|| text_at(choice, &["delta", "content"]))
                };
                if let Some(text) = text.filter(|text| !text.is_empty()) {
                    out.push(Piece::Text {
                        index,
                        text: text.to_string(),
                    });
                }
                if choice.get("finish_reason").is_some_and(Value::is_string) {
                    finishes = true;
                    out.push(Piece::Finished { index });
                }
            }
            if let Some(usage) = value.get("usage").filter(|usage| usage.is_object()) {
                let prompt = count_at(usage, &["prompt_tokens"]);
                let completion = count_at(usage, &["completion_tokens"]);
                // Usage in the event that ends a choice counts that choice; usage in an event of
                // its own (OpenAI's last event) counts the whole answer.
                out.push(if finishes {
                    Piece::ChoiceUsage { prompt, completion }
                } else {
                    Piece::Usage { prompt, completion }
                });
            }
        }
        Wire::OllamaGenerate | Wire::OllamaChat => {
            let value = parse_json(data)?;
            if let Some(error) = value.get("error") {
                return Err(reported(error, 500));
            }
            let text = if wire == Wire::OllamaChat {
                text_at(&value, &["message", "content"])
            } else {
                text_at(&value, &["response"])
            };
            if let Some(text) = text.filter(|text| !text.is_empty()) {
                out.push(Piece::Text {
                    index: 0,
                    text: text.to_string(),
                });
            }
            if value.get("done").and_then(Value::as_bool) == Some(true) {
                out.push(Piece::Usage {
                    prompt: count_at(&value, &["prompt_eval_count"]),
                    completion: count_at(&value, &["eval_count"]),
                });
                out.push(Piece::Done);
            }
        }
        Wire::Llamacpp => {
            if data == "[DONE]" {
                out.push(Piece::Done);
                return Ok(());
            }
            let value = parse_json(data)?;
            if frame.event.as_deref() == Some("error") {
                return Err(reported(value.get("error").unwrap_or(&value), 500));
            }
            if let Some(error) = value.get("error") {
                return Err(reported(error, 500));
            }
            if let Some(text) = text_at(&value, &["content"]).filter(|text| !text.is_empty()) {
                out.push(Piece::Text {
                    index: 0,
                    text: text.to_string(),
                });
            }
            if value.get("stop").and_then(Value::as_bool) == Some(true) {
                let prompt = count_at(&value, &["tokens_evaluated"])
                    .or_else(|| count_at(&value, &["timings", "prompt_n"]));
                let completion = count_at(&value, &["tokens_predicted"])
                    .or_else(|| count_at(&value, &["timings", "predicted_n"]));
                out.push(Piece::Usage { prompt, completion });
                out.push(Piece::Done);
            }
        }
        Wire::Anthropic => {
            let value = parse_json(data)?;
            let kind = frame
                .event
                .as_deref()
                .or_else(|| value.get("type").and_then(Value::as_str))
                .unwrap_or_default();
            match kind {
                "message_start" => out.push(Piece::Usage {
                    prompt: count_at(&value, &["message", "usage", "input_tokens"]),
                    completion: None,
                }),
                "content_block_delta"
                    if text_at(&value, &["delta", "type"]) == Some("text_delta") =>
                {
                    if let Some(text) =
                        text_at(&value, &["delta", "text"]).filter(|text| !text.is_empty())
                    {
                        out.push(Piece::Text {
                            index: 0,
                            text: text.to_string(),
                        });
                    }
                }
                "message_delta" => out.push(Piece::Usage {
                    prompt: None,
                    completion: count_at(&value, &["usage", "output_tokens"]),
                }),
                "message_stop" => out.push(Piece::Done),
                "error" => {
                    let error = value.get("error").unwrap_or(&value);
                    let status = match text_at(error, &["type"]) {
                        Some("rate_limit_error") => 429,
                        Some("overloaded_error") => 529,
                        Some("authentication_error") => 401,
                        Some("permission_error") => 403,
                        Some("not_found_error") => 404,
                        Some("invalid_request_error") => 400,
                        _ => 500,
                    };
                    // Anthropic's errors carry a type, not a numeric code.
                    return Err(reported(error, status));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Decodes an answer a server sent whole, as one JSON document, although a stream was asked for
/// (some OpenAI-compatible servers ignore `stream`).
pub fn decode_whole(wire: Wire, data: &str, out: &mut Vec<Piece>) -> Result<(), WireError> {
    let value = parse_json(data.trim())?;
    if let Some(error) = value.get("error").filter(|error| !error.is_null()) {
        return Err(reported(error, 500));
    }
    match wire {
        Wire::OpenaiCompletions | Wire::OpenaiChat => {
            for choice in value
                .get("choices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let text = text_at(choice, &["text"])
                    .or_else(|| text_at(choice, &["message", "content"]))
                    .unwrap_or_default();
                out.push(Piece::Text {
                    index,
                    text: text.to_string(),
                });
            }
            if let Some(usage) = value.get("usage") {
                out.push(Piece::Usage {
                    prompt: count_at(usage, &["prompt_tokens"]),
                    completion: count_at(usage, &["completion_tokens"]),
                });
            }
        }
        Wire::Anthropic => {
            let blocks = value
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            let text: String = blocks
                .filter_map(|block| text_at(block, &["text"]))
                .collect();
            out.push(Piece::Text { index: 0, text });
            out.push(Piece::Usage {
                prompt: count_at(&value, &["usage", "input_tokens"]),
                completion: count_at(&value, &["usage", "output_tokens"]),
            });
        }
        Wire::Llamacpp | Wire::OllamaGenerate | Wire::OllamaChat => {
            let frame = Frame {
                event: None,
                data: data.to_string(),
            };
            decode(wire, &frame, out)?;
            if !out.contains(&Piece::Done) && wire == Wire::Llamacpp {
                // A whole llama.cpp answer may leave out `stop`.
                out.push(Piece::Done);
            }
            return Ok(());
        }
    }
    out.push(Piece::Done);
    Ok(())
}

/// The candidates' texts, each cut at its first stop sequence, or at the most bytes kept.
#[derive(Debug)]
pub struct Accumulator {
    texts: Vec<String>,
    stopped: Vec<bool>,
    /// Whether any text arrived for the candidate.
    heard: Vec<bool>,
    /// Whether the server said the candidate is complete.
    finished: Vec<bool>,
    stop: Vec<String>,
    longest_stop: usize,
    /// The most bytes kept per candidate; a candidate that reaches it is stopped.
    max_bytes: usize,
    /// Whether a candidate was cut at `max_bytes`.
    capped: bool,
    /// Whether text came for a candidate the server had already ended: the server (a proxy,
    /// typically) sent several choices under one index. (A repeated end alone joins nothing.)
    merged: bool,
}

/// Servers that send more candidates than asked for are cut off here.
const MAX_CANDIDATES: usize = 64;

impl Accumulator {
    pub fn new(candidates: usize, stop: &[String]) -> Accumulator {
        let stop: Vec<String> = stop
            .iter()
            .filter(|stop| !stop.is_empty())
            .cloned()
            .collect();
        let longest_stop = stop.iter().map(String::len).max().unwrap_or(0);
        let candidates = candidates.clamp(1, MAX_CANDIDATES);
        Accumulator {
            texts: vec![String::new(); candidates],
            stopped: vec![false; candidates],
            heard: vec![false; candidates],
            finished: vec![false; candidates],
            stop,
            longest_stop,
            max_bytes: usize::MAX,
            capped: false,
            merged: false,
        }
    }

    /// Keeps at most `max_bytes` of each candidate (cut at a character boundary).
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Accumulator {
        self.max_bytes = max_bytes;
        self
    }

    /// Whether a candidate was cut because it reached the most bytes kept.
    pub fn capped(&self) -> bool {
        self.capped
    }

    /// Appends text to candidate `index`; returns whether it reached a stop sequence.
    pub fn push(&mut self, index: usize, text: &str) -> bool {
        if index >= MAX_CANDIDATES {
            return false;
        }
        self.grow(index);
        self.heard[index] = true;
        if self.finished[index] && !text.is_empty() {
            self.merged = true;
        }
        if self.stopped[index] {
            return true;
        }
        let target = &mut self.texts[index];
        let old_len = target.len();
        // Text past the most kept is not copied, except what a stop sequence there may need.
        let room = self
            .max_bytes
            .saturating_sub(old_len)
            .saturating_add(self.longest_stop);
        let trimmed = text.len() > room;
        let text = if trimmed {
            &text[..char_boundary_at_or_before(text, room)]
        } else {
            text
        };
        target.push_str(text);
        // A stop sequence may begin in text that arrived earlier.
        let mut from = old_len.saturating_sub(self.longest_stop.saturating_sub(1));
        while !target.is_char_boundary(from) {
            from -= 1;
        }
        let cut = self
            .stop
            .iter()
            .filter_map(|stop| target[from..].find(stop.as_str()).map(|at| from + at))
            .min();
        if let Some(cut) = cut.filter(|&cut| cut <= self.max_bytes) {
            target.truncate(cut);
            self.stopped[index] = true;
        } else if trimmed || target.len() > self.max_bytes {
            let cut = char_boundary_at_or_before(target, self.max_bytes);
            target.truncate(cut);
            self.stopped[index] = true;
            self.capped = true;
        }
        self.stopped[index]
    }

    fn grow(&mut self, index: usize) {
        if index >= self.texts.len() {
            self.texts.resize(index + 1, String::new());
            self.stopped.resize(index + 1, false);
            self.heard.resize(index + 1, false);
            self.finished.resize(index + 1, false);
        }
    }

    /// Notes that the server said candidate `index` is complete.
    pub fn finish(&mut self, index: usize) {
        if index < MAX_CANDIDATES {
            self.grow(index);
            self.finished[index] = true;
        }
    }

    /// Whether the server sent several choices under one index (text after the end of a
    /// choice): their texts are joined and useless.
    pub fn merged_choices(&self) -> bool {
        self.merged
    }

    /// Whether every candidate has reached a stop sequence.
    pub fn all_stopped(&self) -> bool {
        self.stopped.iter().all(|&stopped| stopped)
    }

    /// Whether the server said some candidate is complete, and every candidate it sent is
    /// complete or stopped.
    pub fn all_finished(&self) -> bool {
        self.finished.iter().any(|&finished| finished)
            && (0..self.texts.len())
                .all(|index| self.finished[index] || self.stopped[index] || !self.heard[index])
    }

    /// The texts; candidates the server never sent (it gave fewer than asked) are left out,
    /// except the first, which may be an empty answer.
    pub fn into_texts(self) -> Vec<String> {
        self.texts
            .into_iter()
            .zip(self.heard)
            .enumerate()
            .filter(|(index, (_, heard))| *index == 0 || *heard)
            .map(|(_, (text, _))| text)
            .collect()
    }
}

/// The largest character boundary of `text` at or before `at`.
fn char_boundary_at_or_before(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Cuts `text` at the first of the stop sequences.
pub fn cut_at_stop(text: &str, stop: &[String]) -> String {
    let mut accumulator = Accumulator::new(1, stop);
    accumulator.push(0, text);
    accumulator.into_texts().pop().unwrap_or_default()
}

fn wire_error(target: &Target, error: WireError, key: Option<&ApiKey>) -> crate::llm::ModelError {
    match error {
        WireError::Malformed(detail) => target.bad_response(redact(&detail, key)),
        WireError::Reported { status, message } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body =
                serde_json::json!({ "error": { "message": redact(&message, key) } }).to_string();
            target.status_error(status, &reqwest::header::HeaderMap::new(), &body, key)
        }
    }
}

/// Sends a streaming request and reads its answer under the target's timeouts.
pub async fn stream_answer(
    target: &Target,
    builder: RequestBuilder,
    key: Option<&ApiKey>,
    wire: Wire,
    stop: &[String],
    candidates: usize,
) -> ModelResult<Generation> {
    stream_answer_noting(target, builder, key, wire, stop, candidates)
        .await
        .map(|(generation, _)| generation)
}

/// What a stream showed besides its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamNotes {
    /// The server sent several choices under one index (see [`Accumulator::merged_choices`]).
    pub merged_choices: bool,
}

/// [`stream_answer`], and what the stream showed besides.
pub async fn stream_answer_noting(
    target: &Target,
    builder: RequestBuilder,
    key: Option<&ApiKey>,
    wire: Wire,
    stop: &[String],
    candidates: usize,
) -> ModelResult<(Generation, StreamNotes)> {
    let started = Instant::now();
    let total_deadline = started + target.timeout;
    let first_deadline = (started + target.first_token_timeout).min(total_deadline);
    let first_wait = if target.first_token_timeout < target.timeout {
        (FIRST_TOKEN, target.first_token_timeout)
    } else {
        (WHOLE_ANSWER, target.timeout)
    };
    let response = target
        .send(builder, key, first_deadline, first_wait.0, first_wait.1)
        .await?;
    let whole_json = !wire.is_ndjson()
        && response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
    if whole_json {
        return whole_answer(
            target,
            response,
            key,
            wire,
            stop,
            candidates,
            total_deadline,
        )
        .await
        .map(|generation| (generation, StreamNotes::default()));
    }
    let mut body = response.bytes_stream();
    let mut framer = Framer::new(wire);
    let mut accumulator =
        Accumulator::new(candidates, stop).with_max_bytes(target.max_answer_bytes);
    let mut generation = Generation::default();
    // Usage counted per finished choice, for servers that report it so.
    let mut choice_usage: (Option<u64>, Option<u64>) = (None, None);
    let mut frames = Vec::new();
    let mut pieces = Vec::new();
    let mut first_token_at = None;
    let mut done = false;
    let mut ended = false;
    while !done && !ended && !accumulator.all_stopped() {
        let (deadline, (what, after)) = if first_token_at.is_some() {
            (total_deadline, (WHOLE_ANSWER, target.timeout))
        } else {
            (first_deadline, first_wait)
        };
        let next = match tokio::time::timeout_at(deadline, body.next()).await {
            Err(_) => return Err(target.timeout(what, after)),
            Ok(next) => next,
        };
        frames.clear();
        let framed = match next {
            None => {
                ended = true;
                framer.finish(&mut frames)
            }
            Some(Err(error)) => return Err(target.transport_error(&error, key)),
            Some(Ok(bytes)) => framer.push(&bytes, &mut frames),
        };
        framed.map_err(|error| wire_error(target, error, key))?;
        for frame in &frames {
            pieces.clear();
            decode(wire, frame, &mut pieces).map_err(|error| wire_error(target, error, key))?;
            for piece in pieces.drain(..) {
                match piece {
                    Piece::Text { index, text } => {
                        first_token_at.get_or_insert_with(Instant::now);
                        accumulator.push(index, &text);
                    }
                    Piece::Usage { prompt, completion } => {
                        generation.prompt_tokens = prompt.or(generation.prompt_tokens);
                        generation.completion_tokens = completion.or(generation.completion_tokens);
                    }
                    Piece::ChoiceUsage { prompt, completion } => {
                        choice_usage.0 = crate::llm::add_counts(choice_usage.0, prompt);
                        choice_usage.1 = crate::llm::add_counts(choice_usage.1, completion);
                    }
                    Piece::Finished { index } => accumulator.finish(index),
                    Piece::Done => done = true,
                }
            }
            if done || accumulator.all_stopped() {
                break;
            }
        }
    }
    if done {
        // Read the end of the body when it is already here, so the connection can be reused.
        while let Some(Some(Ok(_))) = body.next().now_or_never() {}
    }
    let stopped = accumulator.all_stopped();
    // Some OpenAI-compatible servers end the stream without `data: [DONE]`; a stream whose
    // choices all came with a `finish_reason` is complete all the same.
    let finished = ended && accumulator.all_finished();
    if !done && !stopped && !finished {
        return Err(
            target.bad_response("the stream ended before the server said the answer was complete")
        );
    }
    tracing::debug!(
        backend = target.backend.name(),
        first_token_ms = first_token_at.map(|at| (at - started).as_millis() as u64),
        total_ms = started.elapsed().as_millis() as u64,
        stopped_early = stopped && !done,
        "model answer streamed"
    );
    if accumulator.capped() {
        tracing::warn!(
            max_answer_bytes = target.max_answer_bytes,
            "the model's answer was cut at `model.max_answer_bytes`"
        );
    }
    if generation.prompt_tokens.is_none() && generation.completion_tokens.is_none() {
        (generation.prompt_tokens, generation.completion_tokens) = choice_usage;
    }
    let notes = StreamNotes {
        merged_choices: accumulator.merged_choices(),
    };
    generation.candidates = accumulator.into_texts();
    Ok((generation, notes))
}

/// Reads an answer sent as one JSON document.
async fn whole_answer(
    target: &Target,
    response: reqwest::Response,
    key: Option<&ApiKey>,
    wire: Wire,
    stop: &[String],
    candidates: usize,
    deadline: Instant,
) -> ModelResult<Generation> {
    // JSON escapes a byte of text in at most six (`\u001f`).
    let limit = target
        .max_answer_bytes
        .saturating_mul(6 * candidates.max(1))
        .saturating_add(64 * 1024);
    let body = match tokio::time::timeout_at(deadline, read_limited(response, limit)).await {
        Err(_) => return Err(target.timeout(WHOLE_ANSWER, target.timeout)),
        Ok(Err(error)) => return Err(target.transport_error(&error, key)),
        Ok(Ok((_, false))) => {
            return Err(target.bad_response(format!(
                "an answer of more than {limit} bytes, past `model.max_answer_bytes`"
            )))
        }
        Ok(Ok((body, true))) => String::from_utf8_lossy(&body).into_owned(),
    };
    let mut pieces = Vec::new();
    decode_whole(wire, &body, &mut pieces).map_err(|error| wire_error(target, error, key))?;
    let mut accumulator =
        Accumulator::new(candidates, stop).with_max_bytes(target.max_answer_bytes);
    let mut generation = Generation::default();
    for piece in pieces {
        match piece {
            Piece::Text { index, text } => {
                accumulator.push(index, &text);
            }
            Piece::Usage { prompt, completion } => {
                generation.prompt_tokens = prompt.or(generation.prompt_tokens);
                generation.completion_tokens = completion.or(generation.completion_tokens);
            }
            Piece::ChoiceUsage { prompt, completion } => {
                generation.prompt_tokens = crate::llm::add_counts(generation.prompt_tokens, prompt);
                generation.completion_tokens =
                    crate::llm::add_counts(generation.completion_tokens, completion);
            }
            Piece::Finished { .. } | Piece::Done => {}
        }
    }
    generation.candidates = accumulator.into_texts();
    Ok(generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_after_a_choice_ended_means_choices_were_merged() {
        let mut accumulator = Accumulator::new(2, &[]);
        accumulator.push(0, "a");
        accumulator.push(1, "b");
        accumulator.finish(0);
        accumulator.finish(1);
        // Some servers repeat the end with the usage; that joins nothing.
        accumulator.finish(0);
        accumulator.push(0, "");
        assert!(!accumulator.merged_choices());
        accumulator.push(0, "c");
        assert!(accumulator.merged_choices());
    }

    #[test]
    fn answers_are_cut_at_the_most_bytes_kept() {
        let stop = vec!["\n\n".to_string()];
        let mut accumulator = Accumulator::new(2, &stop).with_max_bytes(10);
        assert!(!accumulator.push(0, "abc"));
        assert!(accumulator.push(0, &"é".repeat(1_000_000)));
        assert!(accumulator.push(1, "short\n\nrest"));
        assert!(accumulator.all_stopped() && accumulator.capped());
        assert_eq!(accumulator.into_texts(), ["abcééé", "short"]);
        // A stop sequence that begins within the limit still cuts there.
        let mut accumulator = Accumulator::new(1, &stop).with_max_bytes(4);
        assert!(accumulator.push(0, "abc\n\nxyz"));
        assert!(!accumulator.capped());
        assert_eq!(accumulator.into_texts(), ["abc"]);
    }

    #[test]
    fn whole_answers_are_read_too() {
        let mut out = Vec::new();
        decode_whole(
            Wire::OpenaiChat,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"x"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                Piece::Text {
                    index: 0,
                    text: "x".into()
                },
                Piece::Usage {
                    prompt: Some(3),
                    completion: Some(1)
                },
                Piece::Done
            ]
        );
        out.clear();
        decode_whole(
            Wire::Anthropic,
            r#"{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"usage":{"input_tokens":4,"output_tokens":2}}"#,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out[0],
            Piece::Text {
                index: 0,
                text: "ab".into()
            }
        );
        out.clear();
        decode_whole(Wire::Llamacpp, r#"{"content":"z"}"#, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                Piece::Text {
                    index: 0,
                    text: "z".into()
                },
                Piece::Done
            ]
        );
    }

    fn frames(wire: Wire, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut framer = Framer::new(wire);
        let mut out = Vec::new();
        for chunk in chunks {
            framer.push(chunk, &mut out).unwrap();
        }
        framer.finish(&mut out).unwrap();
        out
    }

    fn pieces(wire: Wire, chunks: &[&[u8]]) -> Result<Vec<Piece>, WireError> {
        let mut out = Vec::new();
        for frame in frames(wire, chunks) {
            decode(wire, &frame, &mut out)?;
        }
        Ok(out)
    }

    fn text(index: usize, text: &str) -> Piece {
        Piece::Text {
            index,
            text: text.into(),
        }
    }

    #[test]
    fn sse_events_survive_any_chunking() {
        let stream = "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"é€\"}}\r\n\r\n: ping\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let whole = pieces(Wire::Anthropic, &[stream.as_bytes()]).unwrap();
        assert_eq!(whole, vec![text(0, "é€"), Piece::Done]);
        let bytes = stream.as_bytes();
        for split in 1..bytes.len() {
            assert_eq!(
                pieces(Wire::Anthropic, &[&bytes[..split], &bytes[split..]]).unwrap(),
                whole,
                "split at {split}"
            );
        }
    }

    #[test]
    fn multi_line_data_is_joined() {
        assert_eq!(
            frames(Wire::Llamacpp, &[b"data: {\"content\":\ndata: \"x\"}\n\n"]),
            vec![Frame {
                event: None,
                data: "{\"content\":\n\"x\"}".into()
            }]
        );
    }

    #[test]
    fn openai_candidates_usage_and_done() {
        let stream = b"data: {\"choices\":[{\"index\":0,\"text\":\"a\"},{\"index\":1,\"text\":\"b\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            pieces(Wire::OpenaiCompletions, &[stream]).unwrap(),
            vec![
                text(0, "a"),
                text(1, "b"),
                Piece::Usage {
                    prompt: Some(5),
                    completion: Some(2)
                },
                Piece::Done
            ]
        );
        let chat = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n";
        assert_eq!(
            pieces(Wire::OpenaiChat, &[chat]).unwrap(),
            vec![text(0, "x")]
        );
    }

    #[test]
    fn ollama_lines_and_final_counts() {
        let stream = b"{\"response\":\"de\",\"done\":false}\n{\"response\":\"f\",\"done\":false}\n{\"response\":\"\",\"done\":true,\"prompt_eval_count\":9,\"eval_count\":2}";
        assert_eq!(
            pieces(Wire::OllamaGenerate, &[stream]).unwrap(),
            vec![
                text(0, "de"),
                text(0, "f"),
                Piece::Usage {
                    prompt: Some(9),
                    completion: Some(2)
                },
                Piece::Done
            ]
        );
        let chat = b"{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"done\":false}\n";
        assert_eq!(
            pieces(Wire::OllamaChat, &[chat]).unwrap(),
            vec![text(0, "hi")]
        );
    }

    #[test]
    fn llamacpp_stop_flag_ends_the_answer() {
        let stream = b"data: {\"content\":\"x\",\"stop\":false}\n\ndata: {\"content\":\"\",\"stop\":true,\"tokens_evaluated\":30,\"tokens_predicted\":1}\n\n";
        assert_eq!(
            pieces(Wire::Llamacpp, &[stream]).unwrap(),
            vec![
                text(0, "x"),
                Piece::Usage {
                    prompt: Some(30),
                    completion: Some(1)
                },
                Piece::Done
            ]
        );
    }

    #[test]
    fn errors_inside_streams_are_reported() {
        let malformed = pieces(Wire::OpenaiChat, &[b"data: {\"choices\": [\n\n"]).unwrap_err();
        assert!(
            matches!(malformed, WireError::Malformed(_)),
            "{malformed:?}"
        );
        let ollama =
            pieces(Wire::OllamaGenerate, &[b"{\"error\":\"out of memory\"}\n"]).unwrap_err();
        assert_eq!(
            ollama,
            WireError::Reported {
                status: 500,
                message: "out of memory".into()
            }
        );
        let anthropic = pieces(Wire::Anthropic, &[b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"]).unwrap_err();
        assert_eq!(
            anthropic,
            WireError::Reported {
                status: 529,
                message: "Overloaded".into()
            }
        );
        let llamacpp = pieces(
            Wire::Llamacpp,
            &[b"error: {\"code\":503,\"message\":\"Loading model\"}\n\n"],
        )
        .unwrap_err();
        assert_eq!(
            llamacpp,
            WireError::Reported {
                status: 503,
                message: "Loading model".into()
            }
        );
        let utf8 = Framer::new(Wire::OllamaChat)
            .push(b"\xff\xfe\n", &mut Vec::new())
            .unwrap_err();
        assert!(matches!(utf8, WireError::Malformed(_)));
    }

    #[test]
    fn stop_sequences_cut_across_pieces() {
        let stop = vec!["\ndef ".to_string(), "<|file_sep|>".to_string()];
        let mut accumulator = Accumulator::new(1, &stop);
        assert!(!accumulator.push(0, "return a\n"));
        assert!(!accumulator.push(0, "\nde"));
        assert!(accumulator.push(0, "f g():"));
        assert!(accumulator.push(0, "more"));
        assert_eq!(accumulator.into_texts(), vec!["return a\n".to_string()]);
        assert_eq!(cut_at_stop("x = 1<|file_sep|>other.py", &stop), "x = 1");
        assert_eq!(cut_at_stop("héllo", &["llo".into()]), "hé");
    }

    #[test]
    fn candidates_the_server_did_not_send_are_left_out() {
        let mut accumulator = Accumulator::new(3, &[]);
        accumulator.push(0, "a");
        accumulator.push(2, "c");
        assert_eq!(
            accumulator.into_texts(),
            vec!["a".to_string(), "c".to_string()]
        );
        assert_eq!(Accumulator::new(2, &[]).into_texts(), vec![String::new()]);
    }

    #[test]
    fn every_candidate_must_stop_before_reading_ends() {
        let stop = vec!["END".to_string()];
        let mut accumulator = Accumulator::new(2, &stop);
        accumulator.push(1, "aEND");
        assert!(!accumulator.all_stopped());
        accumulator.push(0, "bEND");
        assert!(accumulator.all_stopped());
        assert_eq!(
            accumulator.into_texts(),
            vec!["b".to_string(), "a".to_string()]
        );
    }
}
