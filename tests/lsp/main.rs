//! Integration tests: the real `spackle` binary, spoken to over LSP on stdio.

mod actions;
mod model;
mod robustness;
mod support;

use serde_json::{json, Value};
use support::{file_uri, LspClient, Start};

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spackle.toml"),
        "[completion]\ndebounce_ms = 0\n",
    )
    .unwrap();
    dir
}

fn context_prefix(result: &Value) -> String {
    result["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "prefix")
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The test suite never writes into the user's cache: each server gets its own cache folder,
/// and the index is persisted there, not under `$HOME`.
#[tokio::test]
async fn the_index_cache_of_a_test_server_stays_in_its_own_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"w\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("models.py"), "class Cart:\n    pass\n").unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options
        .environment
        .push(("HOME", home.path().display().to_string()));
    let (mut client, _) = LspClient::start(options).await;
    client
        .notification("window/logMessage", |p| {
            p["message"].as_str().unwrap_or("").contains("indexed")
        })
        .await;
    // The index is written just after the log line; wait for the file, not for a time.
    let cache = client.cache_dir().to_path_buf();
    let saved = || {
        std::fs::read_dir(&cache).unwrap().any(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.starts_with("index-") && name.ends_with(".bin")
        })
    };
    let deadline = std::time::Instant::now() + support::TIMEOUT;
    while !saved() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        saved(),
        "the index was persisted in the test's cache folder"
    );
    assert!(!home.path().join(".cache").exists(), "nothing under $HOME");
    client.shutdown().await;
}

#[tokio::test]
async fn negotiates_utf8_when_offered_and_utf16_otherwise() {
    let dir = workspace();
    let mut start = Start::new(dir.path());
    start.capabilities = json!({"general": {"positionEncodings": ["utf-8", "utf-16"]}});
    let (client, result) = LspClient::start(start).await;
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-8");
    assert_eq!(result["capabilities"]["inlineCompletionProvider"], true);
    assert_eq!(result["capabilities"]["textDocumentSync"]["change"], 2);
    client.shutdown().await;

    let (mut client, result) = LspClient::start(Start::new(dir.path())).await;
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-16");
    // An astral character counts as two UTF-16 units: the cursor after it is at character 7.
    let uri = file_uri(&dir.path().join("a.py"));
    client.open(&uri, "s = '😀'\nt = 1\n").await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 7}}),
        )
        .await
        .unwrap();
    assert_eq!(context_prefix(&context), "s = '😀");
    client.shutdown().await;
}

/// Hundreds of rapid incremental edits, sent without waiting, are applied in order: the server's
/// text equals a rope rebuilt from scratch with the same edits.
#[tokio::test]
async fn rapid_edits_are_applied_in_arrival_order() {
    let dir = workspace();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    let uri = file_uri(&dir.path().join("fast.py"));
    let mut expected = String::from("def f():\n    pass\n");
    client.open(&uri, &expected).await;
    let mut seed: u64 = 42;
    for version in 1..=400 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let lines: Vec<&str> = expected.split('\n').collect();
        let line = (seed >> 33) as usize % lines.len();
        let line_len = lines[line].chars().count();
        let character = (seed >> 20) as usize % (line_len + 1);
        let deleting = line_len > character && (seed >> 60).is_multiple_of(3);
        let inserted = if deleting {
            ""
        } else {
            ["x", "é", "😀", "\n", " ", "(", "]"][(seed >> 50) as usize % 7]
        };
        let line_start: usize = lines[..line].iter().map(|l| l.len() + 1).sum();
        let start = line_start
            + lines[line]
                .chars()
                .take(character)
                .map(char::len_utf8)
                .sum::<usize>();
        let end = if deleting {
            start
                + lines[line][start - line_start..]
                    .chars()
                    .next()
                    .unwrap()
                    .len_utf8()
        } else {
            start
        };
        let utf16 = |s: &str| s.encode_utf16().count() as u32;
        let start_char = utf16(&lines[line][..start - line_start]);
        let end_char = utf16(&lines[line][..end - line_start]);
        client
            .notify(
                "textDocument/didChange",
                json!({
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{
                        "range": {"start": {"line": line, "character": start_char}, "end": {"line": line, "character": end_char}},
                        "text": inserted,
                    }],
                }),
            )
            .await;
        expected.replace_range(start..end, inserted);
    }
    let last_line = expected.split('\n').count() as u32 - 1;
    let last_len = expected
        .split('\n')
        .next_back()
        .unwrap()
        .encode_utf16()
        .count() as u32;
    let context = client
        .request("spackle/context", json!({"textDocument": {"uri": uri}, "position": {"line": last_line, "character": last_len}}))
        .await
        .unwrap();
    assert_eq!(context["version"], 400);
    assert!(expected.len() < 4000, "the whole text fits in the prefix");
    assert_eq!(context_prefix(&context), expected);
    client.shutdown().await;
}

