//! The stdio framing in front of tower-lsp-server, so that bad input cannot stop the server.
//!
//! tower-lsp-server ends its read loop at the first message it cannot decode (a body that is not
//! JSON, not UTF-8, or not a JSON-RPC message), which would end the session. Here every frame is
//! read and validated first: a good frame is passed on unchanged, a bad one gets the JSON-RPC error
//! response the specification asks for (parse error or invalid request), written between whole
//! frames of the server's own output, and the server goes on serving.

use bytes::{Buf, BytesMut};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The largest message body accepted (a 20 MB file sent as JSON fits with room to spare).
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// The longest header line kept; the bytes of a longer line are dropped as they arrive.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// The header every frame starts with, compared without regard to case.
const CONTENT_LENGTH: &[u8] = b"content-length:";

/// One framed message, or the end of a stream.
enum Frame {
    Body(BytesMut),
    /// The header could not be read; carry on with the next one.
    BadHeader(String),
    /// The declared body is larger than [`MAX_BODY_BYTES`]; it was skipped.
    TooLarge(usize),
    /// The next frame's header came `found` bytes into a body declared `declared` bytes long.
    Cut {
        declared: usize,
        found: usize,
    },
    End,
}

/// Reads `Content-Length`-framed messages, and finds the next frame again after a frame whose
/// `Content-Length` is wrong.
///
/// A header line `Content-Length: N` cannot occur inside a JSON body (a raw line break may not
/// stand in a string, and outside strings the words are not JSON), so a body is cut where such a
/// line begins: a length too large then costs only the frame itself, not the frames it would have
/// swallowed. A length too small leaves the rest of the body before the next header, where it is
/// skipped as garbage. Bodies are buffered only as their bytes arrive, never by their declared size.
struct FrameReader<R> {
    input: R,
    /// Bytes read and not yet taken.
    buffer: BytesMut,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    fn new(input: R) -> Self {
        FrameReader {
            input,
            buffer: BytesMut::with_capacity(64 * 1024),
        }
    }

    /// Reads more input into the buffer; false at the end of the input.
    async fn fill(&mut self) -> std::io::Result<bool> {
        self.buffer.reserve(64 * 1024);
        Ok(self.input.read_buf(&mut self.buffer).await? > 0)
    }

    /// Reads one frame.
    async fn read_frame(&mut self) -> std::io::Result<Frame> {
        match self.read_header().await? {
            Ok(length) => self.read_body(length).await,
            Err(frame) => Ok(frame),
        }
    }

