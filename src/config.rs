//! Configuration: defaults, then `spackle.toml` at the workspace root, then the editor's settings,
//! then the environment (`SPACKLE_BACKEND`, `SPACKLE_ENDPOINT`, `SPACKLE_MODEL`).
//!
//! Every layer is merged key by key. A key spackle does not know, or a value of the wrong type, is
//! reported as a [`ConfigWarning`] naming the key, and the value from the layers below stays in force.
//! The configuration holds the *name* of the variable with an API key, never the key itself.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where the model runs and how to talk to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An OpenAI-compatible server: OpenAI, vLLM, LM Studio, llama.cpp's `/v1`.
    Openai,
    /// Ollama's native API (`/api/generate` with `suffix` for fill-in-the-middle).
    Ollama,
    /// llama.cpp's server with its `/infill` endpoint.
    Llamacpp,
    /// Anthropic's messages API.
    Anthropic,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Openai => "openai",
            Backend::Ollama => "ollama",
            Backend::Llamacpp => "llamacpp",
            Backend::Anthropic => "anthropic",
        }
    }

    /// The endpoint a user of this backend most likely runs.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Backend::Openai => "https://api.openai.com",
            Backend::Ollama => "http://127.0.0.1:11434",
            Backend::Llamacpp => "http://127.0.0.1:8080",
            Backend::Anthropic => "https://api.anthropic.com",
        }
    }

    /// The environment variable that conventionally holds this backend's API key.
    pub fn default_api_key_env(self) -> Option<&'static str> {
        match self {
            Backend::Openai => Some("OPENAI_API_KEY"),
            Backend::Anthropic => Some("ANTHROPIC_API_KEY"),
            Backend::Ollama | Backend::Llamacpp => None,
        }
    }
}

/// Which OpenAI-compatible endpoint to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpenaiApi {
    /// `/v1/completions` for code models with a fill-in-the-middle template, else `/v1/chat/completions`.
    Auto,
    Chat,
    Completions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub backend: Backend,
    /// Base URL of the server; empty means the backend's usual address.
    pub endpoint: String,
    pub name: String,
    /// The environment variable holding the API key; empty means the backend's usual one.
    pub api_key_env: String,
    /// For `openai`: which endpoint to call.
    pub api: OpenaiApi,
    /// The prompt format: `auto` (from the model name), `chat`, or a fill-in-the-middle template
    /// (`qwen`, `starcoder`, `deepseek`, `codellama`, `codestral`).
    pub template: String,
    pub max_tokens: u32,
    pub temperature: f32,
    /// How long to wait for the first token of an answer.
    pub first_token_timeout_ms: u64,
    /// How long a whole answer may take.
    pub timeout_ms: u64,
    /// The most bytes of answer text kept per candidate; the answer is cut there and the rest of
    /// the stream is not read.
    pub max_answer_bytes: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            backend: Backend::Ollama,
            endpoint: String::new(),
            name: "qwen2.5-coder:1.5b".into(),
            api_key_env: String::new(),
            api: OpenaiApi::Auto,
            template: "auto".into(),
            max_tokens: 256,
            temperature: 0.2,
            first_token_timeout_ms: 15_000,
            timeout_ms: 30_000,
            max_answer_bytes: 64 * 1024,
        }
    }
}

impl ModelConfig {
    pub fn endpoint(&self) -> String {
        let endpoint = if self.endpoint.trim().is_empty() {
            self.backend.default_endpoint()
        } else {
            self.endpoint.trim()
        };
        endpoint.trim_end_matches('/').to_string()
    }

    pub fn api_key_env(&self) -> Option<String> {
        if self.api_key_env.trim().is_empty() {
            self.backend.default_api_key_env().map(str::to_string)
        } else {
            Some(self.api_key_env.trim().to_string())
        }
    }