#[tokio::test]
async fn malformed_messages_get_errors_and_the_server_goes_on() {
    let dir = workspace();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    // Not JSON at all.
    client.send_raw(b"Content-Length: 9\r\n\r\n{not json").await;
    // The transport answers with a parse error response whose id is null.
    let parse_error = client.response_with_null_id().await;
    assert_eq!(parse_error["error"]["code"], -32700);
    // JSON with a lone surrogate, which is not valid Unicode.
    let body = r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///x.py","languageId":"python","version":0,"text":"\ud800"}}}"#;
    client
        .send_raw(format!("Content-Length: {}\r\n\r\n{}", body.len(), body).as_bytes())
        .await;
    // An unknown method.
    let error = client
        .request("spackle/noSuchMethod", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error["code"], -32601);
    // A request with parameters of the wrong shape.
    let error = client
        .request("spackle/context", json!({"textDocument": 5}))
        .await
        .unwrap_err();
    assert_eq!(error["code"], -32602);
    // Notifications with parameters of the wrong shape, or for progress that is not running.
    client
        .notify(
            "window/workDoneProgress/cancel",
            json!({"token": {"not": "a token"}}),
        )
        .await;
    client
        .notify(
            "window/workDoneProgress/cancel",
            json!({"token": "spackle/action/999"}),
        )
        .await;
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": 7, "contentChanges": "x"}),
        )
        .await;
    // The server still serves.
    let uri = file_uri(&dir.path().join("ok.py"));
    client.open(&uri, "x = 1\n").await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}}),
        )
        .await
        .unwrap();
    assert_eq!(context_prefix(&context), "x = 1");
    client.shutdown().await;
}

/// tower-lsp-server reads numeric ids as 64-bit integers; other numbers used to end the session.
#[tokio::test]
async fn non_integer_ids_get_errors_and_the_server_goes_on() {
    let dir = workspace();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    for id in ["1.5", "1e300", "18446744073709551616"] {
        let body =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"spackle/context","params":{{}}}}"#);
        client
            .send_raw(format!("Content-Length: {}\r\n\r\n{}", body.len(), body).as_bytes())
            .await;
        let echoed: Value = serde_json::from_str(id).unwrap();
        let reply = client.response_with_id(&echoed).await;
        assert_eq!(reply["error"]["code"], -32600, "{reply}");
    }
    let uri = file_uri(&dir.path().join("ok.py"));
    client.open(&uri, "x = 1\n").await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}}),
        )
        .await
        .unwrap();
    assert_eq!(context_prefix(&context), "x = 1");
    client.shutdown().await;
}

