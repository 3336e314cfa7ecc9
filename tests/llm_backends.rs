//! The model backends against the scripted server: what goes on the wire, what comes back, and
//! every failure a model server can produce.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use spackle::config::{Backend, ModelConfig, OpenaiApi};
use spackle::llm::scripted::{refused_address, RecordedRequest, Reply, ScriptedServer};
use spackle::llm::stream::{FIRST_TOKEN, WHOLE_ANSWER};
use spackle::llm::{
    model_from_config, probe, ChatMessage, ContextFile, GenerateRequest, Generation, ModelError,
    ModelResult, RequestKind, Role,
};

const ALL_BACKENDS: [Backend; 4] = [
    Backend::Openai,
    Backend::Ollama,
    Backend::Llamacpp,
    Backend::Anthropic,
];
const PREFIX: &str = "def total(items):\n    return ";
const SUFFIX: &str = "\n\nprint(total([]))\n";

/// A configuration for `backend` at `server`, with small timeouts and a key variable nobody sets.
fn config(backend: Backend, endpoint: &str, name: &str) -> ModelConfig {
    ModelConfig {
        backend,
        endpoint: endpoint.to_string(),
        name: name.to_string(),
        api_key_env: "SPACKLE_TEST_KEY_THAT_IS_NEVER_SET".into(),
        first_token_timeout_ms: 400,
        timeout_ms: 1500,
        ..ModelConfig::default()
    }
}

/// The model name that makes each backend use its fill-in-the-middle path.
fn code_model(backend: Backend) -> &'static str {
    match backend {
        Backend::Anthropic => "claude-3-5-haiku-latest",
        _ => "qwen2.5-coder:1.5b",
    }
}

fn infill(context: bool) -> GenerateRequest {
    let context = if context {
        vec![ContextFile {
            path: "shop/models.py".into(),
            text: "class Item:\n    price: float\n".into(),
        }]
    } else {
        Vec::new()
    };
    GenerateRequest {
        kind: RequestKind::Infill {
            path: "shop/cart.py".into(),
            prefix: PREFIX.into(),
            suffix: SUFFIX.into(),
            context,
        },
        stop: vec!["\n\n".into()],
        max_tokens: 64,
        temperature: 0.2,
        candidates: 1,
    }
}

async fn generate(config: &ModelConfig, request: &GenerateRequest) -> ModelResult<Generation> {
    let model = model_from_config(config).expect("the configuration is valid");
    model.generate(request).await
}

async fn only_request(server: &ScriptedServer) -> RecordedRequest {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests.into_iter().next().unwrap()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|item| text(item).to_string())
        .collect()
}

// ---- OpenAI-compatible ----

#[tokio::test]
async fn openai_infill_streams_from_completions_with_the_fim_prompt() {
    let server = ScriptedServer::start([Reply::stream(
        Backend::Openai,
        &["sum(item.price ", "for item in items)"],
    )])
    .await
    .unwrap();
    let generation = generate(
        &config(Backend::Openai, &server.url(), "qwen2.5-coder-1.5b"),
        &infill(true),
    )
    .await
    .unwrap();
    assert_eq!(
        generation.candidates,
        vec!["sum(item.price for item in items)"]
    );
    assert_eq!(
        (generation.prompt_tokens, generation.completion_tokens),
        (Some(12), Some(2))
    );

    let request = only_request(&server).await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/completions")
    );
    assert_eq!(
        request.header("authorization"),
        None,
        "no key is set, so no Authorization header"
    );
    assert_eq!(request.json["model"], "qwen2.5-coder-1.5b");
    assert_eq!(request.json["stream"], true);
    assert_eq!(request.json["max_tokens"], 64);
    assert!(
        request.json.get("n").is_none(),
        "n is only sent for several candidates"
    );
    let prompt = text(&request.json["prompt"]);
    assert!(
        prompt.contains("<|file_sep|>shop/models.py\nclass Item:"),
        "{prompt}"
    );
    assert!(
        prompt.ends_with(&format!(
            "<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"
        )),
        "{prompt}"
    );
    let stop = strings(&request.json["stop"]);
    assert_eq!(stop.len(), 4, "OpenAI takes at most four stop sequences");
    assert_eq!(stop[0], "\n\n");
    assert!(stop.contains(&"<|file_sep|>".to_string()), "{stop:?}");
}

#[tokio::test]
async fn openai_sends_the_key_as_a_bearer_token_when_set() {
    std::env::set_var("SPACKLE_TEST_OPENAI_BEARER", "sk-bearer-test-key");
    let server = ScriptedServer::start([Reply::stream(Backend::Openai, &["x"])])
        .await
        .unwrap();
    let config = ModelConfig {
        api_key_env: "SPACKLE_TEST_OPENAI_BEARER".into(),
        ..config(Backend::Openai, &server.url(), "qwen2.5-coder")
    };
    generate(&config, &infill(false)).await.unwrap();
    assert_eq!(
        only_request(&server).await.header("authorization"),
        Some("Bearer sk-bearer-test-key")
    );
}

