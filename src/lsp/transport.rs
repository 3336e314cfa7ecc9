//! The stdio framing in front of tower-lsp-server, so that bad input cannot stop the server.
//!
//! tower-lsp-server ends its read loop at the first message it cannot decode (a body that is not
//! JSON, not UTF-8, or not a JSON-RPC message), which would end the session. Here every frame is
//! read and validated first: a good frame is passed on unchanged, a bad one gets the JSON-RPC error
//! response the specification asks for (parse error or invalid request), written between whole
//! frames of the server's own output, and the server goes on serving.

use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The largest message body accepted (a 20 MB file sent as JSON fits with room to spare).
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// One framed message, or the end of a stream.
enum Frame {
    Body(Vec<u8>),
    /// The header could not be read; carry on with the next one.
    BadHeader(String),
    /// The declared body is larger than [`MAX_BODY_BYTES`]; it was skipped.
    TooLarge(usize),
    End,
}

/// Reads one `Content-Length`-framed message.
async fn read_frame<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Frame> {
    let mut content_length: Option<usize> = None;
    let mut saw_header = false;
    let mut bad = None;
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(Frame::End);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            continue;
        }
        saw_header = true;
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => match value.trim().parse() {
                Ok(length) => content_length = Some(length),
                Err(_) => bad = Some(format!("invalid Content-Length `{}`", value.trim())),
            },
            // Other headers are tolerated; a line that is no header at all is garbage.
            Some(_) => {}
            None => bad = Some(format!("unexpected header line `{}`", text.chars().take(80).collect::<String>())),
        }
    }
    if let Some(reason) = bad {
        return Ok(Frame::BadHeader(reason));
    }
    let Some(length) = content_length else {
        return Ok(Frame::BadHeader("missing Content-Length".into()));
    };
    if length > MAX_BODY_BYTES {
        let skipped = tokio::io::copy(&mut reader.take(length as u64), &mut tokio::io::sink()).await?;
        if (skipped as usize) < length {
            return Ok(Frame::End);
        }
        return Ok(Frame::TooLarge(length));
    }
    let mut body = vec![0; length];
    match reader.read_exact(&mut body).await {
        Ok(_) => Ok(Frame::Body(body)),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Frame::End),
        Err(error) => Err(error),
    }
}

/// Why a body is not a JSON-RPC message: the error code and message, and the id if one was readable.
fn validate(body: &[u8]) -> Result<(), (i64, String, Value)> {
    let text = std::str::from_utf8(body).map_err(|_| (-32700, "Parse error: the message is not UTF-8".to_string(), Value::Null))?;
    let value: Value =
        serde_json::from_str(text).map_err(|error| (-32700, format!("Parse error: {error}"), Value::Null))?;
    let Some(object) = value.as_object() else {
        return Err((-32600, "Invalid request: not a JSON object".into(), Value::Null));
    };
    let id = object.get("id").cloned().unwrap_or(Value::Null);
    let id_ok = matches!(id, Value::Null | Value::Number(_) | Value::String(_));
    let reply_id = if id_ok { id.clone() } else { Value::Null };
    if object.get("jsonrpc") != Some(&json!("2.0")) {
        return Err((-32600, "Invalid request: `jsonrpc` must be \"2.0\"".into(), reply_id));
    }
    if !id_ok {
        return Err((-32600, "Invalid request: `id` must be a number or a string".into(), Value::Null));
    }
    // tower-lsp-server reads numeric ids as i64 and would end the session on `1.5` or `1e300`.
    if id.is_number() && !id.is_i64() {
        let message = "Invalid request: a numeric `id` must be an integer that fits in 64 bits";
        return Err((-32600, message.into(), reply_id));
    }
    match object.get("method") {
        Some(Value::String(_)) => match object.get("params") {
            None | Some(Value::Object(_)) | Some(Value::Array(_)) | Some(Value::Null) => Ok(()),
            Some(_) => Err((-32600, "Invalid request: `params` must be an object or an array".into(), reply_id)),
        },
        Some(_) => Err((-32600, "Invalid request: `method` must be a string".into(), reply_id)),
        None if object.contains_key("id") && (object.contains_key("result") || object.contains_key("error")) => Ok(()),
        None => Err((-32600, "Invalid request: no `method`".into(), reply_id)),
    }
}

fn frame(body: &str) -> Vec<u8> {
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

fn error_frame(code: i64, message: &str, id: Value) -> Vec<u8> {
    frame(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string())
}

/// Copies valid frames from `input` to `to_server`; answers bad ones through `replies`.
async fn pump_input<R, W>(input: R, mut to_server: W, replies: mpsc::UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    loop {
        let frame_result = read_frame(&mut reader).await;
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
                    error_frame(code, &message, id)
                }
            },
            Ok(Frame::BadHeader(reason)) => {
                tracing::warn!(%reason, "bad message header from the client");
                error_frame(-32700, &format!("Parse error: {reason}"), Value::Null)
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
    let mut reader = BufReader::new(from_server);
    loop {
        match read_frame(&mut reader).await {
            Ok(Frame::Body(body)) => {
                tracing::trace!(body = %String::from_utf8_lossy(&body[..body.len().min(120)]), "to the client");
                let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                bytes.extend_from_slice(&body);
                if frames.send(bytes).is_err() {
                    return;
                }
            }
            Ok(Frame::BadHeader(_)) | Ok(Frame::TooLarge(_)) => continue,
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
        assert_eq!(validate(br#"{"jsonrpc":"2.0","id":7}"#).unwrap_err(), (-32600, "Invalid request: no `method`".into(), json!(7)));
        assert_eq!(validate(br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#).unwrap_err().0, -32600);
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

    #[tokio::test]
    async fn frames_survive_garbage_between_them() {
        let input = b"garbage\r\n\r\nContent-Length: 2\r\n\r\n{}Content-Length: 5\r\n\r\nhello".to_vec();
        let mut reader = BufReader::new(&input[..]);
        assert!(matches!(read_frame(&mut reader).await.unwrap(), Frame::BadHeader(_)));
        match read_frame(&mut reader).await.unwrap() {
            Frame::Body(body) => assert_eq!(body, b"{}"),
            _ => panic!("expected a body"),
        }
        match read_frame(&mut reader).await.unwrap() {
            Frame::Body(body) => assert_eq!(body, b"hello"),
            _ => panic!("expected a body"),
        }
        assert!(matches!(read_frame(&mut reader).await.unwrap(), Frame::End));
    }
}