/// A frame whose Content-Length is too large or too small gets an error, and the frames after it
/// are read as they were sent: no edit is lost.
#[tokio::test]
async fn wrong_content_lengths_cost_only_their_own_frame() {
    let dir = workspace();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    let uri = file_uri(&dir.path().join("framed.py"));
    client.open(&uri, "x = 0\n").await;
    let change = |version: i64| {
        json!({
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"text": format!("x = {version}\n")}],
            },
        })
        .to_string()
    };
    let wrong_lengths = [
        |length: usize| length + 30,
        |length| length - 10,
        |_| 1 << 40,
    ];
    let mut version = 0;
    for wrong_length in wrong_lengths {
        version += 1;
        let bad = change(version);
        client
            .send_raw(
                format!("Content-Length: {}\r\n\r\n{bad}", wrong_length(bad.len())).as_bytes(),
            )
            .await;
        version += 1;
        let good = change(version);
        client
            .send_raw(format!("Content-Length: {}\r\n\r\n{good}", good.len()).as_bytes())
            .await;
        let error = client.response_with_null_id().await;
        assert_eq!(error["error"]["code"], -32700, "{error}");
        let context = client
            .request(
                "spackle/context",
                json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}}),
            )
            .await
            .unwrap();
        assert_eq!(context["version"], version);
        assert_eq!(context_prefix(&context), format!("x = {version}"));
    }
    client.shutdown().await;
}

/// The LSP specification: `exit` ends the server with status 0 after `shutdown`, 1 without it
/// (the other tests' `shutdown()` checks the 0).
#[tokio::test]
async fn exit_without_shutdown_exits_with_status_1() {
    let dir = workspace();
    let (client, _) = LspClient::start(Start::new(dir.path())).await;
    let status = client.exit_without_shutdown().await;
    assert_eq!(status.code(), Some(1), "{status:?}");
}

#[tokio::test]
async fn positions_past_the_end_are_clamped() {
    let dir = workspace();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    let uri = file_uri(&dir.path().join("short.py"));
    client.open(&uri, "ab\ncd\n").await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 4000}}),
        )
        .await
        .unwrap();
    assert_eq!(context_prefix(&context), "ab");
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 4000, "character": 1}}),
        )
        .await
        .unwrap();
    assert_eq!(context_prefix(&context), "ab\ncd\n");
    // A completion request at an absurd position answers (with nothing: no model is running).
    let result = client
        .request(
            "textDocument/inlineCompletion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 99999, "character": 99999}, "context": {"triggerKind": 1}}),
        )
        .await
        .unwrap();
    assert!(
        result.is_null() || result.as_array().is_some_and(|items| items.is_empty()),
        "{result}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn huge_and_binary_documents_do_not_stop_the_server() {
    let dir = workspace();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    let huge_uri = file_uri(&dir.path().join("huge.py"));
    let huge = "x = 1  # padding padding padding padding padding padding padding padding padding\n"
        .repeat(250_000);
    assert!(huge.len() > 20_000_000);
    client.open(&huge_uri, &huge).await;
    let error = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": huge_uri}, "position": {"line": 10, "character": 0}}),
        )
        .await
        .unwrap_err();
    assert!(
        error["message"].as_str().unwrap().contains("too large"),
        "{error}"
    );
    let result = client
        .request(
            "textDocument/inlineCompletion",
            json!({"textDocument": {"uri": huge_uri}, "position": {"line": 10, "character": 0}, "context": {"triggerKind": 1}}),
        )
        .await
        .unwrap();
    assert!(result.is_null(), "{result}");
    // Binary content: NUL bytes and control characters.
    let binary_uri = file_uri(&dir.path().join("binary.py"));
    client
        .open(
            &binary_uri,
            "\u{0}\u{1}\u{7f}PK\u{3}\u{4}\u{0}\u{0}\nx = 1\n",
        )
        .await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": binary_uri}, "position": {"line": 1, "character": 5}}),
        )
        .await
        .unwrap();
    assert!(context_prefix(&context).ends_with("x = 1"));
    client.shutdown().await;
}

#[tokio::test]
async fn bad_configuration_is_reported_by_key_and_defaults_stay() {
    let dir = workspace();
    let mut start = Start::new(dir.path());
    start.initialization_options = json!({"model": {"backend": "gpt-17", "temprature": 0.5}});
    let (mut client, _) = LspClient::start(start).await;
    let message = client
        .notification("window/showMessage", |p| {
            p["message"]
                .as_str()
                .unwrap_or("")
                .contains("configuration")
        })
        .await;
    let text = message["message"].as_str().unwrap();
    assert!(text.contains("`model.backend`"), "{text}");
    assert!(
        text.contains("`model.temprature`: unknown setting"),
        "{text}"
    );
    client.shutdown().await;
}