#[tokio::test]
async fn openai_chat_models_get_the_chat_prompt_and_fences_are_removed() {
    let reply = Reply::stream(
        Backend::Openai,
        &[
            "Here is the code:\n```python\n",
            "    return sum(item.price ",
            "for item in items)\n",
            "```",
        ],
    );
    let server = ScriptedServer::start([reply]).await.unwrap();
    let generation = generate(
        &config(Backend::Openai, &server.url(), "gpt-4o-mini"),
        &infill(true),
    )
    .await
    .unwrap();
    assert_eq!(
        generation.candidates,
        vec!["sum(item.price for item in items)"],
        "fences, prose and the echoed `return ` are gone"
    );

    let request = only_request(&server).await;
    assert_eq!(request.path, "/v1/chat/completions");
    let messages = request.json["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(text(&messages[0]["content"]).contains("only the code"));
    assert_eq!(messages[1]["role"], "user");
    let user = text(&messages[1]["content"]);
    assert!(
        user.contains(&format!("{PREFIX}<CURSOR>{SUFFIX}")),
        "{user}"
    );
    assert!(user.contains("File `shop/models.py`"), "{user}");
    assert!(
        request.json.get("stop").is_none(),
        "stops are applied after the fences are removed"
    );
}

#[tokio::test]
async fn openai_api_setting_chooses_the_endpoint() {
    let server = ScriptedServer::start([Reply::stream(Backend::Openai, &["x"])])
        .await
        .unwrap();
    let config = ModelConfig {
        api: OpenaiApi::Chat,
        ..config(
            Backend::Openai,
            &format!("{}/v1", server.url()),
            "qwen2.5-coder",
        )
    };
    generate(&config, &infill(false)).await.unwrap();
    assert_eq!(
        only_request(&server).await.path,
        "/v1/chat/completions",
        "an endpoint ending in /v1 is not doubled"
    );

    let bad = ModelConfig {
        api: OpenaiApi::Completions,
        ..config.clone()
    };
    let bad = ModelConfig {
        name: "gpt-4o".into(),
        ..bad
    };
    let error = model_from_config(&bad)
        .err()
        .expect("completions without a template is refused");
    assert!(matches!(error, ModelError::Config { .. }), "{error:?}");
}

#[tokio::test]
async fn openai_asks_for_several_candidates_with_n() {
    let reply =
        Reply::stream_candidates(Backend::Openai, &[&["a", " + 1"], &["b", " + 2"], &["c"]]);
    let server = ScriptedServer::start([reply]).await.unwrap();
    let request = GenerateRequest {
        candidates: 3,
        ..infill(false)
    };
    let generation = generate(
        &config(Backend::Openai, &server.url(), "qwen2.5-coder"),
        &request,
    )
    .await
    .unwrap();
    assert_eq!(generation.candidates, vec!["a + 1", "b + 2", "c"]);
    assert_eq!(only_request(&server).await.json["n"], 3);
}

/// A proxy that streams every choice under index 0 would join the candidates into one: spackle
/// sees a choice go on after its end, asks again with one request per candidate, and keeps doing
/// so for that server.
#[tokio::test]
async fn candidates_a_proxy_sends_under_one_index_are_asked_for_one_by_one() {
    let candidates: &[&[&str]] = &[&["a", " + 1"], &["b", " + 2"], &["c"]];
    let single = |text: &str| Reply::stream(Backend::Openai, &[text]);
    let server = ScriptedServer::start([
        Reply::stream_candidates_at_index_zero(Backend::Openai, candidates),
        single("one"),
        single("two"),
        single("three"),
        single("four"),
        single("five"),
        single("six"),
    ])
    .await
    .unwrap();
    let config = config(Backend::Openai, &server.url(), "qwen2.5-coder");
    let model = model_from_config(&config).unwrap();
    let request = GenerateRequest {
        candidates: 3,
        ..infill(false)
    };
    for expected in [["one", "three", "two"], ["five", "four", "six"]] {
        let mut generation = model.generate(&request).await.unwrap();
        generation.candidates.sort();
        assert_eq!(generation.candidates, expected);
        assert_eq!(generation.completion_tokens, Some(3), "summed");
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 7);
    assert_eq!(requests[0].json["n"], 3);
    assert!(
        requests[1..]
            .iter()
            .all(|request| request.json.get("n").is_none()),
        "{requests:#?}"
    );
}

/// A server that reports usage with each choice's end, and no total: the counts are summed.
#[tokio::test]
async fn usage_reported_per_choice_is_summed() {
    for api in [OpenaiApi::Completions, OpenaiApi::Chat] {
        let reply = Reply::stream_candidates_with_usage_per_choice(
            Backend::Openai,
            &[&["a", " + 1"], &["b", " + 2"], &["c"]],
        );
        let server = ScriptedServer::start([reply]).await.unwrap();
        let config = ModelConfig {
            api,
            ..config(Backend::Openai, &server.url(), "qwen2.5-coder")
        };
        let generation = generate(
            &config,
            &GenerateRequest {
                candidates: 3,
                ..infill(false)
            },
        )
        .await
        .unwrap();
        assert_eq!(generation.candidates.len(), 3, "{api:?}: {generation:?}");
        assert_eq!(
            (generation.prompt_tokens, generation.completion_tokens),
            (Some(36), Some(5)),
            "{api:?}"
        );
    }
}

#[tokio::test]
async fn openai_chat_requests_pass_messages_and_stops() {
    let server = ScriptedServer::start([Reply::stream(
        Backend::Openai,
        &["Fine", ", thanks", "\nSTOP here"],
    )])
    .await
    .unwrap();
    let request = GenerateRequest {
        kind: RequestKind::Chat {
            messages: vec![
                ChatMessage {
                    role: Role::System,
                    content: "Be brief.".into(),
                },
                ChatMessage {
                    role: Role::User,
                    content: "How are you?".into(),
                },
            ],
        },
        stop: vec!["STOP".into()],
        ..infill(false)
    };
    let generation = generate(
        &config(Backend::Openai, &server.url(), "gpt-4o-mini"),
        &request,
    )
    .await
    .unwrap();
    assert_eq!(generation.candidates, vec!["Fine, thanks\n"]);
    let request = only_request(&server).await;
    assert_eq!(
        request.json["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How are you?"}])
    );
    assert_eq!(request.json["stop"], json!(["STOP"]));
}

