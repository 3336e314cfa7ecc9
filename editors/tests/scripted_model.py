"""A scripted model server for the editor tests: speaks Ollama's real HTTP wire format on 127.0.0.1.

`POST /api/generate` and `POST /api/chat` stream NDJSON lines the way Ollama does (one line per
chunk, `"done": false`, then a final line with `"done": true` and the token counts); `GET
/api/tags`, `GET /api/version` and `POST /api/show` answer like Ollama too. What the model says is
scripted by the test: `answers` is a list of (needle, text) rules matched against the prompt, or
a single default. Every request is recorded, and the server notices when a client hangs up in the
middle of an answer (that is what a cancelled completion looks like from the model's side).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Rule:
    """Answer `text` when `needle` occurs in the prompt (or the chat's last message); '' matches all."""

    needle: str
    text: str


@dataclass
class Script:
    rules: list[Rule] = field(default_factory=list)
    default: str = ""
    #: Seconds to wait before the first chunk (to let a test cancel or type on meanwhile).
    first_chunk_delay: float = 0.0
    #: Seconds between chunks.
    chunk_delay: float = 0.0
    #: Characters per streamed chunk.
    chunk_size: int = 4
    #: Model names the server knows; others get Ollama's 404.
    models: tuple[str, ...] = ("qwen2.5-coder:1.5b",)

    def answer_for(self, prompt: str) -> str:
        for rule in self.rules:
            if rule.needle in prompt:
                return rule.text
        return self.default


class ScriptedModel:
    """Runs the server on a background thread; use as a context manager."""

    def __init__(self, script: Script | None = None):
        self.script = script or Script()
        self.requests: list[dict] = []
        self.hangups = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # Quiet: the test output is for the tests.
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/api/tags":
                    models = [
                        {
                            "name": name,
                            "model": name,
                            "modified_at": "2025-01-01T00:00:00Z",
                            "size": 986061892,
                            "digest": "0" * 64,
                            "details": {"format": "gguf", "family": "qwen2", "parameter_size": "1.5B",
                                        "quantization_level": "Q4_K_M"},
                        }
                        for name in owner.script.models
                    ]
                    self._json(200, {"models": models})
                elif self.path == "/api/version":
                    self._json(200, {"version": "0.12.0"})
                elif self.path == "/":
                    body = b"Ollama is running"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._json(400, {"error": "invalid JSON"})
                    return
                with owner._lock:
                    owner.requests.append({"path": self.path, "body": body})
                model = body.get("model", "")
                if self.path in ("/api/generate", "/api/chat", "/api/show") and model not in owner.script.models:
                    self._json(404, {"error": f"model '{model}' not found"})
                    return
                if self.path == "/api/show":
                    self._json(200, {"details": {"family": "qwen2"}, "capabilities": ["completion", "insert"]})
                elif self.path == "/api/generate":
                    prompt = str(body.get("prompt", ""))
                    self._stream(model, owner.script.answer_for(prompt), body.get("stream", True), chat=False)
                elif self.path == "/api/chat":
                    messages = body.get("messages") or [{}]
                    prompt = "\n".join(str(m.get("content", "")) for m in messages)
                    self._stream(model, owner.script.answer_for(prompt), body.get("stream", True), chat=True)
                else:
                    self._json(404, {"error": "not found"})

            def _chunk(self, model: str, text: str, chat: bool, done: bool) -> dict:
                line: dict = {"model": model, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
                if chat:
                    line["message"] = {"role": "assistant", "content": text}
                else:
                    line["response"] = text
                line["done"] = done
                if done:
                    line.update(done_reason="stop", total_duration=1000000, load_duration=1000,
                                prompt_eval_count=42, eval_count=7, eval_duration=1000)
                return line

            def _stream(self, model: str, text: str, stream: bool, chat: bool) -> None:
                script = owner.script
                if script.first_chunk_delay:
                    time.sleep(script.first_chunk_delay)
                if not stream:
                    whole = self._chunk(model, text, chat, done=True)
                    self._json(200, whole)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                pieces = [text[i:i + script.chunk_size] for i in range(0, len(text), script.chunk_size)]
                lines = [self._chunk(model, piece, chat, done=False) for piece in pieces]
                lines.append(self._chunk(model, "", chat, done=True))
                try:
                    for line in lines:
                        data = (json.dumps(line) + "\n").encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                        if script.chunk_delay:
                            time.sleep(script.chunk_delay)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with owner._lock:
                        owner.hangups += 1

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def generate_requests(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"] in ("/api/generate", "/api/chat")]

    def __enter__(self) -> "ScriptedModel":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    # Handy by hand: `python scripted_model.py "answer text"` serves that answer until ^C.
    import sys

    with ScriptedModel(Script(default=sys.argv[1] if len(sys.argv) > 1 else "pass")) as model:
        print(model.endpoint, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