    /// The API key, read from the environment at the moment it is needed.
    pub fn api_key(&self) -> Option<String> {
        let name = self.api_key_env()?;
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompletionConfig {
    pub enable: bool,
    /// How long to wait after a request before calling the model; a newer request cancels it.
    /// From 0 to 10 000 (see `RANGES`).
    pub debounce_ms: u64,
    /// The longest completion shown, in lines.
    pub max_lines: usize,
    /// How many candidates to ask for.
    pub candidates: usize,
    /// Rounds of repair after the first answer when a candidate has problems.
    pub rounds: usize,
    /// No repair round starts after this many milliseconds.
    pub latency_budget_ms: u64,
    /// Show the best candidate even when it still has problems (marked as such); by default it
    /// is dropped.
    pub show_unverified: bool,
    /// Files larger than this are not parsed and get no completions.
    pub max_file_bytes: usize,
}

impl Default for CompletionConfig {
    fn default() -> Self {
        CompletionConfig {
            enable: true,
            debounce_ms: 50,
            max_lines: 40,
            candidates: 1,
            rounds: 2,
            latency_budget_ms: 10_000,
            show_unverified: false,
            max_file_bytes: crate::store::DEFAULT_MAX_PARSE_BYTES,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    /// Tokens of local text (before and after the cursor) in the prompt.
    pub local_tokens: usize,
    /// Tokens of repository context in the prompt.
    pub repository_tokens: usize,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            local_tokens: 1500,
            repository_tokens: 1500,
        }
    }
}

/// The docstring convention for written docstrings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocstringStyle {
    /// The style most of the file's own docstrings use (Google when there are none).
    #[default]
    Auto,
    Google,
    Numpy,
    Rest,
    Plain,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiagnosticsConfig {
    /// Publish spackle's own checks (unresolved names, unknown members, bad calls, syntax) for
    /// the code in open documents.
    pub enable: bool,
    /// How long after the last edit to check the document.
    pub delay_ms: u64,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig {
            enable: true,
            delay_ms: 300,
        }
    }
}

/// The tool that confirms a fix for one of its own diagnostics, when it is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalChecker {
    /// Fixes are checked with spackle's own checks only.
    #[default]
    None,
    Ruff,
    Pyright,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionsConfig {
    pub docstring_style: DocstringStyle,
    /// A fix for a diagnostic this tool reported is offered only when the tool, run on the fixed
    /// text, no longer reports it and reports nothing new.
    pub external_checker: ExternalChecker,
}

/// Everything spackle reads from its configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub model: ModelConfig,
    pub completion: CompletionConfig,
    pub context: ContextConfig,
    pub actions: ActionsConfig,
    pub diagnostics: DiagnosticsConfig,
}

/// A key spackle could not use, and why; the value from the layers below stays in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where the key came from: `spackle.toml`, `editor settings`, or an environment variable.
    pub source: String,
    /// The dotted key, such as `model.backend`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`: {}", self.source, self.key, self.message)
    }
}

/// The layers a configuration is built from, lowest first.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// The parsed `spackle.toml`, if there is one.
    pub file: Option<Value>,
    /// The editor's settings (`initializationOptions` or `workspace/didChangeConfiguration`).
    pub editor: Option<Value>,
    /// `(variable, value)` pairs from the environment.
    pub environment: Vec<(String, String)>,
}

pub const CONFIG_FILE_NAME: &str = "spackle.toml";

impl Layers {
    /// Reads `spackle.toml` from `root` (if any) and the `SPACKLE_*` variables. A file that cannot
    /// be read or parsed gives a warning, and is skipped.
    pub fn discover(root: Option<&Path>, warnings: &mut Vec<ConfigWarning>) -> Layers {
        let mut layers = Layers {
            environment: environment_overrides(),
            ..Layers::default()
        };
        if let Some(root) = root {
            let path = root.join(CONFIG_FILE_NAME);
            match std::fs::read_to_string(&path) {
                Ok(text) => match toml::from_str::<toml::Value>(&text) {
                    Ok(value) => layers.file = serde_json::to_value(value).ok(),
                    Err(error) => warnings.push(ConfigWarning {
                        source: path.display().to_string(),
                        key: String::new(),
                        message: format!("not valid TOML, ignored: {}", error.message()),
                    }),
                },
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => warnings.push(ConfigWarning {
                    source: path.display().to_string(),
                    key: String::new(),
                    message: format!("cannot be read, ignored: {error}"),
                }),
            }
        }
        layers
    }

    /// Merges the layers over the defaults.
    pub fn resolve(&self, warnings: &mut Vec<ConfigWarning>) -> Config {
        let mut merged = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
        if let Some(file) = &self.file {
            merge_layer(&mut merged, file, CONFIG_FILE_NAME, warnings);
        }
        if let Some(editor) = &self.editor {
            // Editors send either the settings themselves or them under a `spackle` key.
            let editor = editor.get("spackle").unwrap_or(editor);
            merge_layer(&mut merged, editor, "editor settings", warnings);
        }
        for (variable, value) in &self.environment {
            let key = match variable.as_str() {
                "SPACKLE_BACKEND" => "backend",
                "SPACKLE_ENDPOINT" => "endpoint",
                "SPACKLE_MODEL" => "name",
                _ => continue,
            };
            let layer = serde_json::json!({ "model": { key: value } });
            merge_layer(&mut merged, &layer, variable, warnings);
        }
        serde_json::from_value(merged).unwrap_or_default()
    }
}

