//! The server with a scripted model server behind it: completions end to end, cancellation, and
//! every failure a model server can produce, as the editor sees them.

use std::time::Duration;

use serde_json::{json, Value};
use spackle::config::Backend;
use spackle::llm::scripted::{refused_address, Reply, ScriptedServer};

use crate::support::{file_uri, LspClient, Start};

const SOURCE: &str = "def double(x: int) -> int:\n    \n\nprint(double(2))\n";

fn settings(endpoint: &str) -> Value {
    json!({"model": {"backend": "ollama", "endpoint": endpoint, "first_token_timeout_ms": 2000, "timeout_ms": 4000},
           "completion": {"debounce_ms": 0}})
}

async fn start(dir: &std::path::Path, endpoint: &str) -> (LspClient, String) {
    let mut options = Start::new(dir);
    options.initialization_options = settings(endpoint);
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.join("double.py"));
    client.open(&uri, SOURCE).await;
    (client, uri)
}

fn inline_params(uri: &str) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}, "context": {"triggerKind": 1}})
}

fn items(result: &Value) -> Vec<Value> {
    match result {
        Value::Array(items) => items.clone(),
        Value::Object(list) => list["items"].as_array().cloned().unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn inline_completion_end_to_end_with_ollama() {
    let server =
        ScriptedServer::start([Reply::stream(Backend::Ollama, &["return ", "x * 2", "\n"])])
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    let result = client
        .request("textDocument/inlineCompletion", inline_params(&uri))
        .await
        .unwrap();
    let items = items(&result);
    assert_eq!(items.len(), 1, "{result}");
    assert_eq!(items[0]["insertText"], "return x * 2");
    assert_eq!(
        items[0]["range"]["start"],
        json!({"line": 1, "character": 4})
    );
    assert_eq!(items[0]["command"]["command"], "spackle.accepted");
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    let body = &sent[0].json;
    let prompt = body.to_string();
    assert!(
        prompt.contains("def double(x: int) -> int:"),
        "the prefix reaches the model: {prompt}"
    );
    assert!(
        prompt.contains("print(double(2))"),
        "the suffix reaches the model: {prompt}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn completion_fallback_returns_the_same_suggestion() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &["return x * 2"])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    let result = client
        .request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}}),
        )
        .await
        .unwrap();
    let item = &result["items"][0];
    assert_eq!(item["textEdit"]["newText"], "return x * 2");
    assert_eq!(item["label"], "return x * 2");
    client.shutdown().await;
}