    /// Reads a block of header lines and returns its `Content-Length`.
    async fn read_header(&mut self) -> std::io::Result<Result<usize, Frame>> {
        let mut content_length: Option<usize> = None;
        let mut saw_header = false;
        let mut bad = None;
        loop {
            let Some(newline) = self.buffer.iter().position(|&byte| byte == b'\n') else {
                if self.buffer.len() > MAX_HEADER_LINE {
                    // Keep only what may be the start of the next header.
                    let keep = rfind_content_length(&self.buffer)
                        .map(|at| self.buffer.len() - at)
                        .filter(|&keep| keep <= MAX_HEADER_LINE)
                        .unwrap_or(CONTENT_LENGTH.len() - 1);
                    self.buffer.advance(self.buffer.len() - keep);
                    saw_header = true;
                    bad = Some(format!("a header line longer than {MAX_HEADER_LINE} bytes"));
                }
                if !self.fill().await? {
                    return Ok(Err(Frame::End));
                }
                continue;
            };
            let line = self.buffer.split_to(newline + 1);
            let mut text = String::from_utf8_lossy(&line);
            // The rest of a body shorter than its `Content-Length` said may stand before the next
            // header on the same line; it is skipped with the lines of garbage before it.
            if let Some(at) = rfind_content_length(&line).filter(|&at| at > 0 || bad.is_some()) {
                tracing::warn!(skipped = at, "bytes before a Content-Length header skipped");
                text = String::from_utf8_lossy(&line[at..]);
                bad = None;
            }
            let text = text.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if saw_header {
                    break;
                }
                continue;
            }
            saw_header = true;
            match text.split_once(':') {
                Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                    match value.trim().parse() {
                        Ok(length) => content_length = Some(length),
                        Err(_) => bad = Some(format!("invalid Content-Length `{}`", value.trim())),
                    }
                }
                // Other headers are tolerated; a line that is no header at all is garbage.
                Some(_) => {}
                None => {
                    bad = Some(format!(
                        "unexpected header line `{}`",
                        text.chars().take(80).collect::<String>()
                    ))
                }
            }
        }
        if let Some(reason) = bad {
            return Ok(Err(Frame::BadHeader(reason)));
        }
        Ok(content_length.ok_or_else(|| Frame::BadHeader("missing Content-Length".into())))
    }

    /// Takes a body of `length` bytes, or fewer when the next frame's header starts inside it.
    async fn read_body(&mut self, length: usize) -> std::io::Result<Frame> {
        // Bytes of a body too large to keep, already dropped.
        let mut dropped = 0;
        // The buffer's first `scanned` bytes hold no header line.
        let mut scanned = 0;
        loop {
            let declared_here = (length - dropped).min(self.buffer.len());
            let mut unsure = false;
            match next_header_line(&self.buffer, scanned, declared_here) {
                HeaderLine::At(at) => {
                    self.buffer.advance(at);
                    return Ok(Frame::Cut {
                        declared: length,
                        found: dropped + at,
                    });
                }
                HeaderLine::Unsure(at) => {
                    scanned = at;
                    unsure = true;
                }
                HeaderLine::None => scanned = declared_here,
            }
            if !unsure && dropped + declared_here == length {
                if length > MAX_BODY_BYTES {
                    self.buffer.advance(declared_here);
                    return Ok(Frame::TooLarge(length));
                }
                return Ok(Frame::Body(self.buffer.split_to(length)));
            }
            if length > MAX_BODY_BYTES {
                self.buffer.advance(scanned);
                dropped += scanned;
                scanned = 0;
            }
            if !self.fill().await? {
                return Ok(Frame::End);
            }
        }
    }
}

/// Where `Content-Length:` last occurs in `bytes`, whatever its case.
fn rfind_content_length(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(CONTENT_LENGTH.len())
        .rposition(|window| window.eq_ignore_ascii_case(CONTENT_LENGTH))
}

/// Whether a header line `Content-Length: N` starts in a range of a buffer.
enum HeaderLine {
    At(usize),
    /// One may start here; the buffer ends before it can be told.
    Unsure(usize),
    None,
}

/// Looks for a line `Content-Length: N` starting in `buffer[from..to]` (it may end past `to`).
fn next_header_line(buffer: &[u8], from: usize, to: usize) -> HeaderLine {
    for start in from..to {
        if buffer[start].to_ascii_lowercase() != CONTENT_LENGTH[0] {
            continue;
        }
        let rest = &buffer[start..];
        let name = &rest[..rest.len().min(CONTENT_LENGTH.len())];
        if !name.eq_ignore_ascii_case(&CONTENT_LENGTH[..name.len()]) {
            continue;
        }
        if name.len() < CONTENT_LENGTH.len() {
            return HeaderLine::Unsure(start);
        }
        // Blanks, at most 20 digits, blanks, then the end of the line.
        let value = &rest[CONTENT_LENGTH.len()..];
        let blanks = value
            .iter()
            .take(65)
            .take_while(|byte| matches!(byte, b' ' | b'\t'))
            .count();
        let digits = value[blanks..]
            .iter()
            .take(21)
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        let trailing = value[blanks + digits..]
            .iter()
            .take(65)
            .take_while(|byte| matches!(byte, b' ' | b'\t'))
            .count();
        if blanks > 64 || digits > 20 || trailing > 64 {
            continue;
        }
        let end = &value[blanks + digits + trailing..];
        match end {
            [] | [b'\r'] => return HeaderLine::Unsure(start),
            [b'\n', ..] | [b'\r', b'\n', ..] if digits > 0 => return HeaderLine::At(start),
            _ => continue,
        }
    }
    HeaderLine::None
}

/// The method that tells the server an edit to a document could not be read; `ordered.rs` marks
/// the document out of sync. (`$/` notifications the server does not know are ignored.)
pub const EDIT_UNREADABLE: &str = "$/spackle/editUnreadable";