/// The `SPACKLE_*` variables that override the configuration, as set in this process.
pub fn environment_overrides() -> Vec<(String, String)> {
    ["SPACKLE_BACKEND", "SPACKLE_ENDPOINT", "SPACKLE_MODEL"]
        .iter()
        .filter_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (name.to_string(), v))
        })
        .collect()
}

/// Settings whose type alone would accept absurd values, with the whole numbers they accept.
const RANGES: &[(&str, u64, u64, &str)] = &[("completion.debounce_ms", 0, 10_000, "milliseconds")];

/// Why `value` is out of the accepted range of `key`, if it has one.
fn out_of_range(key: &str, value: &Value) -> Option<String> {
    let &(_, low, high, unit) = RANGES.iter().find(|(name, ..)| *name == key)?;
    if value
        .as_u64()
        .is_some_and(|number| (low..=high).contains(&number))
    {
        return None;
    }
    Some(format!("bad value `{value}`: it must be a whole number of {unit} from {low} to {high}; the default stays in force"))
}

/// Merges `layer` into `merged` one leaf at a time, keeping only leaves that still deserialize
/// and are within their [`RANGES`].
fn merge_layer(merged: &mut Value, layer: &Value, source: &str, warnings: &mut Vec<ConfigWarning>) {
    let Some(layer) = layer.as_object() else {
        if !layer.is_null() {
            warnings.push(ConfigWarning {
                source: source.into(),
                key: String::new(),
                message: "expected a table of settings".into(),
            });
        }
        return;
    };
    let mut leaves = Vec::new();
    collect_leaves(layer, String::new(), &mut leaves);
    for (key, value) in leaves {
        let path: Vec<&str> = key.split('.').collect();
        let Some(slot) = lookup_mut(merged, &path) else {
            warnings.push(ConfigWarning {
                source: source.into(),
                key: key.clone(),
                message: "unknown setting, ignored".into(),
            });
            continue;
        };
        let value = coerce_like(slot, value);
        if let Some(message) = out_of_range(&key, &value) {
            warnings.push(ConfigWarning {
                source: source.into(),
                key,
                message,
            });
            continue;
        }
        let previous = std::mem::replace(slot, value);
        if let Err(error) = serde_json::from_value::<Config>(merged.clone()) {
            let message = format!(
                "bad value ({}), the default stays in force",
                clean_serde_message(&error.to_string())
            );
            *lookup_mut(merged, &path).expect("the key was found above") = previous;
            warnings.push(ConfigWarning {
                source: source.into(),
                key,
                message,
            });
        }
    }
}

/// Flattens nested tables into dotted keys; a `null` leaf means "not set" and is skipped.
fn collect_leaves(table: &Map<String, Value>, prefix: String, out: &mut Vec<(String, Value)>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Object(inner) => collect_leaves(inner, key, out),
            Value::Null => {}
            other => out.push((key, other.clone())),
        }
    }
}

fn lookup_mut<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    let mut current = value;
    for part in path {
        current = current.as_object_mut()?.get_mut(*part)?;
    }
    if current.is_object() {
        None
    } else {
        Some(current)
    }
}

/// Editors and environment variables send numbers and booleans as strings at times; accept them.
fn coerce_like(existing: &Value, value: Value) -> Value {
    match (existing, &value) {
        (Value::Number(_), Value::String(text)) => text
            .trim()
            .parse::<serde_json::Number>()
            .map(Value::Number)
            .unwrap_or(value),
        (Value::Bool(_), Value::String(text)) => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value,
        },
        _ => value,
    }
}