#[tokio::test]
async fn servers_that_ignore_stream_are_read_whole() {
    let whole = json!({
        "choices": [{"index": 0, "text": "sum(items)\n\nprint()", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 5},
    });
    let server = ScriptedServer::start([Reply::json(whole)]).await.unwrap();
    let generation = generate(
        &config(Backend::Openai, &server.url(), "qwen2.5-coder"),
        &infill(false),
    )
    .await
    .unwrap();
    assert_eq!(
        generation.candidates,
        vec!["sum(items)"],
        "the stop sequence still applies"
    );
    assert_eq!(generation.prompt_tokens, Some(30));
}

// ---- Ollama ----

#[tokio::test]
async fn ollama_infill_sends_prompt_and_suffix() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &["sum(", "items)"])])
        .await
        .unwrap();
    let generation = generate(
        &config(Backend::Ollama, &server.url(), "qwen2.5-coder:1.5b"),
        &infill(false),
    )
    .await
    .unwrap();
    assert_eq!(generation.candidates, vec!["sum(items)"]);
    assert_eq!(
        (generation.prompt_tokens, generation.completion_tokens),
        (Some(12), Some(2))
    );

    let request = only_request(&server).await;
    assert_eq!(request.path, "/api/generate");
    assert_eq!(request.json["model"], "qwen2.5-coder:1.5b");
    assert_eq!(request.json["prompt"], PREFIX);
    assert_eq!(request.json["suffix"], SUFFIX);
    assert_eq!(request.json["stream"], true);
    assert!(request.json.get("raw").is_none());
    assert_eq!(request.json["options"]["num_predict"], 64);
    assert!((request.json["options"]["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    let stop = strings(&request.json["options"]["stop"]);
    assert!(
        stop.contains(&"\n\n".to_string()) && stop.contains(&"<|fim_prefix|>".to_string()),
        "{stop:?}"
    );
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn ollama_infill_with_context_sends_a_raw_templated_prompt() {
    let server = ScriptedServer::start([Reply::stream(Backend::Ollama, &["0"])])
        .await
        .unwrap();
    generate(
        &config(Backend::Ollama, &server.url(), "qwen2.5-coder:1.5b"),
        &infill(true),
    )
    .await
    .unwrap();
    let request = only_request(&server).await;
    assert_eq!(request.json["raw"], true);
    assert!(request.json.get("suffix").is_none());
    let prompt = text(&request.json["prompt"]);
    assert!(
        prompt.starts_with("<|repo_name|>workspace\n<|file_sep|>shop/models.py\n"),
        "{prompt}"
    );
    assert!(
        prompt.contains(&format!("<|fim_suffix|>{SUFFIX}<|fim_middle|>")),
        "{prompt}"
    );
}

#[tokio::test]
async fn ollama_chat_models_use_api_chat() {
    let server = ScriptedServer::start([Reply::stream(
        Backend::Ollama,
        &["```python\n", "sum(items)\n", "```\n"],
    )])
    .await
    .unwrap();
    let generation = generate(
        &config(Backend::Ollama, &server.url(), "llama3.1:8b"),
        &infill(false),
    )
    .await
    .unwrap();
    assert_eq!(generation.candidates, vec!["sum(items)"]);
    let request = only_request(&server).await;
    assert_eq!(request.path, "/api/chat");
    assert_eq!(request.json["messages"][0]["role"], "system");
    assert!(text(&request.json["messages"][1]["content"]).contains("<CURSOR>"));
}

#[tokio::test]
async fn ollama_several_candidates_are_several_requests() {
    let server = ScriptedServer::start([
        Reply::stream(Backend::Ollama, &["a"]),
        Reply::stream(Backend::Ollama, &["b"]),
    ])
    .await
    .unwrap();
    let request = GenerateRequest {
        candidates: 2,
        ..infill(false)
    };
    let mut generation = generate(
        &config(Backend::Ollama, &server.url(), "qwen2.5-coder:1.5b"),
        &request,
    )
    .await
    .unwrap();
    generation.candidates.sort();
    assert_eq!(generation.candidates, vec!["a", "b"]);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(generation.completion_tokens, Some(2));
}

#[tokio::test]
async fn several_candidates_survive_one_failure() {
    let server = ScriptedServer::start([
        Reply::stream(Backend::Ollama, &["a"]),
        Reply::server_error("busy"),
    ])
    .await
    .unwrap();
    let request = GenerateRequest {
        candidates: 2,
        ..infill(false)
    };
    let generation = generate(
        &config(Backend::Ollama, &server.url(), "qwen2.5-coder:1.5b"),
        &request,
    )
    .await
    .unwrap();
    assert_eq!(generation.candidates, vec!["a"]);
}

// ---- llama.cpp ----

#[tokio::test]
async fn llamacpp_infill_sends_prefix_suffix_and_extra_files() {
    let server = ScriptedServer::start([
        Reply::json(json!({"default_generation_settings": {"n_ctx": 8192}, "total_slots": 1})),
        Reply::stream(Backend::Llamacpp, &["sum(", "items)"]),
    ])
    .await
    .unwrap();
    let generation = generate(
        &config(Backend::Llamacpp, &server.url(), "qwen2.5-coder:1.5b"),
        &infill(true),
    )
    .await
    .unwrap();
    assert_eq!(generation.candidates, vec!["sum(items)"]);
    assert_eq!(
        (generation.prompt_tokens, generation.completion_tokens),
        (Some(12), Some(2))
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/props")
    );
    let request = requests[1].clone();
    assert_eq!(request.path, "/infill");
    assert_eq!(request.json["input_prefix"], PREFIX);
    assert_eq!(request.json["input_suffix"], SUFFIX);
    assert_eq!(
        request.json["input_extra"],
        json!([{"filename": "shop/models.py", "text": "class Item:\n    price: float\n"}])
    );
    assert_eq!(request.json["n_predict"], 64);
    assert_eq!(request.json["stream"], true);
    assert!(strings(&request.json["stop"]).contains(&"\n\n".to_string()));
}

/// `/infill` would drop repository context past what the server's context leaves for it, from
/// the front and silently; spackle reads `n_ctx` once and sends what fits, best-ranked first.
#[tokio::test]
async fn llamacpp_infill_sizes_the_context_from_the_servers_n_ctx() {
    let paragraph = |n: usize| {
        format!(
            "class Thing{n}:\n    value: int\n    {}\n\n",
            "x".repeat(90)
        )
    };
    let repository: String = (0..200).map(paragraph).collect();
    let request = GenerateRequest {
        kind: RequestKind::Infill {
            path: "shop/cart.py".into(),
            prefix: PREFIX.into(),
            suffix: SUFFIX.into(),
            context: vec![ContextFile {
                path: "repository.py".into(),
                text: repository.clone(),
            }],
        },
        ..infill(false)
    };
    // A 4096-token context keeps 4096 - 2048 - 2 * 64 = 1920 tokens of extra context.
    let server = ScriptedServer::start([
        Reply::json(json!({"default_generation_settings": {"n_ctx": 4096}})),
        Reply::stream(Backend::Llamacpp, &["1"]),
        Reply::stream(Backend::Llamacpp, &["2"]),
    ])
    .await
    .unwrap();
    let model = model_from_config(&config(Backend::Llamacpp, &server.url(), "")).unwrap();
    for _ in 0..2 {
        model.generate(&request).await.unwrap();
    }
    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/props", "/infill", "/infill"],
        "/props is read once"
    );
    let sent = text(&requests[1].json["input_extra"][0]["text"]);
    assert!(
        sent.len() <= 1920 * 3 && sent.len() > 1920 * 2,
        "{} bytes of {}",
        sent.len(),
        repository.len()
    );
    assert!(
        repository.starts_with(sent) && sent.ends_with("\n\n"),
        "cut between definitions"
    );

    // A server without /props gets the context whole.
    let server = ScriptedServer::start([
        Reply::status(404, "File Not Found"),
        Reply::stream(Backend::Llamacpp, &["1"]),
    ])
    .await
    .unwrap();
    generate(&config(Backend::Llamacpp, &server.url(), ""), &request)
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(
        text(&requests[1].json["input_extra"][0]["text"]),
        repository
    );
}

#[tokio::test]
async fn llamacpp_named_template_uses_completion_and_chat_uses_v1() {
    let server = ScriptedServer::start([
        Reply::stream(Backend::Llamacpp, &["1"]),
        Reply::stream(Backend::Llamacpp, &["2"]),
    ])
    .await
    .unwrap();
    let codellama = ModelConfig {
        template: "codellama".into(),
        ..config(Backend::Llamacpp, &server.url(), "")
    };
    assert_eq!(
        generate(&codellama, &infill(false))
            .await
            .unwrap()
            .candidates,
        vec!["1"]
    );
    let chat = ModelConfig {
        template: "chat".into(),
        ..codellama
    };
    assert_eq!(
        generate(&chat, &infill(false)).await.unwrap().candidates,
        vec!["2"]
    );
    let requests = server.requests();
    assert_eq!(requests[0].path, "/completion");
    assert!(
        text(&requests[0].json["prompt"]).starts_with("<PRE> def total"),
        "{}",
        requests[0].json
    );
    assert!(strings(&requests[0].json["stop"]).contains(&"<EOT>".to_string()));
    assert_eq!(requests[1].path, "/v1/chat/completions");
}

// ---- Anthropic ----

#[tokio::test]
async fn anthropic_infill_is_a_chat_with_the_key_and_version_headers() {
    std::env::set_var("SPACKLE_TEST_ANTHROPIC_HEADERS", "sk-ant-header-test");
    let reply = Reply::stream(
        Backend::Anthropic,
        &["```python\nsum(item.price", " for item in items)\n```"],
    );
    let server = ScriptedServer::start([reply]).await.unwrap();
    let config = ModelConfig {
        api_key_env: "SPACKLE_TEST_ANTHROPIC_HEADERS".into(),
        ..config(Backend::Anthropic, &server.url(), "claude-3-5-haiku-latest")
    };
    let generation = generate(&config, &infill(true)).await.unwrap();
    assert_eq!(
        generation.candidates,
        vec!["sum(item.price for item in items)"]
    );
    assert_eq!(
        (generation.prompt_tokens, generation.completion_tokens),
        (Some(12), Some(2))
    );

    let request = only_request(&server).await;
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some("sk-ant-header-test"));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.json["model"], "claude-3-5-haiku-latest");
    assert_eq!(request.json["stream"], true);
    assert!(text(&request.json["system"]).contains("only the code"));
    assert_eq!(request.json["messages"][0]["role"], "user");
    assert!(text(&request.json["messages"][0]["content"]).contains(&format!("{PREFIX}<CURSOR>")));
}