#[tokio::test]
async fn cancel_request_drops_the_model_request() {
    let server = ScriptedServer::start([Reply::hang()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    let id = client
        .send_request("textDocument/inlineCompletion", inline_params(&uri))
        .await;
    assert!(
        server.wait_for_requests(1, Duration::from_secs(10)).await,
        "the model was asked"
    );
    client.notify("$/cancelRequest", json!({"id": id})).await;
    let error = client.response(id).await.unwrap_err();
    assert_eq!(error["code"], -32800, "{error}");
    assert!(
        server.wait_for_disconnects(1, Duration::from_secs(5)).await,
        "the HTTP request to the model was dropped"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_newer_request_supersedes_an_older_one() {
    let server = ScriptedServer::start([
        Reply::hang(),
        Reply::stream(Backend::Ollama, &["return x + x"]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    let first = client
        .send_request("textDocument/inlineCompletion", inline_params(&uri))
        .await;
    assert!(server.wait_for_requests(1, Duration::from_secs(10)).await);
    let second = client
        .send_request("textDocument/inlineCompletion", inline_params(&uri))
        .await;
    let first = client.response(first).await.unwrap();
    assert!(
        items(&first).is_empty(),
        "the superseded request returns nothing: {first}"
    );
    let second = client.response(second).await.unwrap();
    assert_eq!(items(&second)[0]["insertText"], "return x + x");
    assert!(
        server.wait_for_disconnects(1, Duration::from_secs(5)).await,
        "the older HTTP request was dropped"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn an_edit_while_the_model_answers_drops_the_stale_result() {
    let reply =
        Reply::stream(Backend::Ollama, &["return ", "x * 2"]).delayed(Duration::from_millis(600));
    let server = ScriptedServer::start([reply]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    let id = client
        .send_request("textDocument/inlineCompletion", inline_params(&uri))
        .await;
    assert!(server.wait_for_requests(1, Duration::from_secs(10)).await);
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 1},
                   "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "#\n"}]}),
        )
        .await;
    let result = client.response(id).await.unwrap();
    assert!(
        items(&result).is_empty(),
        "a result for an old version is not shown: {result}"
    );
    client.shutdown().await;
}

/// An answer of a megabyte, one identifier long, is cut at `model.max_answer_bytes` and the rest
/// is not read; the request finishes and the server goes on serving.
#[tokio::test]
async fn a_huge_answer_is_cut_and_the_server_goes_on() {
    let chunk = "x".repeat(1024);
    let mut chunks = vec!["return "];
    chunks.extend(std::iter::repeat_n(chunk.as_str(), 1024));
    let reply = Reply::stream(Backend::Ollama, &chunks).chunk_delay(Duration::from_millis(1));
    let server = ScriptedServer::start([reply]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = settings(&server.url());
    options.initialization_options["model"]["max_answer_bytes"] = json!(4096);
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.path().join("double.py"));
    client.open(&uri, SOURCE).await;
    let result = client
        .request("textDocument/inlineCompletion", inline_params(&uri))
        .await
        .unwrap();
    for item in items(&result) {
        assert!(item["insertText"].as_str().unwrap().len() <= 4096, "{item}");
    }
    assert!(
        server
            .wait_for_disconnects(1, Duration::from_secs(10))
            .await,
        "the rest of the answer was not read"
    );
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
        )
        .await
        .unwrap();
    assert_eq!(context["version"], 0);
    client.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_server_is_shown_once_then_logged() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{}", refused_address());
    let (mut client, uri) = start(dir.path(), &endpoint).await;
    for _ in 0..3 {
        let result = client
            .request("textDocument/inlineCompletion", inline_params(&uri))
            .await
            .unwrap();
        assert!(items(&result).is_empty());
    }
    // A request after the failures flushes the notifications sent before its response.
    client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
        )
        .await
        .unwrap();
    let shown: Vec<_> = client
        .seen_notifications("window/showMessage")
        .into_iter()
        .filter(|m| m["message"].as_str().unwrap_or("").contains("cannot reach"))
        .collect();
    assert_eq!(shown.len(), 1, "one pop-up for three failures: {shown:?}");
    let text = shown[0]["message"].as_str().unwrap();
    assert!(
        text.contains(&endpoint) && text.contains("ollama serve"),
        "{text}"
    );
    let logged = client
        .seen_notifications("window/logMessage")
        .into_iter()
        .filter(|m| m["message"].as_str().unwrap_or("").contains("cannot reach"))
        .count();
    assert_eq!(logged, 3, "every failure is logged");
    client.shutdown().await;
}

/// Each failure of the model server gives no completion and one clear message, and the server
/// keeps serving: the last reply is a good one, and it arrives.
#[tokio::test]
async fn model_server_failures_give_clear_messages_and_the_server_goes_on() {
    let cases: Vec<(Reply, &str)> = vec![
        (Reply::unauthorized(Backend::Ollama), "HTTP 401"),
        (Reply::rate_limited(3), "rate-limiting"),
        (Reply::server_error("out of memory"), "HTTP 500"),
        (
            Reply::cut_stream(Backend::Ollama, &["return "]),
            "cannot read",
        ),
        (Reply::malformed_stream(Backend::Ollama), "cannot read"),
        (
            Reply::model_not_found(Backend::Ollama, "qwen2.5-coder:1.5b"),
            "does not have the model",
        ),
    ];
    let (replies, expected): (Vec<Reply>, Vec<&str>) = cases.into_iter().unzip();
    let server = ScriptedServer::start(
        replies
            .into_iter()
            .chain([Reply::stream(Backend::Ollama, &["return x * 2"])]),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    for fragment in &expected {
        let result = client
            .request("textDocument/inlineCompletion", inline_params(&uri))
            .await
            .unwrap();
        assert!(items(&result).is_empty(), "{fragment}: {result}");
        let message = client
            .notification("window/logMessage", |p| {
                p["message"].as_str().unwrap_or("").contains(fragment)
            })
            .await;
        assert!(message["type"] == 2, "a warning: {message}");
    }
    let result = client
        .request("textDocument/inlineCompletion", inline_params(&uri))
        .await
        .unwrap();
    assert_eq!(items(&result)[0]["insertText"], "return x * 2");
    client.shutdown().await;
}

#[tokio::test]
async fn a_model_server_that_never_answers_times_out() {
    let server = ScriptedServer::start([Reply::hang()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = json!({"model": {"backend": "ollama", "endpoint": server.url(), "first_token_timeout_ms": 300},
                                            "completion": {"debounce_ms": 0}});
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.path().join("double.py"));
    client.open(&uri, SOURCE).await;
    let result = client
        .request("textDocument/inlineCompletion", inline_params(&uri))
        .await
        .unwrap();
    assert!(items(&result).is_empty());
    // The work is bounded by the timeout, not measured here: one request, then it was dropped.
    assert_eq!(server.requests().len(), 1);
    assert!(
        server
            .wait_for_disconnects(1, Duration::from_secs(30))
            .await,
        "the timed-out request was dropped"
    );
    let message = client
        .notification("window/showMessage", |p| {
            p["message"].as_str().unwrap_or("").contains("did not")
        })
        .await;
    assert!(
        message["message"].as_str().unwrap().contains("300ms")
            || message["message"].as_str().unwrap().contains("0.3"),
        "{message}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn api_keys_never_reach_the_editor_or_the_log() {
    let secret = "sk-test-SECRET-4f1b2c";
    let server = ScriptedServer::start([
        Reply::unauthorized(Backend::Openai),
        Reply::server_error(secret),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = json!({"model": {"backend": "openai", "endpoint": server.url(), "name": "gpt-4o-mini",
                                                      "api_key_env": "SPACKLE_TEST_SECRET"},
                                            "completion": {"debounce_ms": 0}});
    options
        .environment
        .push(("SPACKLE_TEST_SECRET", secret.to_string()));
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.path().join("double.py"));
    client.open(&uri, SOURCE).await;
    for _ in 0..2 {
        client
            .request("textDocument/inlineCompletion", inline_params(&uri))
            .await
            .unwrap();
    }
    let sent = server.requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {secret}").as_str()),
        "the key is sent to the server"
    );
    let message = client
        .notification("window/showMessage", |p| {
            p["message"].as_str().unwrap_or("").contains("401")
        })
        .await;
    assert!(
        message["message"]
            .as_str()
            .unwrap()
            .contains("SPACKLE_TEST_SECRET"),
        "the variable is named: {message}"
    );
    let everything = format!("{:?}", client.seen);
    let stderr = client.stderr();
    client.shutdown().await;
    assert!(!everything.contains(secret), "the key reached the editor");
    assert!(!stderr.contains(secret), "the key reached the log");
}

#[tokio::test]
async fn the_repository_context_reaches_the_model() {
    let server = ScriptedServer::start([Reply::stream(
        Backend::Ollama,
        &["return cart.total_price()"],
    )])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shop")).unwrap();
    std::fs::write(dir.path().join("shop/__init__.py"), "").unwrap();
    std::fs::write(
        dir.path().join("shop/models.py"),
        "class Cart:\n    def total_price(self) -> float:\n        return 0.0\n\n\nclass Unrelated:\n    pass\n",
    )
    .unwrap();
    let text = "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    \n";
    std::fs::write(dir.path().join("shop/pay.py"), text).unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = settings(&server.url());
    options.environment.push((
        "SPACKLE_CACHE_DIR",
        dir.path().join("cache").display().to_string(),
    ));
    let (mut client, _) = LspClient::start(options).await;
    client
        .notification("window/logMessage", |p| {
            p["message"].as_str().unwrap_or("").contains("indexed")
        })
        .await;
    let uri = file_uri(&dir.path().join("shop/pay.py"));
    client.open(&uri, text).await;
    let result = client
        .request("textDocument/inlineCompletion", inline_at(&uri, 4, 4, 1))
        .await
        .unwrap();
    assert_eq!(items(&result)[0]["insertText"], "return cart.total_price()");
    let prompt = server.requests()[0].json.to_string();
    assert!(
        prompt.contains("def total_price(self) -> float"),
        "the stub of Cart reaches the model: {prompt}"
    );
    assert!(
        prompt.contains("shop/pay.py"),
        "the file's path is given: {prompt}"
    );
    client.shutdown().await;
}

fn shop_workspace() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shop")).unwrap();
    std::fs::write(dir.path().join("shop/__init__.py"), "").unwrap();
    std::fs::write(
        dir.path().join("shop/models.py"),
        "class Cart:\n    def total(self) -> float:\n        return 0.0\n",
    )
    .unwrap();
    let text =
        "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    \n".to_string();
    std::fs::write(dir.path().join("shop/pay.py"), &text).unwrap();
    (dir, text)
}

async fn start_indexed(dir: &std::path::Path, settings: Value) -> LspClient {
    let mut options = Start::new(dir);
    options.initialization_options = settings;
    options
        .environment
        .push(("SPACKLE_CACHE_DIR", dir.join("cache").display().to_string()));
    let (mut client, _) = LspClient::start(options).await;
    client
        .notification("window/logMessage", |p| {
            p["message"].as_str().unwrap_or("").contains("indexed")
        })
        .await;
    client
}

/// A file too large for the typed checks gets the fast ones, and the suggestion says so: it
/// claims the syntax and name checks only.
#[tokio::test]
async fn a_suggestion_claims_only_the_checks_that_ran() {
    let server =
        ScriptedServer::repeating(Reply::stream(Backend::Ollama, &["return cart.total()"]))
            .await
            .unwrap();
    let (dir, text) = shop_workspace();
    let text = format!("{text}\n{}", "# padding\n".repeat(20_001));
    std::fs::write(dir.path().join("shop/pay.py"), &text).unwrap();
    let mut client = start_indexed(dir.path(), settings(&server.url())).await;
    let uri = file_uri(&dir.path().join("shop/pay.py"));
    client.open(&uri, &text).await;
    let result = client
        .request("textDocument/inlineCompletion", inline_at(&uri, 4, 4, 1))
        .await
        .unwrap();
    let items = items(&result);
    assert_eq!(items.len(), 1, "{result}");
    assert_eq!(
        items[0]["command"]["arguments"][0]["checks"],
        json!(["syntax", "names"]),
        "{result}"
    );
    client.shutdown().await;
}

/// The model's first answer calls a member that does not exist; the repair prompt tells it so;
/// its second answer is right, and only the second reaches the editor.
#[tokio::test]
async fn a_hallucinated_member_is_repaired_before_the_editor_sees_it() {
    let server = ScriptedServer::start([
        Reply::stream(Backend::Ollama, &["return cart.totl()"]),
        Reply::stream(Backend::Ollama, &["return cart.total()"]),
    ])
    .await
    .unwrap();
    let (dir, text) = shop_workspace();
    let mut client = start_indexed(dir.path(), settings(&server.url())).await;
    let uri = file_uri(&dir.path().join("shop/pay.py"));
    client.open(&uri, &text).await;
    let result = client
        .request("textDocument/inlineCompletion", inline_at(&uri, 4, 4, 1))
        .await
        .unwrap();
    let items = items(&result);
    assert_eq!(items.len(), 1, "{result}");
    assert_eq!(items[0]["insertText"], "return cart.total()");
    assert_eq!(items[0]["command"]["arguments"][0]["rounds"], 2);
    assert_eq!(
        items[0]["command"]["arguments"][0]["checks"],
        json!(["syntax", "names", "members", "calls"])
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let repair = requests[1].json.to_string();
    assert!(
        repair.contains("return cart.totl()") && repair.contains("totl"),
        "the repair prompt quotes the mistake: {repair}"
    );
    assert!(repair.contains("total"), "and names what exists: {repair}");
    client.shutdown().await;
}

/// A model that never fixes its mistake gives no suggestion, within the latency budget, and the
/// log says why.
#[tokio::test]
async fn a_model_that_never_fixes_its_mistake_gives_no_suggestion() {
    let server = ScriptedServer::repeating(Reply::stream(Backend::Ollama, &["return cart.totl()"]))
        .await
        .unwrap();
    let (dir, text) = shop_workspace();
    let mut settings = settings(&server.url());
    settings["completion"]["rounds"] = json!(2);
    let mut client = start_indexed(dir.path(), settings).await;
    let uri = file_uri(&dir.path().join("shop/pay.py"));
    client.open(&uri, &text).await;
    let result = client
        .request("textDocument/inlineCompletion", inline_at(&uri, 4, 4, 1))
        .await
        .unwrap();
    assert!(items(&result).is_empty(), "{result}");
    assert_eq!(
        server.requests().len(),
        3,
        "one request and two repair rounds"
    );
    let log = client
        .notification("window/logMessage", |p| {
            p["message"]
                .as_str()
                .unwrap_or("")
                .contains("still has problems")
        })
        .await;
    assert!(log["message"].as_str().unwrap().contains("totl"), "{log}");
    client.shutdown().await;
}

/// spackle's own checks on the code the user wrote arrive as diagnostics with source `spackle`,
/// and a setting turns them off.
#[tokio::test]
async fn the_users_own_code_gets_spackle_diagnostics() {
    let (dir, _) = shop_workspace();
    let settings = json!({"diagnostics": {"delay_ms": 0}});
    let mut client = start_indexed(dir.path(), settings).await;
    let uri = file_uri(&dir.path().join("shop/pay.py"));
    client.open(&uri, "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    return cart.totl()\n").await;
    let published = client
        .notification("textDocument/publishDiagnostics", |p| {
            p["uri"] == json!(uri) && p["diagnostics"].as_array().is_some_and(|d| !d.is_empty())
        })
        .await;
    let diagnostic = &published["diagnostics"][0];
    assert_eq!(diagnostic["source"], "spackle");
    assert_eq!(diagnostic["code"], "unknown-member");
    assert!(
        diagnostic["message"].as_str().unwrap().contains("totl"),
        "{diagnostic}"
    );
    assert_eq!(
        diagnostic["range"]["start"],
        json!({"line": 4, "character": 16})
    );
    client.shutdown().await;

    let mut client = start_indexed(
        dir.path(),
        json!({"diagnostics": {"enable": false, "delay_ms": 0}}),
    )
    .await;
    client
        .open(&uri, "def f():\n    return undefined_name\n")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
        )
        .await
        .unwrap();
    assert!(
        client
            .seen_notifications("textDocument/publishDiagnostics")
            .is_empty(),
        "diagnostics are off"
    );
    client.shutdown().await;
}

async fn change(
    client: &mut LspClient,
    uri: &str,
    version: i64,
    line: u32,
    character: u32,
    text: &str,
) {
    let at = json!({"line": line, "character": character});
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"range": {"start": at, "end": at}, "text": text}]}),
        )
        .await;
}

fn inline_at(uri: &str, line: u32, character: u32, trigger_kind: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character},
           "context": {"triggerKind": trigger_kind}})
}

