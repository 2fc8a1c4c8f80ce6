"""OpenAIGenerator against a fake OpenAI-compatible server on 127.0.0.1 (no network beyond loopback)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import Request
from xqg_pyserini.generate.openai import EndpointError, OpenAIGenerator, load_template, parse_queries

PASSAGE = "Mount Vesuvius is a stratovolcano near Naples. Its eruption in 79 AD buried Pompeii."


def _request(lang: str = "ar", docid: str = "demo-001", n: int = 3, seed: int = 11) -> Request:
    return Request(docid=docid, title="Mount Vesuvius", text=PASSAGE, lang=lang, n=n, seed=seed)


def _default_reply(body: dict) -> str:
    """A messy but deterministic reply: a header line, numbered and quoted queries, from prompt + seed."""
    tag = hashlib.sha256(f"{body['messages'][0]['content']}|{body.get('seed')}".encode()).hexdigest()[:8]
    return "Here are the questions:\n" + "\n".join(f'{i}. "q-{tag}-{i}?"' for i in range(1, 6))


class FakeChatServer:
    """POST /v1/chat/completions; can fail with given statuses first; tracks concurrent requests."""

    def __init__(self, reply=_default_reply, delay: float = 0.0):
        self.reply = reply
        self.delay = delay
        self.failures: list[int] = []  # statuses to answer with, in order, before succeeding
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.paths: list[str] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.paths.append(self.path)
                    server.bodies.append(body)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    status = server.failures.pop(0) if server.failures else 200
                try:
                    time.sleep(server.delay)
                finally:
                    # Before replying: a client sends its next request as soon as it has the reply,
                    # possibly before this handler thread would get past _send.
                    with server.lock:
                        server.in_flight -= 1
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                elif status != 200:
                    self._send(status, {"error": {"message": f"fake failure {status}"}},
                               {"Retry-After": "0"} if status == 429 else {})
                else:
                    content = server.reply(body)
                    self._send(200, content if isinstance(content, dict) else {"choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}}]})

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    with FakeChatServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _generator(server, **options) -> OpenAIGenerator:
    options.setdefault("backoff", 0.001)
    return OpenAIGenerator("fake-model", base_url=server.base_url, **options)


def test_generates_parsed_queries_per_request(server):
    generator = _generator(server, temperature=0.3, max_tokens=64)
    requests = [_request("ar"), _request("ja", n=2), _request("de", docid="demo-002", n=1, seed=5)]
    outputs = generator.generate(requests)
    assert [len(queries) for queries in outputs] == [5, 5, 5]  # all usable lines; the runner keeps n
    for queries in outputs:
        assert all(q.startswith("q-") and q.endswith("?") for q in queries)  # numbering and quotes gone
    assert outputs[0] != outputs[1]
    assert sorted(body["seed"] for body in server.bodies) == [5, 11, 11]
    body = server.bodies[0]
    assert body["model"] == "fake-model" and body["temperature"] == 0.3 and body["max_tokens"] == 64
    prompts = [b["messages"][0]["content"] for b in server.bodies]
    assert any("3 different questions in Arabic" in p and PASSAGE in p and "Mount Vesuvius" in p for p in prompts)
    assert any("2 different questions in Japanese" in p for p in prompts)
    assert "authorization" not in {key.lower() for key in server.headers[0]}  # no key given, none sent
    # deterministic server + seed: same outputs again
    assert generator.generate(requests) == outputs


def test_prompt_template_placeholders(server, tmp_path):
    template = tmp_path / "prompt.txt"
    template.write_text("{language}|{lang}|{title}|{passage}|{n}|{{literal}}", encoding="utf-8")
    generator = _generator(server, prompt_template=template)
    generator.generate([_request("ar", n=2)])
    assert server.bodies[0]["messages"] == [
        {"role": "user", "content": f"Arabic|ar|Mount Vesuvius|{PASSAGE}|2|{{literal}}"}]
    assert generator.config()["prompt_template"] == str(template)

    template.write_text("{language} {passage} {topic}", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown placeholder\(s\) \{topic\}; known: \{language\}, \{lang\}"):
        load_template(template)
    template.write_text("{language} only", encoding="utf-8")
    with pytest.raises(InputError, match=r"no \{passage\}"):
        load_template(template)
    template.write_text("{passage} {", encoding="utf-8")
    with pytest.raises(InputError, match="literal braces"):
        load_template(template)
    default = load_template(None)
    assert all("{" + field + "}" in default for field in ("language", "title", "passage", "n"))


def test_retries_429_and_5xx_then_succeeds(server):
    server.failures = [429, 500, 502, 503]
    outputs = _generator(server, max_retries=5).generate([_request()])
    assert len(outputs[0]) == 5
    assert len(server.bodies) == 5


def test_gives_up_after_max_retries(server):
    server.failures = [500] * 10
    with pytest.raises(EndpointError, match=r"failed after 3 attempts; last: HTTP 500: fake failure 500"):
        _generator(server, max_retries=2).generate([_request()])
    assert len(server.bodies) == 3


def test_client_errors_are_not_retried(server):
    server.failures = [400]
    with pytest.raises(EndpointError, match=r"answered HTTP 400: fake failure 400"):
        _generator(server).generate([_request()])
    assert len(server.bodies) == 1


def test_bare_host_gets_v1(server):
    generator = OpenAIGenerator("fake-model", base_url=server.base_url.removesuffix("/v1") + "/")
    assert generator.base_url == server.base_url
    generator.generate([_request()])
    assert server.paths == ["/v1/chat/completions"]


def test_concurrency_is_bounded():
    with FakeChatServer(delay=0.05) as fake:
        outputs = _generator(fake, concurrency=3).generate([_request(docid=f"d{i}", seed=i) for i in range(12)])
        assert len(outputs) == 12 and all(len(queries) == 5 for queries in outputs)
        assert 2 <= fake.max_in_flight <= 3


def test_endpoint_down_fails_fast_naming_the_url():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = OpenAIGenerator("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, backoff=0.01)
    start = time.monotonic()
    with pytest.raises(EndpointError, match=rf"127\.0\.0\.1:{port}/v1.*failed after 3 attempts.*ConnectError"):
        generator.generate([_request(docid=f"d{i}") for i in range(8)])
    assert time.monotonic() - start < 5


def test_default_retry_schedule_is_modest():
    generator = OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1")
    waits = [generator.delay(seed=123, attempt=a) for a in range(generator.max_retries)]
    assert sum(waits) < 20 and waits == [generator.delay(seed=123, attempt=a) for a in range(generator.max_retries)]
    assert waits[0] < waits[-1]
    assert generator.delay(seed=1, attempt=0) != generator.delay(seed=2, attempt=0)  # jitter differs per request
    assert generator.delay(seed=1, attempt=0, retry_after=3.0) == 3.0


def test_empty_or_malformed_replies():
    with FakeChatServer(reply=lambda body: None) as fake:  # content null: no queries, not an error
        assert _generator(fake).generate([_request()]) == [[]]
    with FakeChatServer(reply=lambda body: {"object": "list", "data": []}) as fake:  # 200, but not a chat reply
        with pytest.raises(EndpointError, match="answered 200 without a chat completion"):
            _generator(fake).generate([_request()])


def test_api_key_from_argument_or_named_env(server, monkeypatch):
    _generator(server, api_key="k-arg").generate([_request()])
    assert server.headers[-1]["Authorization"] == "Bearer k-arg"
    monkeypatch.setenv("XQG_TEST_LLM_KEY", "k-env")
    _generator(server, api_key_env="XQG_TEST_LLM_KEY").generate([_request()])
    assert server.headers[-1]["Authorization"] == "Bearer k-env"
    config = _generator(server, api_key="k-arg").config()
    assert "k-arg" not in json.dumps(config)
    with pytest.raises(InputError, match=r"api\.openai\.com/v1 needs an API key.*OPENAI_API_KEY"):
        OpenAIGenerator("gpt-4o-mini")


def test_bad_arguments():
    with pytest.raises(InputError, match="base URL"):
        OpenAIGenerator("m", base_url="localhost:8000")
    with pytest.raises(InputError, match="concurrency"):
        OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1", concurrency=0)
    with pytest.raises(InputError, match="unknown language code 'xx'"):
        OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1").generate([_request("xx")])


def test_config_is_json():
    config = OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1", temperature=0.2).config()
    json.dumps(config)
    assert config["generator"] == "openai" and config["model"] == "m" and config["temperature"] == 0.2
    assert "honors" in config["seed"] and len(config["prompt_sha256"]) == 64


@pytest.mark.parametrize("reply, expected", [
    ("1. Wo liegt der Vesuv?\n2. Wann brach der Vesuv aus?", ["Wo liegt der Vesuv?", "Wann brach der Vesuv aus?"]),
    ("Here are 3 questions in German:\n\n- \"Wo liegt der Vesuv?\"\n* „Wann?“\n• Warum?",
     ["Wo liegt der Vesuv?", "Wann?", "Warum?"]),
    ("<think>The user wants Japanese.\n1. draft</think>\n1) ヴェスヴィオ山はどこ？\n（2）", ["ヴェスヴィオ山はどこ？"]),
    ("١. أين يقع جبل فيزوف؟\n٢. متى ثار البركان؟", ["أين يقع جبل فيزوف؟", "متى ثار البركان؟"]),
    ("```\nQ1: 维苏威火山在哪里？\n2、维苏威火山何时喷发？\n```", ["维苏威火山在哪里？", "维苏威火山何时喷发？"]),
    ("**1.** 3.5 million people live near Vesuvius?\n10:30 eruption?", ["3.5 million people live near Vesuvius?",
                                                                         "10:30 eruption?"]),
    ("「ヴェスヴィオ山とは」", ["ヴェスヴィオ山とは"]),
    ("<think>never closed", []),
])
def test_parse_queries(reply, expected):
    assert parse_queries(reply) == expected


def test_parse_queries_limit():
    assert parse_queries("a\nb\nc\nd", limit=2) == ["a", "b"]


def test_languages_are_those_with_english_names():
    from xqg_pyserini.generate.base import LANGUAGES

    assert OpenAIGenerator("m", base_url="http://127.0.0.1:9/v1").languages == sorted(LANGUAGES)