#[tokio::test]
async fn anthropic_drops_whitespace_stops_from_the_wire_but_applies_them() {
    let server =
        ScriptedServer::start([Reply::stream(Backend::Anthropic, &["one\n\ntwo END three"])])
            .await
            .unwrap();
    let request = GenerateRequest {
        kind: RequestKind::Chat {
            messages: vec![ChatMessage {
                role: Role::User,
                content: "count".into(),
            }],
        },
        stop: vec!["\n\n".into(), "END".into()],
        ..infill(false)
    };
    let generation = generate(
        &config(Backend::Anthropic, &server.url(), "claude-3-5-haiku-latest"),
        &request,
    )
    .await
    .unwrap();
    assert_eq!(generation.candidates, vec!["one"]);
    assert_eq!(
        only_request(&server).await.json["stop_sequences"],
        json!(["END"])
    );
}

// ---- Failures, for every backend ----

#[tokio::test]
async fn refused_connections_are_unreachable_with_a_fix() {
    let address = format!("http://{}", refused_address());
    for backend in ALL_BACKENDS {
        let error = generate(
            &config(backend, &address, code_model(backend)),
            &infill(false),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error, ModelError::Unreachable { detail, .. } if detail == "connection refused"),
            "{backend:?}: {error:?}"
        );
        let message = error.user_message();
        assert!(message.contains(&address), "{message}");
        match backend {
            Backend::Ollama => assert!(
                message.contains("ollama serve")
                    && message.contains("ollama pull qwen2.5-coder:1.5b"),
                "{message}"
            ),
            Backend::Llamacpp => assert!(
                message.contains("llama-server -m MODEL.gguf --port"),
                "{message}"
            ),
            _ => {}
        }
    }
}

#[tokio::test]
async fn http_statuses_become_typed_errors() {
    for backend in ALL_BACKENDS {
        let model = code_model(backend);
        let server = ScriptedServer::start([
            Reply::unauthorized(backend),
            Reply::rate_limited(7),
            Reply::server_error("the GPU caught fire"),
            Reply::model_not_found(backend, model),
        ])
        .await
        .unwrap();
        let config = ModelConfig {
            api_key_env: "SPACKLE_TEST_KEY_NAME_IN_MESSAGE".into(),
            ..config(backend, &server.url(), model)
        };

        let error = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(&error, ModelError::Unauthorized { status: 401, key_env: Some(name), .. } if name == "SPACKLE_TEST_KEY_NAME_IN_MESSAGE"),
            "{backend:?}: {error:?}"
        );
        assert!(
            error
                .user_message()
                .contains("set SPACKLE_TEST_KEY_NAME_IN_MESSAGE"),
            "{}",
            error.user_message()
        );

        let error = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(error, ModelError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(7)),
            "{backend:?}: {error:?}"
        );

        let error = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(&error, ModelError::Server { status: 500, detail, .. } if detail == "the GPU caught fire"),
            "{backend:?}: {error:?}"
        );

        let error = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(&error, ModelError::ModelNotFound { model: name, .. } if name == model),
            "{backend:?}: {error:?}"
        );
    }
}

/// A redirect to another origin (here another port) is not followed: the other server never sees
/// the prompt or the key. A redirect within the origin is followed.
#[tokio::test]
async fn redirects_to_another_host_are_not_followed() {
    const SECRET: &str = "sk-spackle-redirect-secret-0123456789";
    std::env::set_var("SPACKLE_TEST_REDIRECT_KEY", SECRET);
    let elsewhere = ScriptedServer::start([]).await.unwrap();
    for backend in ALL_BACKENDS {
        let redirects = [301, 302, 303, 307, 308].map(|status| {
            Reply::status(status, "")
                .header("Location", &format!("{}/v1/completions", elsewhere.url()))
        });
        let server = ScriptedServer::start(redirects).await.unwrap();
        let config = ModelConfig {
            api_key_env: "SPACKLE_TEST_REDIRECT_KEY".into(),
            ..config(backend, &server.url(), code_model(backend))
        };
        for status in [301, 302, 303, 307, 308] {
            let error = generate(&config, &infill(false)).await.unwrap_err();
            assert!(
                matches!(&error, ModelError::Redirected { to, .. } if *to == elsewhere.url()),
                "{backend:?} {status}: {error:?}"
            );
            let message = error.user_message();
            assert!(
                message.contains("redirected spackle to another host")
                    && message.contains("did not follow"),
                "{message}"
            );
        }
        assert_eq!(server.requests().len(), 5, "{backend:?}");
    }
    assert!(
        elsewhere.requests().is_empty(),
        "{:#?}",
        elsewhere.requests()
    );

    // Within the same origin the request is sent again, with its body and key.
    let server = ScriptedServer::start([]).await.unwrap();
    server.push(
        Reply::status(308, "").header("Location", &format!("{}/v1/completions", server.url())),
    );
    server.push(Reply::stream(Backend::Openai, &["sum(items)"]));
    let config = ModelConfig {
        api_key_env: "SPACKLE_TEST_REDIRECT_KEY".into(),
        ..config(Backend::Openai, &server.url(), "qwen2.5-coder")
    };
    let generation = generate(&config, &infill(false)).await.unwrap();
    assert_eq!(generation.candidates, vec!["sum(items)"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].json, requests[0].json);
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[tokio::test]
async fn cut_and_malformed_streams_are_bad_responses() {
    for backend in ALL_BACKENDS {
        let server = ScriptedServer::start([
            Reply::cut_stream(backend, &["sum(", "ite"]),
            Reply::malformed_stream(backend),
        ])
        .await
        .unwrap();
        let config = config(backend, &server.url(), code_model(backend));
        let cut = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(cut, ModelError::BadResponse { .. }),
            "{backend:?}: {cut:?}"
        );
        let malformed = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(&malformed, ModelError::BadResponse { detail, .. } if detail.contains("not JSON")),
            "{backend:?}: {malformed:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_ending_without_its_final_event_is_a_bad_response() {
    // A body of known length: the transport sees a clean end, only the missing `[DONE]` tells.
    let body = "data: {\"choices\":[{\"index\":0,\"text\":\"sum(\"}]}\n\n"
        .as_bytes()
        .to_vec();
    let server = ScriptedServer::start([Reply::bytes(200, "text/event-stream", body)])
        .await
        .unwrap();
    let error = generate(
        &config(Backend::Openai, &server.url(), "qwen2.5-coder"),
        &infill(false),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, ModelError::BadResponse { detail, .. } if detail.contains("ended before")),
        "{error:?}"
    );
}

/// A streamed answer larger than `model.max_answer_bytes` is cut there and the rest of the
/// stream is not read (the client hangs up); an answer sent whole and too large is refused.
#[tokio::test]
async fn huge_answers_are_cut_and_not_read_to_the_end() {
    let chunk = "x".repeat(1024);
    let chunks = vec![chunk.as_str(); 2048];
    for backend in ALL_BACKENDS {
        let reply = Reply::stream(backend, &chunks).chunk_delay(Duration::from_millis(1));
        let server = ScriptedServer::start([reply]).await.unwrap();
        let config = ModelConfig {
            max_answer_bytes: 4096,
            ..config(backend, &server.url(), code_model(backend))
        };
        let generation = generate(&config, &infill(false)).await.unwrap();
        assert_eq!(generation.candidates, vec!["x".repeat(4096)], "{backend:?}");
        assert!(
            server
                .wait_for_disconnects(1, Duration::from_secs(10))
                .await,
            "{backend:?}: the rest of the answer was read"
        );
    }
    let whole = json!({"choices": [{"index": 0, "text": "x".repeat(1 << 20)}]});
    let server = ScriptedServer::start([Reply::json(whole)]).await.unwrap();
    let config = ModelConfig {
        max_answer_bytes: 4096,
        ..config(Backend::Openai, &server.url(), "qwen2.5-coder")
    };
    let error = generate(&config, &infill(false)).await.unwrap_err();
    assert!(
        matches!(&error, ModelError::BadResponse { detail, .. } if detail.contains("model.max_answer_bytes")),
        "{error:?}"
    );
}