/// Editors ask on every change and cursor move; the model is asked once. Asking again for the
/// same text and cursor, and typing what the suggestion predicted, reuse its answer.
#[tokio::test]
async fn typing_what_the_suggestion_predicted_does_not_ask_the_model_again() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &["return x * 2"])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    let mut shown = Vec::new();
    for _ in 0..2 {
        let result = client
            .request("textDocument/inlineCompletion", inline_at(&uri, 1, 4, 2))
            .await
            .unwrap();
        shown.push(items(&result)[0]["insertText"].clone());
    }
    for (version, (character, typed)) in [(4, "r"), (5, "e"), (6, "t")].into_iter().enumerate() {
        change(&mut client, &uri, version as i64 + 1, 1, character, typed).await;
        let result = client
            .request(
                "textDocument/inlineCompletion",
                inline_at(&uri, 1, character + 1, 2),
            )
            .await
            .unwrap();
        let items = items(&result);
        assert_eq!(items.len(), 1, "{result}");
        assert_eq!(
            items[0]["range"]["start"],
            json!({"line": 1, "character": character + 1})
        );
        shown.push(items[0]["insertText"].clone());
    }
    assert_eq!(
        shown,
        [
            "return x * 2",
            "return x * 2",
            "eturn x * 2",
            "turn x * 2",
            "urn x * 2"
        ]
    );
    assert_eq!(server.requests().len(), 1, "the model was asked once");
    client.shutdown().await;
}

