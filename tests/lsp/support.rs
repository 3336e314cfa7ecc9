//! A small LSP client that drives the real `spackle` binary over stdio.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long any single answer from the server may take in a test.
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub struct LspClient {
    child: Child,
    stdin: ChildStdin,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Notifications and server requests seen while waiting for responses.
    pub seen: VecDeque<Value>,
    next_id: i64,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    /// The server's cache folder (`SPACKLE_CACHE_DIR`), removed with the client: tests never
    /// write into the user's `~/.cache/spackle`.
    cache: tempfile::TempDir,
}

/// Options for starting the server.
pub struct Start<'a> {
    pub root: &'a Path,
    pub initialization_options: Value,
    pub capabilities: Value,
    pub environment: Vec<(&'a str, String)>,
}

impl<'a> Start<'a> {
    pub fn new(root: &'a Path) -> Self {
        Start {
            root,
            initialization_options: Value::Null,
            capabilities: json!({}),
            environment: Vec::new(),
        }
    }
}

fn frame(body: &str) -> Vec<u8> {
    format!("Content-Length: {}\r\n\r\n{}", body.len(), body).into_bytes()
}

impl LspClient {
    /// The cache folder the server was started with (unless the test gave its own).
    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    /// Starts the binary and completes the initialize handshake. Returns the initialize result too.
    pub async fn start(options: Start<'_>) -> (LspClient, Value) {
        let cache = tempfile::tempdir().expect("a temporary cache folder");
        let mut command = Command::new(env!("CARGO_BIN_EXE_spackle"));
        command
            .arg("serve")
            .env("SPACKLE_CACHE_DIR", cache.path())
            .current_dir(options.root)
            .env_remove("SPACKLE_BACKEND")
            .env_remove("SPACKLE_ENDPOINT")
            .env_remove("SPACKLE_MODEL")
            .env(
                "SPACKLE_LOG",
                std::env::var("SPACKLE_TEST_LOG").unwrap_or_else(|_| "spackle=debug".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in &options.environment {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the spackle binary starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read_messages(BufReader::new(stdout), sender));
        let stderr_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr_text.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut client = LspClient {
            child,
            stdin,
            incoming,
            seen: VecDeque::new(),
            next_id: 0,
            stderr: stderr_text,
            cache,
        };
        let root_uri = file_uri(options.root);
        let result = client
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": root_uri,
                    "workspaceFolders": [{"uri": root_uri, "name": "workspace"}],
                    "capabilities": options.capabilities,
                    "initializationOptions": options.initialization_options,
                }),
            )
            .await
            .expect("initialize succeeds");
        client.notify("initialized", json!({})).await;
        (client, result)
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin
            .write_all(bytes)
            .await
            .expect("the server reads its input");
        self.stdin.flush().await.unwrap();
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        let body = json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string();
        self.send_raw(&frame(&body)).await;
    }

    /// Sends a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        self.send_raw(&frame(&body)).await;
        id
    }

    /// Sends a request and waits for its response: `Ok(result)` or `Err(error object)`.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.send_request(method, params).await;
        self.response(id).await
    }

    /// Waits for the response to request `id`, answering server requests meanwhile.
    pub async fn response(&mut self, id: i64) -> Result<Value, Value> {
        let is_response = |message: &Value| {
            message.get("id") == Some(&json!(id)) && message.get("method").is_none()
        };
        // Responses to concurrent requests may arrive in any order: one may already be here.
        let response = match self.seen.iter().position(is_response) {
            Some(index) => self.seen.remove(index).unwrap(),
            None => self.wait_for(is_response).await,
        };
        match response.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Waits for a response with a null id (what the transport sends for unreadable messages).
    pub async fn response_with_null_id(&mut self) -> Value {
        self.response_with_id(&Value::Null).await
    }

    /// Waits for the response whose id is `id`, whatever JSON value it is, and returns it whole.
    pub async fn response_with_id(&mut self, id: &Value) -> Value {
        self.wait_for(|message| message.get("id") == Some(id) && message.get("method").is_none())
            .await
    }

    /// Waits for a notification with this method whose params satisfy `predicate`.
    pub async fn notification(
        &mut self,
        method: &str,
        predicate: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(index) = self.seen.iter().position(|m| {
            m.get("method") == Some(&json!(method))
                && predicate(m.get("params").unwrap_or(&Value::Null))
        }) {
            return self.seen.remove(index).unwrap()["params"].clone();
        }
        let found = self
            .wait_for(|m| {
                m.get("method") == Some(&json!(method))
                    && predicate(m.get("params").unwrap_or(&Value::Null))
            })
            .await;
        found["params"].clone()
    }

    /// All notifications seen so far with this method.
    pub fn seen_notifications(&self, method: &str) -> Vec<Value> {
        self.seen
            .iter()
            .filter(|m| m.get("method") == Some(&json!(method)))
            .map(|m| m["params"].clone())
            .collect()
    }

    async fn wait_for(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
                Ok(Some(message)) => message,
                Ok(None) => panic!("the server closed its output; stderr:\n{}", self.stderr()),
                Err(_) => {
                    let seen: Vec<String> = self
                        .seen
                        .iter()
                        .map(|m| format!("{} {}", m["id"], m["method"]))
                        .collect();
                    panic!(
                        "no answer from the server within {TIMEOUT:?}; seen: {seen:?}\nstderr:\n{}",
                        self.stderr()
                    )
                }
            };
            if matches(&message) {
                return message;
            }
            if message.get("method").is_some() && message.get("id").is_some() {
                // A request from the server (progress creation, configuration): accept it.
                let body =
                    json!({"jsonrpc": "2.0", "id": message["id"], "result": null}).to_string();
                self.send_raw(&frame(&body)).await;
            }
            self.seen.push_back(message);
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Shuts the server down cleanly and checks that it exits with success.
    pub async fn shutdown(mut self) {
        self.request("shutdown", Value::Null)
            .await
            .expect("shutdown succeeds");
        self.notify("exit", Value::Null).await;
        let status = tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("the server exits")
            .unwrap();
        assert!(status.success(), "the server exits cleanly: {status:?}");
    }

    /// Sends `exit` without `shutdown` first and returns the server's exit status.
    pub async fn exit_without_shutdown(mut self) -> std::process::ExitStatus {
        self.notify("exit", Value::Null).await;
        tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("the server exits")
            .unwrap()
    }

    pub async fn open(&mut self, uri: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "python", "version": 0, "text": text}}),
        )
        .await;
    }
}

async fn read_messages(
    mut reader: BufReader<tokio::process::ChildStdout>,
    sender: mpsc::UnboundedSender<Value>,
) {
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let Some(length) = length else { return };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(message) => {
                if sender.send(message).is_err() {
                    return;
                }
            }
            Err(error) => panic!("the server wrote something that is not JSON on stdout: {error}"),
        }
    }
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}