fn clean_serde_message(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resolve(layers: Layers) -> (Config, Vec<String>) {
        let mut warnings = Vec::new();
        let config = layers.resolve(&mut warnings);
        (config, warnings.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_are_ollama_with_qwen() {
        let (config, warnings) = resolve(Layers::default());
        assert!(warnings.is_empty());
        assert_eq!(config.model.backend, Backend::Ollama);
        assert_eq!(config.model.endpoint(), "http://127.0.0.1:11434");
        assert_eq!(config.model.name, "qwen2.5-coder:1.5b");
    }

    #[test]
    fn layers_apply_in_order_file_editor_environment() {
        let file = toml::from_str::<toml::Value>(
            "[model]\nbackend = \"openai\"\nendpoint = \"http://file\"\nname = \"file-model\"\nmax_tokens = 99\n",
        )
        .unwrap();
        let layers = Layers {
            file: Some(serde_json::to_value(file).unwrap()),
            editor: Some(
                json!({"spackle": {"model": {"endpoint": "http://editor", "name": "editor-model"}}}),
            ),
            environment: vec![("SPACKLE_MODEL".into(), "env-model".into())],
        };
        let (config, warnings) = resolve(layers);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.model.backend, Backend::Openai);
        assert_eq!(config.model.endpoint(), "http://editor");
        assert_eq!(config.model.name, "env-model");
        assert_eq!(config.model.max_tokens, 99);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named_and_defaults_stay() {
        let layers = Layers {
            editor: Some(
                json!({"model": {"backend": "gpt", "nmae": "x", "max_tokens": "12"}, "completion": {"rounds": -1}}),
            ),
            ..Layers::default()
        };
        let (config, warnings) = resolve(layers);
        assert_eq!(config.model.backend, Backend::Ollama);
        assert_eq!(
            config.model.max_tokens, 12,
            "numbers given as strings are accepted"
        );
        assert_eq!(config.completion.rounds, 2);
        let text = warnings.join("\n");
        assert!(text.contains("`model.backend`: bad value"), "{text}");
        assert!(text.contains("`model.nmae`: unknown setting"), "{text}");
        assert!(text.contains("`completion.rounds`: bad value"), "{text}");
    }

    #[test]
    fn debounce_must_be_in_range() {
        for (value, expected) in [(json!(0), 0), (json!("75"), 75), (json!(10_000), 10_000)] {
            let layers = Layers {
                editor: Some(json!({"completion": {"debounce_ms": value}})),
                ..Layers::default()
            };
            let (config, warnings) = resolve(layers);
            assert!(warnings.is_empty(), "{warnings:?}");
            assert_eq!(config.completion.debounce_ms, expected);
        }
        for value in [
            json!(-5),
            json!(10_001),
            json!(1e12),
            json!(2.5),
            json!("soon"),
        ] {
            let layers = Layers {
                editor: Some(json!({"completion": {"debounce_ms": value}})),
                ..Layers::default()
            };
            let (config, warnings) = resolve(layers);
            assert_eq!(config.completion.debounce_ms, 50, "{value}");
            let text = warnings.join("\n");
            assert!(
                text.contains("`completion.debounce_ms`: bad value")
                    && text.contains("milliseconds from 0 to 10000"),
                "{text}"
            );
        }
    }

    #[test]
    fn docstring_style_is_read_and_checked() {
        let layers = Layers {
            editor: Some(json!({"actions": {"docstring_style": "numpy"}})),
            ..Layers::default()
        };
        let (config, warnings) = resolve(layers);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.actions.docstring_style, DocstringStyle::Numpy);
        let layers = Layers {
            editor: Some(json!({"actions": {"docstring_style": "epytext"}})),
            ..Layers::default()
        };
        let (config, warnings) = resolve(layers);
        assert_eq!(config.actions.docstring_style, DocstringStyle::Auto);
        assert!(
            warnings
                .join("\n")
                .contains("`actions.docstring_style`: bad value"),
            "{warnings:?}"
        );
    }

    #[test]
    fn external_checker_is_read_and_checked() {
        let (config, warnings) = resolve(Layers::default());
        assert!(warnings.is_empty());
        assert_eq!(config.actions.external_checker, ExternalChecker::None);
        let layers = Layers {
            editor: Some(json!({"actions": {"external_checker": "ruff"}})),
            ..Layers::default()
        };
        let (config, warnings) = resolve(layers);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.actions.external_checker, ExternalChecker::Ruff);
        let layers = Layers {
            editor: Some(json!({"actions": {"external_checker": "mypy"}})),
            ..Layers::default()
        };
        let (config, warnings) = resolve(layers);
        assert_eq!(config.actions.external_checker, ExternalChecker::None);
        assert!(
            warnings
                .join("\n")
                .contains("`actions.external_checker`: bad value"),
            "{warnings:?}"
        );
    }

    #[test]
    fn api_key_variable_defaults_per_backend() {
        let mut model = ModelConfig {
            backend: Backend::Anthropic,
            ..ModelConfig::default()
        };
        assert_eq!(model.api_key_env().as_deref(), Some("ANTHROPIC_API_KEY"));
        model.api_key_env = "MY_KEY".into();
        assert_eq!(model.api_key_env().as_deref(), Some("MY_KEY"));
        model.backend = Backend::Ollama;
        model.api_key_env = String::new();
        assert_eq!(model.api_key_env(), None);
    }
}