/// Some OpenAI-compatible servers end the stream without `data: [DONE]`; when every choice came
/// with a `finish_reason`, the answer is complete.
#[tokio::test]
async fn a_stream_whose_choices_finished_needs_no_done() {
    let events = [
        (
            "qwen2.5-coder",
            r#"{"choices":[{"index":0,"text":"sum(","finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"text":"items)","finish_reason":"stop"}]}"#,
        ),
        (
            "gpt-4o-mini",
            r#"{"choices":[{"index":0,"delta":{"content":"sum("},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"items)"},"finish_reason":"length"}]}"#,
        ),
    ];
    for (model, first, last) in events {
        let body = format!("data: {first}\n\ndata: {last}\n\n").into_bytes();
        let server = ScriptedServer::start([Reply::bytes(200, "text/event-stream", body)])
            .await
            .unwrap();
        let generation = generate(
            &config(Backend::Openai, &server.url(), model),
            &infill(false),
        )
        .await
        .unwrap();
        assert_eq!(generation.candidates, vec!["sum(items)"], "{model}");
    }
}

/// A 429 is asked again once after its Retry-After when that ends within the request's time;
/// otherwise the error says when to try again.
#[tokio::test]
async fn rate_limits_are_retried_once_after_retry_after() {
    let limited = || {
        let body = json!({"error": {"message": "Rate limit reached"}}).to_string();
        Reply::status(429, body).header("retry-after-ms", "50")
    };
    for backend in ALL_BACKENDS {
        let server = ScriptedServer::start([
            limited(),
            Reply::stream(backend, &["sum(items)"]),
            limited(),
            limited(),
            Reply::rate_limited(600),
            Reply::status(429, "").header("Retry-After", "1e30"),
        ])
        .await
        .unwrap();
        let config = config(backend, &server.url(), code_model(backend));
        let generation = generate(&config, &infill(false)).await.unwrap();
        assert_eq!(generation.candidates, vec!["sum(items)"], "{backend:?}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{backend:?}");
        assert_eq!(requests[1].json, requests[0].json, "{backend:?}");
        // Once only.
        let error = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(error, ModelError::RateLimited { .. }),
            "{backend:?}: {error:?}"
        );
        assert_eq!(server.requests().len(), 4, "{backend:?}");
        // A delay longer than the request may wait: no retry, and the time to wait.
        let error = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(error, ModelError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(600)),
            "{backend:?}: {error:?}"
        );
        assert!(
            error.user_message().contains("try again in 600 s"),
            "{}",
            error.user_message()
        );
        assert_eq!(server.requests().len(), 5, "{backend:?}");
        // A delay past any clock.
        let error = generate(&config, &infill(false)).await.unwrap_err();
        assert!(
            matches!(error, ModelError::RateLimited { .. }),
            "{backend:?}: {error:?}"
        );
        assert_eq!(server.requests().len(), 6, "{backend:?}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_first_token() {
    for backend in ALL_BACKENDS {
        let server = ScriptedServer::start([Reply::hang()]).await.unwrap();
        let error = generate(
            &config(backend, &server.url(), code_model(backend)),
            &infill(false),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, ModelError::Timeout { what, after, .. } if what == FIRST_TOKEN && after == Duration::from_millis(400)),
            "{backend:?}: {error:?}"
        );
        assert_eq!(server.requests().len(), 1, "{backend:?}: asked once");
        assert!(
            server.wait_for_disconnects(1, Duration::from_secs(2)).await,
            "{backend:?}: the request was dropped"
        );
    }
}

#[tokio::test]
async fn a_slow_stream_times_out_as_a_whole() {
    let reply = Reply::stream(Backend::Ollama, &["a", "b", "c", "d", "e", "f"])
        .chunk_delay(Duration::from_millis(300));
    let server = ScriptedServer::start([reply]).await.unwrap();
    // The first piece comes well within the first-token timeout, the whole would take 2.1 s.
    let config = ModelConfig {
        first_token_timeout_ms: 1200,
        ..config(Backend::Ollama, &server.url(), "qwen2.5-coder:1.5b")
    };
    let error = generate(&config, &infill(false)).await.unwrap_err();
    assert!(
        matches!(error, ModelError::Timeout { what, after, .. } if what == WHOLE_ANSWER && after == Duration::from_millis(1500)),
        "{error:?}"
    );
    assert!(
        server
            .wait_for_disconnects(1, Duration::from_secs(10))
            .await,
        "the stream was dropped before its end"
    );
}

#[tokio::test]
async fn headers_that_arrive_late_count_against_the_first_token() {
    let server = ScriptedServer::start([
        Reply::stream(Backend::Openai, &["x"]).delayed(Duration::from_millis(900))
    ])
    .await
    .unwrap();
    let error = generate(
        &config(Backend::Openai, &server.url(), "qwen2.5-coder"),
        &infill(false),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ModelError::Timeout { what, .. } if what == FIRST_TOKEN),
        "{error:?}"
    );
}

// ---- Stop sequences and cancellation ----

#[tokio::test]
async fn a_stop_sequence_ends_the_answer_and_drops_the_request() {
    for backend in ALL_BACKENDS {
        let mut chunks = vec!["x = 1", "\n", "\ny = 2"];
        chunks.extend(["never"; 20]);
        // The whole stream would take more than 2.3 s.
        let reply = Reply::stream(backend, &chunks).chunk_delay(Duration::from_millis(100));
        let server = ScriptedServer::start([reply]).await.unwrap();
        let request = GenerateRequest {
            kind: RequestKind::Chat {
                messages: vec![ChatMessage {
                    role: Role::User,
                    content: "go".into(),
                }],
            },
            ..infill(false)
        };
        let config = ModelConfig {
            timeout_ms: 5000,
            first_token_timeout_ms: 2000,
            ..config(backend, &server.url(), code_model(backend))
        };
        let generation = generate(&config, &request).await.unwrap();
        assert_eq!(generation.candidates, vec!["x = 1"], "{backend:?}");
        assert!(
            server.wait_for_disconnects(1, Duration::from_secs(2)).await,
            "{backend:?}: the stream was not dropped"
        );
    }
}

#[tokio::test]
async fn dropping_the_future_closes_the_connection() {
    for backend in ALL_BACKENDS {
        let reply = Reply::stream(backend, &["a", "b", "c", "d", "e"])
            .chunk_delay(Duration::from_millis(200));
        let server = ScriptedServer::start([reply]).await.unwrap();
        let config = ModelConfig {
            timeout_ms: 10_000,
            first_token_timeout_ms: 10_000,
            ..config(backend, &server.url(), code_model(backend))
        };
        let model = model_from_config(&config).unwrap();
        let request = infill(false);
        let outcome =
            tokio::time::timeout(Duration::from_millis(300), model.generate(&request)).await;
        assert!(
            outcome.is_err(),
            "{backend:?}: the answer should still be streaming"
        );
        assert!(
            server.wait_for_disconnects(1, Duration::from_secs(2)).await,
            "{backend:?}: the server did not see the client go"
        );
    }
}