/// For a `didChange` whose JSON cannot be read only because of an unpaired UTF-16 surrogate
/// escape (`"\ud800"`, which no Rust string can hold): the document's URI.
fn uri_of_unreadable_change(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains("\\u") {
        return None;
    }
    // Every `\uXXXX` escape becomes a plain character: enough to read the method and the URI.
    let mut repaired = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\u") {
        let escaped = rest[..at].chars().rev().take_while(|&c| c == '\\').count() % 2 == 1;
        repaired.push_str(&rest[..at]);
        let hex = rest.get(at + 2..at + 6);
        if !escaped && hex.is_some_and(|hex| hex.chars().all(|c| c.is_ascii_hexdigit())) {
            repaired.push('?');
            rest = &rest[at + 6..];
        } else {
            repaired.push_str(&rest[at..at + 2]);
            rest = &rest[at + 2..];
        }
    }
    repaired.push_str(rest);
    let value: Value = serde_json::from_str(&repaired).ok()?;
    if value.get("method")? != "textDocument/didChange" {
        return None;
    }
    value["params"]["textDocument"]["uri"]
        .as_str()
        .map(str::to_string)
}

/// Why a body is not a JSON-RPC message: the error code and message, and the id if one was readable.
fn validate(body: &[u8]) -> Result<(), (i64, String, Value)> {
    let text = std::str::from_utf8(body).map_err(|_| {
        (
            -32700,
            "Parse error: the message is not UTF-8".to_string(),
            Value::Null,
        )
    })?;
    let value: Value = serde_json::from_str(text)
        .map_err(|error| (-32700, format!("Parse error: {error}"), Value::Null))?;
    let Some(object) = value.as_object() else {
        return Err((
            -32600,
            "Invalid request: not a JSON object".into(),
            Value::Null,
        ));
    };
    let id = object.get("id").cloned().unwrap_or(Value::Null);
    let id_ok = matches!(id, Value::Null | Value::Number(_) | Value::String(_));
    let reply_id = if id_ok { id.clone() } else { Value::Null };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err((
            -32600,
            "Invalid request: `jsonrpc` must be \"2.0\"".into(),
            reply_id,
        ));
    }
    if !id_ok {
        return Err((
            -32600,
            "Invalid request: `id` must be a number or a string".into(),
            Value::Null,
        ));
    }
    // tower-lsp-server reads numeric ids as i64 and would end the session on `1.5` or `1e300`.
    if id.is_number() && !id.is_i64() {
        let message = "Invalid request: a numeric `id` must be an integer that fits in 64 bits";
        return Err((-32600, message.into(), reply_id));
    }
    match object.get("method") {
        Some(Value::String(_)) => match object.get("params") {
            None | Some(Value::Object(_)) | Some(Value::Array(_)) | Some(Value::Null) => Ok(()),
            Some(_) => Err((
                -32600,
                "Invalid request: `params` must be an object or an array".into(),
                reply_id,
            )),
        },
        Some(_) => Err((
            -32600,
            "Invalid request: `method` must be a string".into(),
            reply_id,
        )),
        None if object.contains_key("id")
            && (object.contains_key("result") || object.contains_key("error")) =>
        {
            Ok(())
        }
        None => Err((-32600, "Invalid request: no `method`".into(), reply_id)),
    }
}

