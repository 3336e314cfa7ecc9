//! Code actions and commands end to end: a scripted model behind the real server, the editor's
//! side spoken over LSP, including the refusals.

use serde_json::{json, Value};
use spackle::config::Backend;
use spackle::llm::scripted::{Reply, ScriptedServer};

use crate::support::{file_uri, LspClient, Start};

const BROKEN: &str = "def double(total: int) -> int:\n    result = totl * 2\n    return result\n";

const PRICE: &str =
    "def price(item: str, count: int = 1) -> float:\n    if count < 0:\n        raise ValueError(count)\n    return 2.0 * count\n";

const GOOD_DOCSTRING: &str = "```python\ndef price(item: str, count: int = 1) -> float:\n    \"\"\"The price of some items.\n\n    Args:\n        item: The item.\n        count: How many.\n\n    Returns:\n        The total price.\n\n    Raises:\n        ValueError: If count is negative.\n    \"\"\"\n    if count < 0:\n        raise ValueError(count)\n    return 2.0 * count\n```";

async fn start(
    dir: &std::path::Path,
    endpoint: &str,
    name: &str,
    text: &str,
) -> (LspClient, String) {
    let mut options = Start::new(dir);
    options.initialization_options = json!({"model": {"backend": "ollama", "endpoint": endpoint, "first_token_timeout_ms": 4000, "timeout_ms": 8000},
                                            "completion": {"debounce_ms": 0}});
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.join(name));
    client.open(&uri, text).await;
    (client, uri)
}

fn range(start: (u32, u32), end: (u32, u32)) -> Value {
    json!({"start": {"line": start.0, "character": start.1}, "end": {"line": end.0, "character": end.1}})
}

fn pyright_diagnostic() -> Value {
    json!({"range": range((1, 13), (1, 17)), "severity": 1, "source": "pyright", "message": "\"totl\" is not defined"})
}

async fn list(
    client: &mut LspClient,
    uri: &str,
    range: Value,
    diagnostics: Vec<Value>,
) -> Vec<Value> {
    let result = client
        .request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": diagnostics}}))
        .await
        .unwrap();
    result.as_array().cloned().unwrap_or_default()
}

fn titled(actions: &[Value], prefix: &str) -> Value {
    actions
        .iter()
        .find(|action| action["title"].as_str().unwrap_or("").starts_with(prefix))
        .cloned()
        .unwrap_or_else(|| panic!("no action `{prefix}` in {actions:?}"))
}

/// The single text edit of a workspace edit, applied to `text`.
fn apply(text: &str, edit: &Value) -> String {
    let edits = edit["documentChanges"][0]["edits"].as_array().unwrap();
    assert_eq!(edits.len(), 1, "{edit}");
    let offset = |position: &Value| {
        let line = position["line"].as_u64().unwrap() as usize;
        let character = position["character"].as_u64().unwrap() as usize;
        text.split_inclusive('\n')
            .take(line)
            .map(str::len)
            .sum::<usize>()
            + character
    };
    let (start, end) = (
        offset(&edits[0]["range"]["start"]),
        offset(&edits[0]["range"]["end"]),
    );
    let mut after = text.to_string();
    after.replace_range(start..end, edits[0]["newText"].as_str().unwrap());
    after
}

async fn shown(client: &mut LspClient, fragment: &str) -> String {
    let message = client
        .notification("window/showMessage", |p| {
            p["message"].as_str().unwrap_or("").contains(fragment)
        })
        .await;
    message["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn actions_are_listed_without_asking_the_model() {
    let server = ScriptedServer::start([]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "double.py", BROKEN).await;
    let on_def = list(
        &mut client,
        &uri,
        range((0, 5), (0, 5)),
        vec![pyright_diagnostic()],
    )
    .await;
    let titles: Vec<&str> = on_def
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Fix with spackle: \"totl\" is not defined",
            "Write a docstring with spackle"
        ]
    );
    assert!(
        on_def.iter().all(|action| action.get("edit").is_none()),
        "listing computes no edit: {on_def:?}"
    );
    let selection = list(&mut client, &uri, range((1, 0), (2, 17)), vec![]).await;
    let titles: Vec<&str> = selection
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Comment this code with spackle"]);
    assert!(server.requests().is_empty(), "the model was not asked");
    client.shutdown().await;
}