// ---- API keys never leak ----

#[tokio::test]
async fn api_keys_never_appear_in_errors_or_logs() {
    const SECRET: &str = "sk-spackle-secret-0123456789abcdef";
    std::env::set_var("SPACKLE_TEST_SECRET_KEY", SECRET);
    // Everything logged on this thread (the test's runtime, the scripted server, reqwest and
    // hyper included) at every level goes into `log`.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || LogWriter(writer.clone()))
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    for backend in ALL_BACKENDS {
        let echo = |status: u16| {
            Reply::status(
                status,
                json!({"error": {"message": format!("bad key {SECRET} was given")}}).to_string(),
            )
        };
        let server = ScriptedServer::start([
            echo(401),
            echo(500),
            echo(400),
            echo(404),
            Reply::status(502, format!("proxy says {SECRET}")),
            Reply::bytes(
                200,
                "text/event-stream",
                format!("data: {{ {SECRET}\n\n").into_bytes(),
            ),
            Reply::bytes(
                200,
                "application/x-ndjson",
                format!("{{ {SECRET}\n").into_bytes(),
            ),
        ])
        .await
        .unwrap();
        let config = ModelConfig {
            api_key_env: "SPACKLE_TEST_SECRET_KEY".into(),
            ..config(backend, &server.url(), code_model(backend))
        };
        let model = model_from_config(&config).unwrap();
        assert!(!model.describe().contains(SECRET));
        for _ in 0..7 {
            let error = model.generate(&infill(false)).await.unwrap_err();
            for shown in [
                error.to_string(),
                format!("{error:?}"),
                error.user_message(),
            ] {
                assert!(
                    !shown.contains(SECRET),
                    "{backend:?}: the key leaked into `{shown}`"
                );
                assert!(
                    !shown.contains("0123456789abcdef"),
                    "{backend:?}: part of the key leaked into `{shown}`"
                );
            }
        }
        // Several candidates: failures are logged, and a success logs its timings.
        server.push(echo(500));
        server.push(Reply::stream(backend, &["ok"]));
        let several = GenerateRequest {
            candidates: 2,
            ..infill(false)
        };
        let _ = model.generate(&several).await;
        let requests = server.requests();
        assert!(requests.len() >= 8);
        let sent = requests[0]
            .header("authorization")
            .or(requests[0].header("x-api-key"))
            .unwrap_or_default();
        assert!(
            sent.ends_with(SECRET),
            "{backend:?}: the key was sent, so the test exercised it"
        );
    }
    let log = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        log.contains("model answer streamed"),
        "the log was captured: {log}"
    );
    assert!(
        log.contains("one of several model requests failed"),
        "{log}"
    );
    assert!(
        !log.contains("0123456789abcdef"),
        "the key leaked into the log: {log}"
    );
}

/// Credentials written into the endpoint (user information, `api-key`, `key` or `token`
/// parameters) never show: not in errors, nor in what `spackle doctor` and `spackle complete`
/// write, logs included.
#[tokio::test]
async fn endpoint_credentials_never_appear_in_errors_or_output() {
    const USER_SECRET: &str = "sk-userinfo-0123456789";
    const QUERY_SECRET: &str = "sk-query-9876543210";
    let leaks = |text: &str| text.contains("0123456789") || text.contains("9876543210");
    let endpoint = |address: String| {
        format!("http://apiuser:{USER_SECRET}@{address}/?api-key={QUERY_SECRET}&key={QUERY_SECRET}&token={QUERY_SECRET}")
    };
    let echo = || {
        let message = format!("bad key {QUERY_SECRET} for {USER_SECRET}");
        Reply::status(500, json!({"error": {"message": message}}).to_string())
    };
    let answer = Reply::stream(Backend::Ollama, &["0"]);
    let server = ScriptedServer::start([echo(), answer, echo(), echo(), echo()])
        .await
        .unwrap();
    let model_name = "qwen2.5-coder:1.5b";

    // Errors: a server that echoes the secrets, a refused connection, a configuration error.
    let model = model_from_config(&config(
        Backend::Ollama,
        &endpoint(server.addr.to_string()),
        model_name,
    ))
    .unwrap();
    assert!(!leaks(&model.describe()), "{}", model.describe());
    let echoed = model.generate(&infill(false)).await.unwrap_err();
    assert!(
        matches!(echoed, ModelError::Server { status: 500, .. }),
        "{echoed:?}"
    );
    assert!(
        server.requests()[0]
            .path
            .ends_with(&format!("token={QUERY_SECRET}")),
        "the key went where it belongs"
    );
    let refused = generate(
        &config(
            Backend::Openai,
            &endpoint(refused_address().to_string()),
            model_name,
        ),
        &infill(false),
    )
    .await
    .unwrap_err();
    let not_http = ModelConfig {
        endpoint: format!("apiuser:{USER_SECRET}@localhost:11434"),
        ..config(Backend::Ollama, "", model_name)
    };
    let misconfigured = model_from_config(&not_http).err().unwrap();
    for error in [echoed, refused, misconfigured] {
        for shown in [
            error.to_string(),
            format!("{error:?}"),
            error.user_message(),
        ] {
            assert!(!leaks(&shown), "a credential leaked into `{shown}`");
        }
    }

    // `spackle doctor` and `spackle complete`, with every log line of spackle on.
    let dir = tempfile::tempdir().unwrap();
    let endpoint = endpoint(server.addr.to_string());
    let settings = format!(
        "[model]\nbackend = \"ollama\"\nendpoint = \"{endpoint}\"\nname = \"{model_name}\"\n"
    );
    std::fs::write(dir.path().join("spackle.toml"), settings).unwrap();
    std::fs::write(
        dir.path().join("a.py"),
        "def answer() -> int:\n    return \n",
    )
    .unwrap();
    let site_packages = dir
        .path()
        .join(".venv/lib/python3.11/site-packages/transport");
    std::fs::create_dir_all(&site_packages).unwrap();
    std::fs::write(site_packages.join("__init__.py"), "def send_all(): ...\n").unwrap();
    let root = dir.path().to_path_buf();
    let doctor = run_spackle(&root, &["doctor", "."], &endpoint).await;
    assert!(
        doctor.contains("installed packages: ")
            && doctor.contains(".venv/lib/python3.11/site-packages")
            && doctor.contains("installed packages' names: "),
        "{doctor}"
    );
    assert!(
        doctor.contains("model server: ok")
            && doctor.contains("environment: SPACKLE_ENDPOINT=http://***@"),
        "{doctor}"
    );
    assert!(!leaks(&doctor), "{doctor}");
    let complete = run_spackle(&root, &["complete", "a.py:2:12"], &endpoint).await;
    assert!(
        complete.contains("the model server at http://***@"),
        "{complete}"
    );
    assert!(!leaks(&complete), "{complete}");
}