/// Typing something the suggestion did not predict asks the model again.
#[tokio::test]
async fn typing_something_else_asks_the_model_again() {
    let server = ScriptedServer::start([
        Reply::stream(Backend::Ollama, &["return x * 2"]),
        Reply::stream(Backend::Ollama, &[" * x"]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url()).await;
    client
        .request("textDocument/inlineCompletion", inline_at(&uri, 1, 4, 2))
        .await
        .unwrap();
    change(&mut client, &uri, 1, 1, 4, "return ").await;
    let result = client
        .request("textDocument/inlineCompletion", inline_at(&uri, 1, 11, 2))
        .await
        .unwrap();
    assert_eq!(
        items(&result)[0]["insertText"],
        "x * 2",
        "predicted: reused"
    );
    change(&mut client, &uri, 2, 1, 11, "2").await;
    let result = client
        .request("textDocument/inlineCompletion", inline_at(&uri, 1, 12, 2))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2, "not predicted: asked again");
    assert_eq!(items(&result)[0]["insertText"], " * x", "{result}");
    client.shutdown().await;
}

/// An automatic request reuses an empty answer for the same text; the user asking explicitly
/// (`Invoked`) asks the model again.
#[tokio::test]
async fn an_explicit_request_asks_again_after_an_empty_answer() {
    let server = ScriptedServer::start([
        Reply::stream(Backend::Ollama, &[""]),
        Reply::stream(Backend::Ollama, &["return x * 2"]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = settings(&server.url());
    // No repair round: the empty first answer is the whole answer.
    options.initialization_options["completion"]["rounds"] = json!(0);
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.path().join("double.py"));
    client.open(&uri, SOURCE).await;
    for _ in 0..2 {
        let result = client
            .request("textDocument/inlineCompletion", inline_at(&uri, 1, 4, 2))
            .await
            .unwrap();
        assert!(items(&result).is_empty(), "{result}");
    }
    assert_eq!(server.requests().len(), 1, "the empty answer was reused");
    let result = client
        .request("textDocument/inlineCompletion", inline_at(&uri, 1, 4, 1))
        .await
        .unwrap();
    assert_eq!(items(&result)[0]["insertText"], "return x * 2");
    assert_eq!(server.requests().len(), 2);
    client.shutdown().await;
}
