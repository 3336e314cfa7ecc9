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

/// Starts the server on `dir` with its index cache inside `dir/cache`, and waits for the index.
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

fn write(root: &std::path::Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn repository_part(context: &Value) -> String {
    context["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|part| part["name"] == "repository")
        .map(|part| part["text"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The string constants of the workspace reach neither the prompt nor the index cache, and a file
/// listed in `.spackleignore` is neither indexed nor completed in, even when it is open.
#[tokio::test]
async fn secrets_and_ignored_files_stay_out_of_prompts_and_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/settings.py",
        "API_KEY = \"sk-live-0123456789\"\nDATABASE_URL: str = 'postgres://admin:hunter2@db/prod'\nHEADERS = {\"Authorization\": \"Bearer sk-live-0123456789\"}\nTIMEOUT = 30\n",
    );
    write(
        root,
        "app/private.py",
        "def private_helper(token: str) -> str:\n    return 'internal-0987'\n",
    );
    write(root, ".spackleignore", "private.py\n");
    let text = "from app.settings import API_KEY, DATABASE_URL, HEADERS, TIMEOUT\nfrom app.private import private_helper\n\n\ndef connect() -> str:\n    \n";
    write(root, "app/client.py", text);
    let mut client = start_indexed(root, patient_model("http://127.0.0.1:9")).await;
    let uri = file_uri(&root.join("app/client.py"));
    client.open(&uri, text).await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": 4}}),
        )
        .await
        .expect("the context is built");
    let repository = repository_part(&context);
    assert!(
        repository.contains("API_KEY: str") && repository.contains("TIMEOUT = 30"),
        "constants are still described: {repository}"
    );
    for secret in ["sk-live", "hunter2", "private_helper", "internal-0987"] {
        assert!(
            !repository.contains(secret),
            "`{secret}` reached the prompt: {repository}"
        );
    }
    // The ignored file, open in the editor, is neither indexed nor sent.
    let private = file_uri(&root.join("app/private.py"));
    client
        .open(&private, "def private_helper(token: str) -> str:\n    \n")
        .await;
    let refused = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": private}, "position": {"line": 1, "character": 4}}),
        )
        .await
        .expect_err("no prompt is built for an ignored file");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains(".spackleignore"),
        "{refused}"
    );
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": 4}}),
        )
        .await
        .unwrap();
    assert!(!repository_part(&context).contains("private_helper"));
    client.shutdown().await;
    let mut cached = Vec::new();
    for entry in std::fs::read_dir(root.join("cache")).unwrap() {
        cached.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(!cached.is_empty(), "the index was written to the cache");
    let cached = String::from_utf8_lossy(&cached);
    // (`private_helper` itself is named by client.py's import, which is the user's own text.)
    for secret in ["sk-live", "hunter2", "app/private.py", "internal-0987"] {
        assert!(!cached.contains(secret), "`{secret}` reached the cache");
    }
}

/// `proj/shop/{__init__,models,checkout}.py`, no `.git` or `pyproject.toml`, opened by an editor
/// that took the package folder `proj/shop` as the workspace.
fn shop_package(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let shop = dir.join("proj/shop");
    write(&shop, "__init__.py", "");
    write(
        &shop,
        "models.py",
        "class Cart:\n    def items(self) -> list[str]:\n        return []\n",
    );
    let text = "from shop.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    \n";
    write(&shop, "checkout.py", text);
    (shop, text.to_string())
}

fn model_settings(endpoint: &str, show_unverified: bool) -> Value {
    json!({"model": {"backend": "ollama", "endpoint": endpoint, "first_token_timeout_ms": 4000, "timeout_ms": 8000},
           "completion": {"debounce_ms": 0, "rounds": 1, "show_unverified": show_unverified}})
}

/// The workspace is the folder above the package, so the import resolves, and the hallucinated
/// `cart.total()` is caught instead of being returned as verified.
#[tokio::test]
async fn a_package_opened_as_the_workspace_is_indexed_from_the_folder_above() {
    hallucinated_total_is_repaired_in("checkout.py").await;
}

/// A new file the user has not saved yet is checked with the types too: the hallucinated
/// `cart.total()` is caught there as in a saved file.
#[tokio::test]
async fn a_buffer_never_saved_gets_the_typed_checks() {
    hallucinated_total_is_repaired_in("draft.py").await;
}