/// Runs the binary in `root` with SPACKLE_ENDPOINT set and spackle's logs at trace level, off the
/// test's runtime (the scripted server answers on it); returns its stdout and stderr together.
async fn run_spackle(root: &std::path::Path, args: &[&str], endpoint: &str) -> String {
    let cache = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_spackle"));
    command
        .args(args)
        .current_dir(root)
        .env("SPACKLE_CACHE_DIR", cache.path())
        .env("SPACKLE_ENDPOINT", endpoint)
        .env("SPACKLE_LOG", "spackle=trace")
        .env_remove("VIRTUAL_ENV")
        .env_remove("SPACKLE_BACKEND")
        .env_remove("SPACKLE_MODEL");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---- Probes for `spackle doctor` ----

/// `spackle doctor` asks what a completion asks, in miniature: each server below answers a
/// completion the way the real one does, and the probe reports exactly that.
#[tokio::test]
async fn probes_send_a_one_token_completion_and_report_what_it_hits() {
    // llama-server behind the openai backend lists its model under its path or alias; a
    // completion works all the same, and so does the probe (no model list is read).
    let server = ScriptedServer::start([Reply::stream(Backend::Openai, &["0"])])
        .await
        .unwrap();
    let openai = config(Backend::Openai, &server.url(), "qwen2.5-coder");
    let line = probe(&openai).await.unwrap();
    assert!(line.contains("answered a one-token completion"), "{line}");
    let request = only_request(&server).await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/completions")
    );
    assert_eq!(request.json["max_tokens"], 1);
    assert_eq!(request.json["model"], "qwen2.5-coder");

    // Anthropic: the messages API, with the key, not `GET /v1/models/NAME`.
    std::env::set_var("SPACKLE_TEST_ANTHROPIC_PROBE", "sk-ant-probe");
    let server = ScriptedServer::start([
        Reply::stream(Backend::Anthropic, &["0"]),
        Reply::unauthorized(Backend::Anthropic),
    ])
    .await
    .unwrap();
    let anthropic = ModelConfig {
        api_key_env: "SPACKLE_TEST_ANTHROPIC_PROBE".into(),
        ..config(Backend::Anthropic, &server.url(), "claude-3-5-haiku-latest")
    };
    assert!(probe(&anthropic).await.is_ok());
    assert!(matches!(
        probe(&anthropic).await.unwrap_err(),
        ModelError::Unauthorized { .. }
    ));
    let requests = server.requests();
    assert_eq!(requests[0].path, "/v1/messages");
    assert_eq!(requests[0].json["max_tokens"], 1);
    assert_eq!(requests[0].header("x-api-key"), Some("sk-ant-probe"));

    // llama.cpp: a model without fill-in-the-middle tokens (`/health` would say ok), a server
    // started with `--api-key`, one still loading, and an endpoint that ends in /v1.
    let server = ScriptedServer::start([
        Reply::status(
            501,
            json!({"error": {"code": 501, "message": "Infill is not supported by this model", "type": "not_supported_error"}}).to_string(),
        ),
        Reply::status(
            401,
            json!({"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}).to_string(),
        ),
        Reply::status(
            503,
            json!({"error": {"code": 503, "message": "Loading model"}}).to_string(),
        ),
        Reply::stream(Backend::Llamacpp, &["0"]),
    ])
    .await
    .unwrap();
    let llamacpp = config(Backend::Llamacpp, &server.url(), "");
    let no_infill = probe(&llamacpp).await.unwrap_err();
    assert!(
        matches!(&no_infill, ModelError::Server { status: 501, .. })
            && no_infill
                .user_message()
                .contains("`model.template = \"chat\"`"),
        "{no_infill:?}"
    );
    assert!(matches!(
        probe(&llamacpp).await.unwrap_err(),
        ModelError::Unauthorized { status: 401, .. }
    ));
    let loading = probe(&llamacpp).await.unwrap_err();
    assert!(
        matches!(&loading, ModelError::Server { status: 503, detail, .. } if detail == "Loading model"),
        "{loading:?}"
    );
    assert!(probe(&llamacpp).await.unwrap().contains("llamacpp at"));
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|request| request.path == "/infill" && request.json["n_predict"] == 1),
        "{requests:#?}"
    );
    let server = ScriptedServer::start([Reply::status(404, "File Not Found")])
        .await
        .unwrap();
    let with_v1 = config(Backend::Llamacpp, &format!("{}/v1", server.url()), "");
    let error = probe(&with_v1).await.unwrap_err();
    assert!(
        error.user_message().contains("without `/v1`"),
        "{}",
        error.user_message()
    );
    assert_eq!(only_request(&server).await.path, "/v1/infill");

    // Ollama without the model.
    let server = ScriptedServer::start([Reply::model_not_found(
        Backend::Ollama,
        "qwen2.5-coder:1.5b",
    )])
    .await
    .unwrap();
    let ollama = config(Backend::Ollama, &server.url(), "qwen2.5-coder:1.5b");
    let missing = probe(&ollama).await.unwrap_err();
    assert!(
        missing
            .user_message()
            .contains("ollama pull qwen2.5-coder:1.5b"),
        "{}",
        missing.user_message()
    );
    assert_eq!(only_request(&server).await.path, "/api/generate");

    let refused = probe(&config(
        Backend::Ollama,
        &format!("http://{}", refused_address()),
        "qwen2.5-coder:1.5b",
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(refused, ModelError::Unreachable { .. }),
        "{refused:?}"
    );
}

#[tokio::test]
async fn bad_configurations_are_config_errors() {
    for endpoint in ["127.0.0.1:11434", "ftp://host", "not a url"] {
        let error = model_from_config(&ModelConfig {
            endpoint: endpoint.into(),
            ..ModelConfig::default()
        })
        .err()
        .expect("refused");
        assert!(
            matches!(error, ModelError::Config { .. }),
            "{endpoint}: {error:?}"
        );
    }
    let error = model_from_config(&ModelConfig {
        template: "mystery".into(),
        ..ModelConfig::default()
    })
    .err()
    .expect("refused");
    assert!(
        error
            .user_message()
            .contains("`model.template` = `mystery`"),
        "{}",
        error.user_message()
    );
    let model = model_from_config(&ModelConfig::default()).unwrap();
    assert_eq!(model.describe(), "ollama at http://127.0.0.1:11434, model qwen2.5-coder:1.5b, /api/generate with suffix (qwen template for context)");
}

#[tokio::test]
async fn the_scripted_server_stops_when_dropped() {
    let server = ScriptedServer::start([Reply::hang()]).await.unwrap();
    let address = server.addr;
    let client = tokio::spawn(tokio::net::TcpStream::connect(address));
    assert!(
        client.await.unwrap().is_ok(),
        "the server listens while it lives"
    );
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match tokio::net::TcpStream::connect(address).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ if Instant::now() > deadline => {
                panic!("the dropped server still accepts connections")
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// `spackle doctor ROOT` with only `path` as `PATH`, off the test's runtime (the scripted server
/// answers on it).
async fn run_doctor(root: std::path::PathBuf, path: &'static str) -> (bool, String) {
    let output = tokio::task::spawn_blocking(move || {
        let cache = tempfile::tempdir().unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_spackle"))
            .arg("doctor")
            .arg(&root)
            .env("PATH", path)
            .env("SPACKLE_CACHE_DIR", cache.path())
            .env_remove("SPACKLE_BACKEND")
            .env_remove("SPACKLE_ENDPOINT")
            .env_remove("SPACKLE_MODEL")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

#[tokio::test]
async fn doctor_reports_the_model_server_and_the_external_checker() {
    let answer = || Reply::stream(Backend::Ollama, &["0"]);
    let server = ScriptedServer::start([answer(), answer()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spackle.toml"),
        format!(
            "[model]\nbackend = \"ollama\"\nendpoint = \"{}\"\nname = \"qwen2.5-coder:1.5b\"\n\n[actions]\nexternal_checker = \"ruff\"\n",
            server.url()
        ),
    )
    .unwrap();
    // No ruff anywhere: said, and not an error.
    let (success, text) = run_doctor(dir.path().to_path_buf(), "/nonexistent").await;
    assert!(success, "{text}");
    assert!(text.contains("model server: ok"), "{text}");
    assert!(
        text.contains("external checker: `ruff` is not on PATH"),
        "{text}"
    );
    // A ruff in the workspace's .venv is found there.
    let bin = dir.path().join(".venv/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("ruff"), "#!/bin/sh\necho '[]'\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("ruff"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (success, text) = run_doctor(dir.path().to_path_buf(), "/nonexistent").await;
    assert!(success, "{text}");
    assert!(
        text.contains(&format!("external checker: {}", bin.join("ruff").display())),
        "{text}"
    );
}

// ---- The test suite itself ----

/// Timings are never asserted in tests (a loaded machine fails them): a test bounds the work
/// (requests sent, connections dropped, answers returned) and benchmarks measure time. This
/// looks for an assertion that reads a clock anywhere in the crate's tests.
#[test]
fn no_test_asserts_a_timing() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut folders = vec![root.join("src"), root.join("tests")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    let clock = [
        "elapsed()",
        "elapsed <",
        "elapsed >",
        "Instant::now()",
        ".as_millis()",
        ".as_secs",
    ];
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // An assertion runs from its macro to the `;` that ends the statement.
        for (at, _) in text.match_indices("assert") {
            let statement = &text[at..text[at..].find(';').map_or(text.len(), |end| at + end)];
            if statement.starts_with("assert")
                && clock.iter().any(|reading| statement.contains(reading))
            {
                let line = text[..at].lines().count() + 1;
                offenders.push(format!("{}:{line}", file.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "timing asserts: {offenders:?}");
}

// ---- What the documentation tells users to run ----

/// The documentation a newcomer reads, from the repository's root.
fn user_docs() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        "README.md",
        "editors/README.md",
        "editors/vscode/README.md",
        "editors/nvim/doc/spackle.txt",
    ]
    .iter()
    .chain(&["CONTRIBUTING.md", "ARCHITECTURE.md"])
    .map(|path| {
        let text = std::fs::read_to_string(root.join(path)).unwrap();
        (path.to_string(), text)
    })
    .collect()
}

/// `ollama pull` needs a running server: wherever the docs name both, `ollama serve` comes first.
#[test]
fn docs_start_ollama_before_pulling_a_model() {
    for (path, text) in user_docs() {
        let serve = text.find("ollama serve");
        let pull = text.find("ollama pull");
        if let (Some(serve), Some(pull)) = (serve, pull) {
            assert!(serve < pull, "{path} pulls before `ollama serve`");
        }
        for line in text.lines() {
            if let (Some(serve), Some(pull)) = (line.find("ollama serve"), line.find("ollama pull"))
            {
                assert!(serve < pull, "{path}: {line}");
            }
        }
    }
}

// ---- The command line ----

/// Runs the binary with `args` in `root`, with a private cache folder; (exit code, stdout, stderr).
fn run_cli(root: &std::path::Path, args: &[&str], endpoint: &str) -> (Option<i32>, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_spackle"))
        .args(args)
        .current_dir(root)
        .env("SPACKLE_CACHE_DIR", cache.path())
        .env("SPACKLE_BACKEND", "ollama")
        .env("SPACKLE_ENDPOINT", endpoint)
        .env_remove("SPACKLE_MODEL")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `complete --json` prints JSON whatever happens: with no model server, an error object (and
/// exit status 3), not the text meant for a person.
#[test]
fn complete_json_prints_an_error_object_when_the_model_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.py"),
        "def answer() -> int:\n    return \n",
    )
    .unwrap();
    let endpoint = format!("http://{}", refused_address());
    let (code, stdout, stderr) =
        run_cli(dir.path(), &["complete", "a.py:2:12", "--json"], &endpoint);
    assert_eq!(code, Some(3), "{stderr}");
    let value: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"));
    assert_eq!(value["completions"], json!([]));
    assert_eq!(value["error"]["kind"], "unreachable");
    assert!(
        text(&value["error"]["message"]).contains("cannot reach Ollama"),
        "{value}"
    );
    // Any other failure is an error object too.
    let (code, stdout, _) = run_cli(
        dir.path(),
        &["complete", "missing.py:1:1", "--json"],
        &endpoint,
    );
    assert_eq!(code, Some(1));
    let value: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(value["error"]["kind"], "failed");
    assert!(
        text(&value["error"]["message"]).contains("missing.py"),
        "{value}"
    );
    // Without --json the person gets the explanation and the context it would have sent.
    let (code, stdout, stderr) = run_cli(dir.path(), &["complete", "a.py:2:12"], &endpoint);
    assert_eq!(code, Some(3));
    assert!(stderr.contains("cannot reach Ollama"), "{stderr}");
    assert!(stdout.contains("── request"), "{stdout}");
}

/// Each benchmark has its own help, and the list of benchmarks names them all.
#[test]
fn every_benchmark_has_its_own_help() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://{}", refused_address());
    let mut seen = Vec::new();
    for (kind, synopsis) in [
        ("context", "spackle bench context HOLES.jsonl"),
        ("checks", "spackle bench checks HOLES.jsonl CHECKS.jsonl"),
        ("diagnostics", "spackle bench diagnostics DIR [--list]"),
        ("docstrings", "spackle bench docstrings [PACKAGE_DIR...]"),
        ("index", "spackle bench index DIR"),
        ("latency", "spackle bench latency [--requests N]"),
    ] {
        let (code, stdout, stderr) = run_cli(dir.path(), &["bench", kind, "--help"], &endpoint);
        assert_eq!(code, Some(0), "{kind}: {stderr}");
        assert!(stdout.contains(synopsis), "{kind}: {stdout}");
        assert!(
            !seen.contains(&stdout),
            "{kind} has the help of another benchmark"
        );
        seen.push(stdout);
    }
    let (_, list, _) = run_cli(dir.path(), &["bench", "--help"], &endpoint);
    for kind in [
        "context",
        "checks",
        "diagnostics",
        "docstrings",
        "index",
        "latency",
    ] {
        assert!(list.contains(&format!("  {kind} ")), "{kind}: {list}");
    }
}

/// The Rust version the README asks for is the one Cargo.toml declares (which the ty crates
/// need: they declare it too, so `cargo install --locked` refuses an older compiler).
#[test]
fn the_readme_names_the_rust_version_cargo_toml_needs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("Rust](https://rustup.rs) {version} or newer")),
        "README.md should ask for Rust {version}"
    );
}

/// The docs a user has point at nothing outside the repository (the team's `../shared`).
#[test]
fn user_docs_point_at_nothing_outside_the_repository() {
    for (path, text) in user_docs() {
        assert!(!text.contains("../shared"), "{path} points at ../shared");
    }
}