fn frame(body: &str) -> Vec<u8> {
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

fn error_frame(code: i64, message: &str, id: Value) -> Vec<u8> {
    frame(
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            .to_string(),
    )
}

/// Copies valid frames from `input` to `to_server`; answers bad ones through `replies`.
async fn pump_input<R, W>(input: R, mut to_server: W, replies: mpsc::UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = FrameReader::new(input);
    loop {
        let frame_result = reader.read_frame().await;
        let reply = match frame_result {
            Ok(Frame::Body(body)) => match validate(&body) {
                Ok(()) => {
                    tracing::trace!(body = %String::from_utf8_lossy(&body[..body.len().min(120)]), "from the client");
                    let mut header = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                    header.extend_from_slice(&body);
                    if to_server.write_all(&header).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err((code, message, id)) => {
                    tracing::warn!(code, %message, "bad message from the client");
                    if let Some(uri) = uri_of_unreadable_change(&body) {
                        // The edit is lost: the server must stop trusting its copy of the text.
                        let notice = json!({"jsonrpc": "2.0", "method": EDIT_UNREADABLE, "params": {"uri": uri, "reason": message}}).to_string();
                        if to_server.write_all(&frame(&notice)).await.is_err() {
                            return;
                        }
                        let message = format!("{message}; the edit to {uri} was not applied: send the document's whole text again");
                        error_frame(code, &message, id)
                    } else {
                        error_frame(code, &message, id)
                    }
                }
            },
            Ok(Frame::BadHeader(reason)) => {
                tracing::warn!(%reason, "bad message header from the client");
                error_frame(-32700, &format!("Parse error: {reason}"), Value::Null)
            }
            Ok(Frame::Cut { declared, found }) => {
                tracing::warn!(
                    declared,
                    found,
                    "a message shorter than its Content-Length, skipped"
                );
                let message = format!(
                    "Parse error: the Content-Length header said {declared} bytes, but the next message began after {found}"
                );
                error_frame(-32700, &message, Value::Null)
            }
            Ok(Frame::TooLarge(length)) => {
                tracing::warn!(length, "message too large, skipped");
                error_frame(-32600, &format!("Invalid request: a message of {length} bytes is larger than spackle accepts"), Value::Null)
            }
            Ok(Frame::End) | Err(_) => return,
        };
        if replies.send(reply).is_err() {
            return;
        }
    }
}

/// Reads whole frames of the server's output and queues them for stdout.
async fn pump_output<R: AsyncRead + Unpin>(from_server: R, frames: mpsc::UnboundedSender<Vec<u8>>) {
    let mut reader = FrameReader::new(from_server);
    loop {
        match reader.read_frame().await {
            Ok(Frame::Body(body)) => {
                tracing::trace!(body = %String::from_utf8_lossy(&body[..body.len().min(120)]), "to the client");
                let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                bytes.extend_from_slice(&body);
                if frames.send(bytes).is_err() {
                    return;
                }
            }
            Ok(Frame::BadHeader(_)) | Ok(Frame::TooLarge(_)) | Ok(Frame::Cut { .. }) => continue,
            Ok(Frame::End) | Err(_) => return,
        }
    }
}

/// Runs `serve` over validated streams: `serve` gets a reader of good frames and a writer whose
/// frames are interleaved, whole, with the error replies to bad ones.
pub async fn run<I, O, F, Fut>(input: I, output: O, serve: F)
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin,
    F: FnOnce(tokio::io::DuplexStream, tokio::io::DuplexStream) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (server_input, to_server) = tokio::io::duplex(1024 * 1024);
    let (server_output, from_server) = tokio::io::duplex(1024 * 1024);
    let (frames, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let input_task = tokio::spawn(pump_input(input, to_server, frames.clone()));
    let (done, mut finished) = tokio::sync::oneshot::channel::<()>();
    let output_task = async move {
        pump_output(from_server, frames).await;
        let _ = done.send(());
    };
    let writer = async move {
        let mut output = output;
        loop {
            let bytes = tokio::select! {
                biased;
                bytes = outgoing.recv() => match bytes {
                    Some(bytes) => bytes,
                    None => break,
                },
                _ = &mut finished => {
                    // The server has finished: write what is queued, then stop.
                    while let Ok(bytes) = outgoing.try_recv() {
                        if output.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    let _ = output.flush().await;
                    break;
                }
            };
            if output.write_all(&bytes).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    };
    let server = async move {
        serve(server_input, server_output).await;
    };
    // The server ends on `exit` or at the end of its input; its output is then dropped, the output
    // pump ends, and the writer drains what is left.
    tokio::join!(server, output_task, writer);
    input_task.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_tells_parse_errors_from_invalid_requests() {
        assert_eq!(validate(b"{nope").unwrap_err().0, -32700);
        assert_eq!(validate(&[0xff, 0xfe]).unwrap_err().0, -32700);
        assert_eq!(validate(br#"[1,2]"#).unwrap_err().0, -32600);
        assert_eq!(
            validate(br#"{"jsonrpc":"2.0","id":7}"#).unwrap_err(),
            (-32600, "Invalid request: no `method`".into(), json!(7))
        );
        assert_eq!(
            validate(br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#)
                .unwrap_err()
                .0,
            -32600
        );
        assert!(validate(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).is_ok());
        assert!(validate(br#"{"jsonrpc":"2.0","method":"exit"}"#).is_ok());
        assert!(validate(br#"{"jsonrpc":"2.0","id":"a","result":null}"#).is_ok());
    }

    #[test]
    fn ids_tower_lsp_server_cannot_read_are_invalid_requests() {
        for id in ["1.5", "1e300", "-0.5", "18446744073709551615"] {
            let body =
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{{}}}}"#);
            let (code, _, reply_id) = validate(body.as_bytes()).unwrap_err();
            assert_eq!(
                (code, reply_id),
                (-32600, serde_json::from_str::<Value>(id).unwrap()),
                "{id}"
            );
        }
        assert!(
            validate(br#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"initialize"}"#)
                .is_ok()
        );
    }

    /// Every frame of `input`, in a few words each.
    async fn frames(input: &[u8]) -> (Vec<String>, FrameReader<&[u8]>) {
        let mut reader = FrameReader::new(input);
        let mut frames = Vec::new();
        loop {
            frames.push(match reader.read_frame().await.unwrap() {
                Frame::Body(body) => format!("body {}", String::from_utf8_lossy(&body)),
                Frame::BadHeader(_) => "bad header".into(),
                Frame::TooLarge(length) => format!("too large {length}"),
                Frame::Cut { declared, found } => format!("cut {declared} at {found}"),
                Frame::End => return (frames, reader),
            });
        }
    }

    fn framed(length: usize, body: &str) -> String {
        format!("Content-Length: {length}\r\n\r\n{body}")
    }

    #[tokio::test]
    async fn frames_survive_garbage_between_them() {
        let input = format!("garbage\r\n\r\n{}{}", framed(2, "{}"), framed(5, "hello"));
        assert_eq!(
            frames(input.as_bytes()).await.0,
            ["bad header", "body {}", "body hello"]
        );
        // Garbage right before a header, on its line or on lines of its own, is skipped.
        let input = format!(
            "garbage\r\nmore: garbage\n}}}}{}{}",
            framed(2, "{}"),
            framed(5, "hello")
        );
        assert_eq!(frames(input.as_bytes()).await.0, ["body {}", "body hello"]);
    }

    #[tokio::test]
    async fn a_content_length_too_large_costs_only_its_own_frame() {
        let next = format!("{}{}", framed(2, "{}"), framed(5, "hello"));
        for declared in [
            20,
            9,
            8,
            100_000,
            200_000_000,
            MAX_BODY_BYTES + 1,
            usize::MAX,
        ] {
            let input = format!("{}{next}", framed(declared, "[1,2]"));
            let (frames, reader) = frames(input.as_bytes()).await;
            assert_eq!(
                frames,
                [
                    format!("cut {declared} at 5"),
                    "body {}".into(),
                    "body hello".into()
                ],
                "{declared}"
            );
            assert!(
                reader.buffer.capacity() < 1024 * 1024,
                "{declared}: {}",
                reader.buffer.capacity()
            );
        }
        // A body that mentions the header, as a document may, is not cut.
        let body = r#"{"text":"Content-Length: 5\r\n"}"#;
        let input = format!("{}{next}", framed(body.len(), body));
        assert_eq!(
            frames(input.as_bytes()).await.0,
            [
                format!("body {body}"),
                "body {}".into(),
                "body hello".into()
            ]
        );
    }

    #[tokio::test]
    async fn a_content_length_too_small_leaves_garbage_that_is_skipped() {
        let next = format!("{}{}", framed(2, "{}"), framed(5, "hello"));
        let input = format!("{}{next}", framed(3, "[1,\n2,\r\n3]"));
        assert_eq!(
            frames(input.as_bytes()).await.0,
            ["body [1,", "body {}", "body hello"]
        );
        // The rest of the body may be one long line: it is dropped as it arrives.
        let input = format!("{}{next}", framed(1, &"x".repeat(5_000_000)));
        let (frames, reader) = frames(input.as_bytes()).await;
        assert_eq!(frames, ["body x", "body {}", "body hello"]);
        assert!(
            reader.buffer.capacity() < 1024 * 1024,
            "{}",
            reader.buffer.capacity()
        );
    }
}
