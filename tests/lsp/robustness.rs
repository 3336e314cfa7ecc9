//! A hostile or busy world: requests that wait on a silent model must not hold the read loop.

use std::time::Duration;

use serde_json::{json, Value};
use spackle::llm::scripted::{Reply, ScriptedServer};

use crate::support::{file_uri, LspClient, Start};

const PRICE: &str = "def price(item: str, count: int = 1) -> float:\n    return 2.0 * count\n";

/// Settings for a model that is given all the time in the world, so that a request waiting on
/// it holds its place for longer than the test waits.
fn patient_model(endpoint: &str) -> Value {
    json!({"model": {"backend": "ollama", "endpoint": endpoint, "first_token_timeout_ms": 120000, "timeout_ms": 240000},
           "completion": {"debounce_ms": 0}, "diagnostics": {"enable": false}})
}

fn change(uri: &str, version: i32) -> Value {
    json!({"textDocument": {"uri": uri, "version": version},
           "contentChanges": [{"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}, "text": "#"}]})
}

/// Four `spackle.generateDocstring` commands from a client with `workDoneProgress`: each asks the
/// client to create a progress token. The client answers only after it has sent 150 edits; the
/// server must still read those answers (and everything after them).
#[tokio::test]
async fn commands_waiting_on_progress_creation_do_not_stop_the_server() {
    let server = ScriptedServer::repeating(Reply::hang()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = patient_model(&server.url());
    options.capabilities = json!({"window": {"workDoneProgress": true}});
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.path().join("price.py"));
    client.open(&uri, &format!("{PRICE}\n")).await;
    for _ in 0..4 {
        let arguments =
            json!([{"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}]);
        client
            .send_request(
                "workspace/executeCommand",
                json!({"command": "spackle.generateDocstring", "arguments": arguments}),
            )
            .await;
    }
    for version in 1..=150 {
        client
            .notify("textDocument/didChange", change(&uri, version))
            .await;
    }
    // Waiting for this answer, the client accepts the progress tokens the server asked for.
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}}),
        )
        .await
        .expect("the server still answers");
    assert_eq!(context["version"], 150, "every edit was applied: {context}");
    client.shutdown().await;
}

/// Four completions waiting on a model that never answers: a fifth request is answered, and
/// `$/cancelRequest` ends one of the four at once.
#[tokio::test]
async fn hanging_completions_do_not_hold_back_other_requests_or_cancels() {
    let server = ScriptedServer::repeating(Reply::hang()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = patient_model(&server.url());
    let (mut client, _) = LspClient::start(options).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let uri = file_uri(&dir.path().join(format!("m{n}.py")));
        client
            .open(&uri, "def double(x: int) -> int:\n    \n")
            .await;
        let id = client
            .send_request(
                "textDocument/inlineCompletion",
                json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}, "context": {"triggerKind": 1}}),
            )
            .await;
        ids.push(id);
    }
    assert!(
        server.wait_for_requests(4, Duration::from_secs(20)).await,
        "the four completions are waiting on the model"
    );
    let uri = file_uri(&dir.path().join("other.py"));
    client.open(&uri, PRICE).await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}}),
        )
        .await
        .expect("a fifth request is answered");
    assert_eq!(context["version"], 0);
    client
        .notify("$/cancelRequest", json!({"id": ids[0]}))
        .await;
    let cancelled = client.response(ids[0]).await;
    assert_eq!(
        cancelled.expect_err("the request was cancelled")["code"],
        -32800
    );
    client.shutdown().await;
}