/// Opens `file` of the `proj/shop` package (on disk when it is `checkout.py`, an unsaved buffer
/// otherwise) with `pay(cart)`'s empty body, and checks that the model's `cart.total()` is not
/// shown but sent back for repair.
async fn hallucinated_total_is_repaired_in(file: &str) {
    let server = ScriptedServer::repeating(spackle::llm::scripted::Reply::stream(
        spackle::config::Backend::Ollama,
        &["return cart.total()"],
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (shop, text) = shop_package(dir.path());
    assert_eq!(shop.join(file).exists(), file == "checkout.py");
    let mut client = start_indexed(&shop, model_settings(&server.url(), false)).await;
    let uri = file_uri(&shop.join(file));
    client.open(&uri, &text).await;
    let result = client
        .request(
            "textDocument/inlineCompletion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 4, "character": 4}, "context": {"triggerKind": 1}}),
        )
        .await
        .unwrap();
    assert_eq!(result, json!([]), "no verified suggestion: {result}");
    let repair = server.requests()[1].json.to_string();
    assert!(
        repair.contains("total"),
        "the model was told that Cart has no `total`: {repair}"
    );
    client.shutdown().await;
}

/// When an import the candidate relies on does not resolve, the checks cannot judge it: the
/// candidate is not marked verified (shown as unverified when asked for), and the model is not
/// asked to repair what is not its mistake.
#[tokio::test]
async fn a_candidate_relying_on_an_unresolved_import_is_not_verified() {
    let server = ScriptedServer::repeating(spackle::llm::scripted::Reply::stream(
        spackle::config::Backend::Ollama,
        &["return cart.total()"],
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    let text = "from warehouse.models import Cart\n\n\ndef pay(cart: Cart) -> float:\n    \n";
    write(&root, "checkout.py", text);
    let mut client = start_indexed(&root, model_settings(&server.url(), true)).await;
    let uri = file_uri(&root.join("checkout.py"));
    client.open(&uri, text).await;
    let result = client
        .request(
            "textDocument/inlineCompletion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 4, "character": 4}, "context": {"triggerKind": 1}}),
        )
        .await
        .unwrap();
    let item = &result[0];
    assert_eq!(item["insertText"], "return cart.total()", "{result}");
    let verification = &item["command"]["arguments"][0];
    assert_eq!(verification["checks"], json!([]), "{verification}");
    assert!(
        verification["problems"][0]
            .as_str()
            .unwrap_or("")
            .contains("`Cart` from `warehouse.models` does not resolve"),
        "{verification}"
    );
    assert_eq!(server.requests().len(), 1, "no repair round was asked for");
    client.shutdown().await;
}

/// A watched-file event for a symbolic link out of the workspace, or for a FIFO, reads neither:
/// the server goes on answering, and nothing from outside the workspace reaches the context.
#[cfg(unix)]
#[tokio::test]
async fn watched_files_never_follow_links_out_or_open_fifos() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    write(
        &dir.path().join("outside"),
        "elsewhere.py",
        "def outside_secret() -> int:\n    return 1\n",
    );
    let text = "from link import outside_secret\nfrom pipe import p\n\n\ndef f() -> int:\n    \n";
    write(&root, "main.py", text);
    let mut client = start_indexed(&root, patient_model("http://127.0.0.1:9")).await;
    std::os::unix::fs::symlink(
        dir.path().join("outside/elsewhere.py"),
        root.join("link.py"),
    )
    .unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("pipe.py"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    client
        .notify(
            "workspace/didChangeWatchedFiles",
            json!({"changes": [
                {"uri": file_uri(&root.join("link.py")), "type": 1},
                {"uri": file_uri(&root.join("pipe.py")), "type": 1},
            ]}),
        )
        .await;
    let uri = file_uri(&root.join("main.py"));
    client.open(&uri, text).await;
    let context = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": uri}, "position": {"line": 5, "character": 4}}),
        )
        .await
        .expect("the server still answers");
    let repository = repository_part(&context);
    assert!(
        !repository.contains("outside_secret() -> int"),
        "the link was followed: {repository}"
    );
    assert!(
        client.stderr().contains("a symbolic link")
            && client.stderr().contains("not a regular file"),
        "both files were refused, with the reason in the log"
    );
    client.shutdown().await;
}

/// An edit holding a lone surrogate (`"\ud800"`, which no Rust string can hold) is rejected with
/// an error the client sees, and the document is not used until its whole text comes again.
#[tokio::test]
async fn an_edit_with_a_lone_surrogate_is_rejected_and_the_document_resynchronised() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    let uri = file_uri(&dir.path().join("a.py"));
    client.open(&uri, "x = 1\n").await;
    let body = format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"textDocument":{{"uri":"{uri}","version":1}},"contentChanges":[{{"range":{{"start":{{"line":0,"character":0}},"end":{{"line":0,"character":0}}}},"text":"\ud800"}}]}}}}"#
    );
    client
        .send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await;
    let error = client.response_with_null_id().await;
    let message = error["error"]["message"].as_str().unwrap_or("").to_string();
    assert!(
        message.contains("was not applied") && message.contains(&uri),
        "{error}"
    );
    let shown = client
        .notification("window/showMessage", |p| {
            p["message"]
                .as_str()
                .unwrap_or("")
                .contains("could not be read")
        })
        .await;
    assert_eq!(shown["type"], 2);
    let position = json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}});
    let refused = client
        .request("spackle/context", position.clone())
        .await
        .expect_err("the document is out of sync");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("out of sync"),
        "{refused}"
    );
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": "y = 2\n"}]}),
        )
        .await;
    let context = client.request("spackle/context", position).await.unwrap();
    assert_eq!(context["version"], 2);
    client.shutdown().await;
}

/// A context request over 100,000 unclosed brackets is bounded, and meanwhile another request is
/// answered: the work runs off the message loop.
#[tokio::test]
async fn context_over_deeply_nested_brackets_is_bounded_and_off_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let (mut client, _) = LspClient::start(Start::new(dir.path())).await;
    let deep = file_uri(&dir.path().join("deep.py"));
    let text = format!("x = {}\n", "[".repeat(100_000));
    client.open(&deep, &text).await;
    let small = file_uri(&dir.path().join("small.py"));
    client.open(&small, PRICE).await;
    let slow = client
        .send_request(
            "spackle/context",
            json!({"textDocument": {"uri": deep}, "position": {"line": 0, "character": 100004}}),
        )
        .await;
    // Keystrokes inside the brackets: each one reparses nothing until a request needs the tree.
    for version in 1..=20 {
        client
            .notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": deep, "version": version},
                       "contentChanges": [{"range": {"start": {"line": 0, "character": 50000}, "end": {"line": 0, "character": 50000}}, "text": "1,"}]}),
            )
            .await;
    }
    let answered = client
        .request(
            "spackle/context",
            json!({"textDocument": {"uri": small}, "position": {"line": 1, "character": 4}}),
        )
        .await
        .expect("the small document's context");
    assert_eq!(answered["version"], 0);
    let deep_context = client.response(slow).await.expect("the deep context");
    assert!(deep_context["parts"].is_array(), "{deep_context}");
    client.shutdown().await;
}