#[tokio::test]
async fn only_the_two_commands_are_registered() {
    let dir = tempfile::tempdir().unwrap();
    let (client, result) = LspClient::start(Start::new(dir.path())).await;
    assert_eq!(
        result["capabilities"]["executeCommandProvider"]["commands"],
        json!(["spackle.generateDocstring", "spackle.comment"])
    );
    assert_eq!(
        result["capabilities"]["codeActionProvider"]["resolveProvider"],
        true
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_fix_is_offered_when_the_problem_is_gone() {
    let server = ScriptedServer::start([Reply::stream(
        Backend::Ollama,
        &["```python\n", "result = total * 2\n", "```\n"],
    )])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "double.py", BROKEN).await;
    let actions = list(
        &mut client,
        &uri,
        range((1, 13), (1, 17)),
        vec![pyright_diagnostic()],
    )
    .await;
    let fix = titled(&actions, "Fix with spackle");
    let resolved = client.request("codeAction/resolve", fix).await.unwrap();
    let after = apply(BROKEN, &resolved["edit"]);
    assert_eq!(
        after,
        "def double(total: int) -> int:\n    result = total * 2\n    return result\n"
    );
    assert_eq!(
        resolved["edit"]["documentChanges"][0]["textDocument"]["version"], 0,
        "the edit names its version"
    );
    let prompt = server.requests()[0].json.to_string();
    assert!(
        prompt.contains("totl") && prompt.contains("is not defined") && prompt.contains("pyright"),
        "{prompt}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_fix_that_does_not_fix_is_refused_with_the_reason() {
    let still_broken =
        || Reply::stream(Backend::Ollama, &["```python\nresult = totl * 2 + 0\n```"]);
    let server = ScriptedServer::start([still_broken(), still_broken()])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "double.py", BROKEN).await;
    let actions = list(
        &mut client,
        &uri,
        range((1, 13), (1, 17)),
        vec![pyright_diagnostic()],
    )
    .await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Fix with spackle"))
        .await
        .unwrap();
    assert!(
        resolved.get("edit").is_none_or(Value::is_null),
        "no edit for a fix that does not fix: {resolved}"
    );
    let message = shown(&mut client, "no fix offered").await;
    assert!(
        message.contains("does not fix") && message.contains("totl"),
        "{message}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "one repair round with the reason");
    assert!(
        requests[1].json.to_string().contains("rejected"),
        "the repair round says why"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_diagnostic_spackle_cannot_see_gets_no_fix_and_no_model_call() {
    let server = ScriptedServer::start([]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "double.py", BROKEN).await;
    let style = json!({"range": range((2, 4), (2, 17)), "source": "ruff", "message": "E999 something spackle does not check"});
    let actions = list(&mut client, &uri, range((2, 4), (2, 17)), vec![style]).await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Fix with spackle"))
        .await
        .unwrap();
    assert!(
        resolved.get("edit").is_none_or(Value::is_null),
        "{resolved}"
    );
    let message = shown(&mut client, "no fix offered").await;
    assert!(message.contains("reported by ruff"), "{message}");
    assert!(server.requests().is_empty());
    client.shutdown().await;
}

#[tokio::test]
async fn a_docstring_is_written_through_the_command() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &[GOOD_DOCSTRING])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "price.py", PRICE).await;
    let arguments =
        json!([{"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}]);
    let result = client
        .request(
            "workspace/executeCommand",
            json!({"command": "spackle.generateDocstring", "arguments": arguments}),
        )
        .await;
    assert!(result.is_ok(), "{result:?}");
    let apply_request = client
        .seen
        .iter()
        .find(|message| message["method"] == "workspace/applyEdit")
        .cloned()
        .expect("the server asks the editor to apply the edit");
    let after = apply(PRICE, &apply_request["params"]["edit"]);
    assert!(
        after.starts_with("def price(item: str, count: int = 1) -> float:\n    \"\"\"The price of some items.\n\n    Args:\n        item: The item.\n"),
        "{after}"
    );
    assert!(after.ends_with("    \"\"\"\n    if count < 0:\n        raise ValueError(count)\n    return 2.0 * count\n"), "{after}");
    let prompt = server.requests()[0].json.to_string();
    assert!(
        prompt.contains("Google") && prompt.contains("def price"),
        "{prompt}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_docstring_that_invents_a_parameter_is_refused() {
    let invented = GOOD_DOCSTRING.replace(
        "        count: How many.\n",
        "        count: How many.\n        discount: A discount.\n",
    );
    let reply = || Reply::stream(Backend::Ollama, &[invented.as_str()]);
    let server = ScriptedServer::start([reply(), reply()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "price.py", PRICE).await;
    let actions = list(&mut client, &uri, range((0, 6), (0, 6)), vec![]).await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Write a docstring"))
        .await
        .unwrap();
    assert!(
        resolved.get("edit").is_none_or(Value::is_null),
        "{resolved}"
    );
    let message = shown(&mut client, "no docstring offered").await;
    assert!(
        message.contains("`discount`") && message.contains("does not have"),
        "{message}"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn comments_are_offered_through_the_code_action() {
    let answer = "```python\n# Negative counts are a caller's mistake.\nif count < 0:\n    raise ValueError(count)\nreturn 2.0 * count  # Two per item.\n```";
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &[answer])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "price.py", PRICE).await;
    let actions = list(&mut client, &uri, range((1, 4), (3, 22)), vec![]).await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Comment this code"))
        .await
        .unwrap();
    let after = apply(PRICE, &resolved["edit"]);
    assert_eq!(
        after,
        "def price(item: str, count: int = 1) -> float:\n    # Negative counts are a caller's mistake.\n    if count < 0:\n        raise ValueError(count)\n    return 2.0 * count  # Two per item.\n"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_comment_that_changes_code_is_refused() {
    let answer = "```python\n# Negative counts are allowed now.\nif count < -1:\n    raise ValueError(count)\nreturn 2.0 * count\n```";
    let reply = || Reply::stream(Backend::Ollama, &[answer]);
    let server = ScriptedServer::start([reply(), reply()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "price.py", PRICE).await;
    let arguments = json!([{"textDocument": {"uri": uri}, "range": range((1, 0), (3, 22))}]);
    client
        .request(
            "workspace/executeCommand",
            json!({"command": "spackle.comment", "arguments": arguments}),
        )
        .await
        .unwrap();
    let message = shown(&mut client, "no comments offered").await;
    assert!(
        message.contains("changes the code") && message.contains("count < -1"),
        "{message}"
    );
    assert!(
        client
            .seen
            .iter()
            .all(|m| m["method"] != "workspace/applyEdit"),
        "nothing is applied"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_document_changed_after_listing_gets_no_edit() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &[GOOD_DOCSTRING])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "price.py", PRICE).await;
    let actions = list(&mut client, &uri, range((0, 6), (0, 6)), vec![]).await;
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 1},
                   "contentChanges": [{"range": range((0, 0), (0, 0)), "text": "import math\n"}]}),
        )
        .await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Write a docstring"))
        .await
        .unwrap();
    assert!(
        resolved.get("edit").is_none_or(Value::is_null),
        "{resolved}"
    );
    let message = shown(&mut client, "no docstring offered").await;
    assert!(message.contains("changed"), "{message}");
    assert!(
        server.requests().is_empty(),
        "a stale action does not ask the model"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_resolve_drops_the_model_request() {
    let server = ScriptedServer::start([Reply::hang()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "price.py", PRICE).await;
    let actions = list(&mut client, &uri, range((0, 6), (0, 6)), vec![]).await;
    let id = client
        .send_request("codeAction/resolve", titled(&actions, "Write a docstring"))
        .await;
    assert!(
        server
            .wait_for_requests(1, std::time::Duration::from_secs(10))
            .await,
        "the model was asked"
    );
    client.notify("$/cancelRequest", json!({"id": id})).await;
    let error = client.response(id).await.unwrap_err();
    assert_eq!(error["code"], -32800, "{error}");
    assert!(
        server
            .wait_for_disconnects(1, std::time::Duration::from_secs(5))
            .await,
        "the HTTP request to the model was dropped"
    );
    client.shutdown().await;
}

/// Starts the server for `price.py` with a client that accepts server-initiated progress.
async fn start_with_progress(dir: &std::path::Path, endpoint: &str) -> (LspClient, String) {
    let mut options = Start::new(dir);
    options.initialization_options = json!({"model": {"backend": "ollama", "endpoint": endpoint, "first_token_timeout_ms": 4000, "timeout_ms": 8000},
                                            "completion": {"debounce_ms": 0}});
    options.capabilities = json!({"window": {"workDoneProgress": true}});
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.join("price.py"));
    client.open(&uri, PRICE).await;
    (client, uri)
}

/// Whether a `$/progress` notification belongs to a code action (not to indexing).
fn action_progress(params: &Value, kind: &str) -> bool {
    params["token"]
        .as_str()
        .is_some_and(|token| token.starts_with("spackle/action/"))
        && params["value"]["kind"] == kind
}

#[tokio::test]
async fn a_resolved_action_shows_progress_from_begin_to_end() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &[GOOD_DOCSTRING])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start_with_progress(dir.path(), &server.url()).await;
    let actions = list(&mut client, &uri, range((0, 6), (0, 6)), vec![]).await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Write a docstring"))
        .await
        .unwrap();
    assert!(resolved["edit"].is_object(), "{resolved}");
    let end = client
        .notification("$/progress", |p| action_progress(p, "end"))
        .await;
    let token = end["token"].clone();
    let begin = client
        .notification("$/progress", |p| {
            p["token"] == token && p["value"]["kind"] == "begin"
        })
        .await;
    assert_eq!(begin["value"]["title"], "spackle: writing a docstring…");
    assert_eq!(begin["value"]["cancellable"], true);
    let report = client
        .notification("$/progress", |p| {
            p["token"] == token && p["value"]["kind"] == "report"
        })
        .await;
    assert!(
        report["value"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("round 1"),
        "{report}"
    );
    let created = client
        .seen
        .iter()
        .any(|m| m["method"] == "window/workDoneProgress/create" && m["params"]["token"] == token);
    assert!(created, "the token was created with the client first");
    client.shutdown().await;
}

#[tokio::test]
async fn cancelling_the_progress_drops_the_model_request() {
    let server = ScriptedServer::start([Reply::hang()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start_with_progress(dir.path(), &server.url()).await;
    let actions = list(&mut client, &uri, range((0, 6), (0, 6)), vec![]).await;
    let id = client
        .send_request("codeAction/resolve", titled(&actions, "Write a docstring"))
        .await;
    let begin = client
        .notification("$/progress", |p| action_progress(p, "begin"))
        .await;
    assert!(
        server
            .wait_for_requests(1, std::time::Duration::from_secs(10))
            .await,
        "the model was asked"
    );
    client
        .notify(
            "window/workDoneProgress/cancel",
            json!({"token": begin["token"]}),
        )
        .await;
    let resolved = client.response(id).await.expect("the resolve answers");
    assert!(
        resolved.get("edit").is_none_or(Value::is_null),
        "a cancelled action has no edit: {resolved}"
    );
    assert!(
        server
            .wait_for_disconnects(1, std::time::Duration::from_secs(5))
            .await,
        "the HTTP request to the model was dropped"
    );
    assert!(
        client.stderr().contains("progress cancelled by the user"),
        "the cancel came through the progress token, not a timeout"
    );
    let token = begin["token"].clone();
    client
        .notification("$/progress", |p| {
            p["token"] == token && p["value"]["kind"] == "end"
        })
        .await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_command_reports_under_its_own_token_and_cancels_through_it() {
    let server = ScriptedServer::start([Reply::hang()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut client, uri) = start(dir.path(), &server.url(), "price.py", PRICE).await;
    let arguments =
        json!([{"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}]);
    let id = client
        .send_request(
            "workspace/executeCommand",
            json!({"command": "spackle.generateDocstring", "arguments": arguments, "workDoneToken": "editor-token-7"}),
        )
        .await;
    let begin = client
        .notification("$/progress", |p| {
            p["token"] == "editor-token-7" && p["value"]["kind"] == "begin"
        })
        .await;
    assert_eq!(begin["value"]["cancellable"], true);
    assert!(
        server
            .wait_for_requests(1, std::time::Duration::from_secs(10))
            .await
    );
    client
        .notify(
            "window/workDoneProgress/cancel",
            json!({"token": "editor-token-7"}),
        )
        .await;
    assert_eq!(client.response(id).await, Ok(Value::Null));
    assert!(
        server
            .wait_for_disconnects(1, std::time::Duration::from_secs(5))
            .await,
        "the HTTP request to the model was dropped"
    );
    assert!(
        client
            .seen
            .iter()
            .all(|m| m["method"] != "workspace/applyEdit"),
        "nothing is applied"
    );
    client.shutdown().await;
}

const UNUSED: &str = "def double(total: int) -> int:\n    unused = total\n    return total * 2\n";

/// Writes a stand-in for ruff into `dir/.venv/bin`: it reads the text on stdin like
/// `ruff check --output-format=json --stdin-filename F -` and prints ruff's JSON shape, with an
/// F841 for each line that assigns `unused`.
fn fake_ruff(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join(".venv/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = r#"#!/bin/sh
printf '%s\n' "$(cat)" | {
  out=""
  row=0
  while IFS= read -r line; do
    row=$((row + 1))
    case "$line" in
      *"unused = "*)
        item="{\"cell\":null,\"code\":\"F841\",\"end_location\":{\"column\":11,\"row\":$row},\"filename\":\"double.py\",\"fix\":null,\"location\":{\"column\":5,\"row\":$row},\"message\":\"Local variable \`unused\` is assigned to but never used\",\"noqa_row\":$row,\"url\":\"https://docs.astral.sh/ruff/rules/unused-variable\"}"
        if [ -n "$out" ]; then out="$out,$item"; else out="$item"; fi
        ;;
    esac
  done
  echo "[$out]"
}
"#;
    std::fs::write(bin.join("ruff"), script).unwrap();
    std::fs::set_permissions(bin.join("ruff"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

async fn start_with_ruff(dir: &std::path::Path, endpoint: &str) -> (LspClient, String) {
    let mut options = Start::new(dir);
    options.initialization_options = json!({"model": {"backend": "ollama", "endpoint": endpoint, "first_token_timeout_ms": 4000, "timeout_ms": 8000},
                                            "completion": {"debounce_ms": 0},
                                            "actions": {"external_checker": "ruff"}});
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.join("double.py"));
    client.open(&uri, UNUSED).await;
    (client, uri)
}

fn ruff_unused() -> Value {
    json!({"range": range((1, 4), (1, 10)), "severity": 2, "source": "Ruff", "code": "F841",
           "message": "Local variable `unused` is assigned to but never used"})
}

#[tokio::test]
async fn the_external_checker_confirms_a_fix_spackle_cannot_check_itself() {
    let server = ScriptedServer::start([Reply::stream(
        Backend::Ollama,
        &["```python\ntotal = int(total)\n```"],
    )])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    fake_ruff(dir.path());
    let (mut client, uri) = start_with_ruff(dir.path(), &server.url()).await;
    let actions = list(
        &mut client,
        &uri,
        range((1, 4), (1, 10)),
        vec![ruff_unused()],
    )
    .await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Fix with spackle"))
        .await
        .unwrap();
    let after = apply(UNUSED, &resolved["edit"]);
    assert_eq!(
        after,
        "def double(total: int) -> int:\n    total = int(total)\n    return total * 2\n"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn a_fix_the_external_checker_still_flags_is_refused() {
    let still = || Reply::stream(Backend::Ollama, &["```python\nunused = total + 0\n```"]);
    let server = ScriptedServer::start([still(), still()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    fake_ruff(dir.path());
    let (mut client, uri) = start_with_ruff(dir.path(), &server.url()).await;
    let actions = list(
        &mut client,
        &uri,
        range((1, 4), (1, 10)),
        vec![ruff_unused()],
    )
    .await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Fix with spackle"))
        .await
        .unwrap();
    assert!(
        resolved.get("edit").is_none_or(Value::is_null),
        "{resolved}"
    );
    let message = shown(&mut client, "no fix offered").await;
    assert!(
        message.contains("ruff still reports the problem") && message.contains("F841"),
        "{message}"
    );
    assert_eq!(
        server.requests().len(),
        2,
        "one repair round with the reason"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn without_the_tool_installed_spackle_falls_back_to_its_own_checks() {
    let server = ScriptedServer::start([]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = json!({"model": {"backend": "ollama", "endpoint": server.url()},
                                            "actions": {"external_checker": "ruff"}});
    // A PATH without ruff, and no .venv in the workspace.
    options
        .environment
        .push(("PATH", dir.path().display().to_string()));
    let (mut client, _) = LspClient::start(options).await;
    let uri = file_uri(&dir.path().join("double.py"));
    client.open(&uri, UNUSED).await;
    let actions = list(
        &mut client,
        &uri,
        range((1, 4), (1, 10)),
        vec![ruff_unused()],
    )
    .await;
    let resolved = client
        .request("codeAction/resolve", titled(&actions, "Fix with spackle"))
        .await
        .unwrap();
    assert!(
        resolved.get("edit").is_none_or(Value::is_null),
        "{resolved}"
    );
    let message = shown(&mut client, "no fix offered").await;
    assert!(
        message.contains("spackle's checks do not see this problem"),
        "{message}"
    );
    assert!(
        client.stderr().contains("`ruff` is not on PATH"),
        "the log says why the checker was not used"
    );
    assert!(server.requests().is_empty());
    client.shutdown().await;
}

#[tokio::test]
async fn the_docstring_prompt_shows_a_similar_documented_function_of_another_file() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &[GOOD_DOCSTRING])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.py"),
        "def unit_price(item: str, count: int = 1) -> float:\n    \"\"\"The price of one item.\n\n    :param item: The item.\n    :param count: How many are bought.\n    :returns: The price.\n    \"\"\"\n    return 2.0\n\n\ndef open_database(path):\n    \"\"\"Open the database.\n\n    :param path: Where it is.\n    \"\"\"\n    return path\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("price.py"), PRICE).unwrap();
    let mut options = Start::new(dir.path());
    options.initialization_options = json!({"model": {"backend": "ollama", "endpoint": server.url()},
                                            "completion": {"debounce_ms": 0}});
    let (mut client, _) = LspClient::start(options).await;
    // The example comes from the index: wait until the workspace is indexed.
    client
        .notification("$/progress", |p| {
            p["token"] == "spackle/indexing" && p["value"]["kind"] == "end"
        })
        .await;
    let uri = file_uri(&dir.path().join("price.py"));
    client.open(&uri, PRICE).await;
    let actions = list(&mut client, &uri, range((0, 6), (0, 6)), vec![]).await;
    client
        .request("codeAction/resolve", titled(&actions, "Write a docstring"))
        .await
        .unwrap();
    let requests = server.requests();
    let prompt = requests[0].json.to_string();
    assert!(
        prompt.contains("# from catalog") && prompt.contains(":param count: How many are bought."),
        "the whole docstring of the similar function is shown: {prompt}"
    );
    assert!(
        prompt.contains("reStructuredText"),
        "a file without docstrings takes the project's style: {prompt}"
    );
    let unit_price = prompt.find("def unit_price").expect("the similar function");
    assert!(
        prompt
            .find("def open_database")
            .is_none_or(|other| other > unit_price),
        "the similar function comes first: {prompt}"
    );
    client.shutdown().await;
}
