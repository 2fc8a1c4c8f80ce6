"""Queries from any OpenAI-compatible chat endpoint: vLLM, llama.cpp server, Ollama, OpenAI.

One chat request per (passage, language): the prompt template is filled in and sent as a
single user message to ``{base_url}/chat/completions``; the reply is split into lines, with
numbering, bullets and quotes stripped; every such line is returned (the runner keeps the
first ``n`` distinct ones, so a model that writes extra lines makes up for duplicates).

The endpoint is spoken to with ``httpx`` directly rather than the ``openai`` client: the
client insists on an API key (local servers need none, and inventing one is not on), and it
has retries of its own that would multiply ours. Ours are explicit: up to ``max_retries``
retries on HTTP 429, 5xx and connection errors, exponential backoff from ``backoff`` seconds
capped at ``max_backoff``, with jitter derived from the request's seed (deterministic, yet
different across concurrent requests). Defaults give up on a dead endpoint within about 15 s.

Each request carries ``seed=request.seed``; outputs are reproducible only if the server honors
it (and runs the same model and settings).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import string
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import LANGUAGES, Request
from xqg_pyserini.options import Option, file_text

PLACEHOLDERS = ("language", "lang", "title", "passage", "n")
DEFAULT_TEMPLATE = "query.txt"  # in xqg_pyserini/generate/prompts/
OPENAI_HOST = "api.openai.com"
MAX_RETRY_AFTER = 60.0  # seconds: the most a server's Retry-After header can make us wait


class EndpointError(RuntimeError):
    """The chat endpoint failed: unreachable, an HTTP error, or a reply without a message."""


class OpenAIGenerator:
    """Generate queries with a chat model behind an OpenAI-compatible HTTP API."""

    output = "queries"
    languages = sorted(LANGUAGES)  # the prompt names the language in English
    summary = "any OpenAI-compatible chat endpoint"
    needs_language_names = True

    @classmethod
    def options(cls) -> list[Option]:
        return [
            Option("--model", required="openai needs --model (the model name the server serves)",
                   help="served model name"),
            Option("--base-url", help="e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL)"),
            Option("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the key (default: %(default)s)"),
            Option("--prompt-template", help="file with the prompt; fills {language} {lang} {title} {passage} {n}"),
            Option("--concurrency", type=int, help="requests in flight (default 4)"),
            Option("--max-retries", type=int, help="on 429/5xx/timeouts (default 5)"),
            Option("--timeout", type=float, help="seconds per request (default 60)"),
            Option("--max-tokens", type=int, help="default 256"),
            Option("--temperature", type=float, help="default 0.7"),
            Option("--top-p", type=float, help="default: the server's"),
        ]

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", prompt_template: str | Path | None = None,
                 concurrency: int = 4, max_retries: int = 5, timeout: float = 60.0,
                 temperature: float = 0.7, max_tokens: int = 256, top_p: float | None = None,
                 backoff: float = 0.5, max_backoff: float = 8.0):
        if not model:
            raise InputError("a model name is required (the name the server serves it under)")
        if int(concurrency) < 1 or int(max_retries) < 0 or float(timeout) <= 0:
            raise InputError("--concurrency must be >= 1, --max-retries >= 0 and --timeout > 0")
        self.model = model
        self.base_url = normalize_base_url(base_url or os.environ.get("OPENAI_BASE_URL") or f"https://{OPENAI_HOST}/v1")
        self.url = f"{self.base_url}/chat/completions"
        # The key is read here and kept off config(); the environment is never written.
        self._api_key = api_key or (os.environ.get(api_key_env) if api_key_env else None) or None
        if self._api_key is None and urlsplit(self.base_url).hostname == OPENAI_HOST:
            raise InputError(f"{self.base_url} needs an API key: pass api_key or set ${api_key_env}")
        self.template_path = str(prompt_template) if prompt_template else f"(default) {DEFAULT_TEMPLATE}"
        self.template = load_template(prompt_template)
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.top_p = None if top_p is None else float(top_p)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)

    def config(self) -> dict[str, Any]:
        return {
            "generator": "openai", "model": self.model, "base_url": self.base_url,
            "prompt_template": self.template_path, "prompt": self.template,
            "prompt_sha256": hashlib.sha256(self.template.encode("utf-8")).hexdigest(),
            "temperature": self.temperature, "max_tokens": self.max_tokens, "top_p": self.top_p,
            "seed": "request seed sent as 'seed'; reproducible only if the server honors it",
        }

    def prompt(self, request: Request) -> str:
        if request.lang not in LANGUAGES:
            raise InputError(f"unknown language code {request.lang!r}; known: {', '.join(sorted(LANGUAGES))}")
        return self.template.format_map({"language": LANGUAGES[request.lang], "lang": request.lang,
                                         "title": request.title, "passage": request.text, "n": request.n})

    def generate(self, requests: Sequence[Request]) -> list[list[str]]:
        import httpx

        if not requests:
            return []
        prompts = [self.prompt(request) for request in requests]  # bad languages fail before any call
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        workers = min(self.concurrency, len(requests))
        abort = threading.Event()  # set on the first failure: others stop retrying
        with httpx.Client(headers=headers, timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                          limits=httpx.Limits(max_connections=workers)) as client, \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xqg-openai") as pool:
            futures = [pool.submit(self._complete, client, request, prompt, abort)
                       for request, prompt in zip(requests, prompts)]
            wait(futures, return_when=FIRST_EXCEPTION)
            failed = [future for future in futures if future.done() and future.exception() is not None]
            if failed:
                abort.set()
                for future in futures:
                    future.cancel()
                raise failed[0].exception()
            # Every usable line is returned; the runner keeps the first n distinct ones.
            return [parse_queries(future.result()) for future in futures]

    def _complete(self, client: Any, request: Request, prompt: str, abort: threading.Event) -> str:
        """The reply text for one request, retrying transient failures."""
        import httpx

        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                                "temperature": self.temperature, "max_tokens": self.max_tokens,
                                "seed": request.seed, "n": 1, "stream": False}
        if self.top_p is not None:
            body["top_p"] = self.top_p
        problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if abort.is_set():
                raise EndpointError(f"{self.url}: stopped after another request failed")
            retry_after = None
            try:
                response = client.post(self.url, json=body)
            except httpx.TransportError as error:  # refused, timed out, dropped
                problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            else:
                if response.status_code == 200:
                    return _reply_text(response, self.url)
                problem = f"HTTP {response.status_code}: {_error_message(response)}"
                if not _retryable(response.status_code):
                    raise EndpointError(f"{self.url} (model {self.model!r}) answered {problem}")
                retry_after = _retry_after(response)
            if attempt < self.max_retries:
                abort.wait(self.delay(request.seed, attempt, retry_after))
        raise EndpointError(f"{self.url} (model {self.model!r}) failed after {self.max_retries + 1} attempts; "
                            f"last: {problem}. Is the server at {self.base_url} running?")

    def delay(self, seed: int, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt + 1``: exponential, jittered by the seed."""
        jitter = 0.5 + 0.5 * random.Random(f"{seed}:{attempt}").random()
        seconds = min(self.max_backoff, self.backoff * 2 ** attempt) * jitter
        if retry_after is not None:
            seconds = max(seconds, min(retry_after, MAX_RETRY_AFTER))
        return seconds


def normalize_base_url(base_url: str) -> str:
    """No trailing slash; a bare ``http://host:port`` gets the usual ``/v1``."""
    url = base_url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"--base-url: the base URL must look like http://host:port/v1, not {base_url!r}")
    return url if parts.path else f"{url}/v1"


def load_template(path: str | Path | None) -> str:
    """The prompt template's text; only the placeholders in PLACEHOLDERS may appear."""
    if path:
        text = file_text("--prompt-template")(str(path))
    else:
        text = files("xqg_pyserini.generate").joinpath("prompts", DEFAULT_TEMPLATE).read_text(encoding="utf-8")
    where = path or DEFAULT_TEMPLATE
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError as error:
        raise InputError(f"prompt template {where}: {error} (write literal braces as {{{{ and }}}})") from error
    bad = sorted({field for field in fields if field not in PLACEHOLDERS})
    if bad:
        raise InputError(f"prompt template {where}: unknown placeholder(s) {', '.join('{' + b + '}' for b in bad)}; "
                         f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)} "
                         "(write literal braces as {{ and }})")
    if "passage" not in fields:
        raise InputError(f"prompt template {where} has no {{passage}} placeholder")
    return text


# -- reply parsing -------------------------------------------------------------------------------

_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)  # reasoning models' scratchpad
_NUMBERING = re.compile(r"^[(（]?\d{1,2}\s*[.)．、:：）](?!\d)\s*")  # 1. 1) (1) 1、 ١. (not 3.5)
_LABEL = re.compile(r"^(?:q|query|question)\s*\d{0,2}\s*[.:：)]\s*", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-*•·‣–—+]|#+)\s+")
_QUOTES = "\"'`“”„«»「」『』‘’"


def parse_queries(reply: str, limit: int | None = None) -> list[str]:
    """The queries in a reply (the first ``limit``): one per line, numbering, bullets and quotes removed."""
    queries = []
    for line in _THINKING.sub("", reply).splitlines():
        text = line.strip().replace("**", "")
        if not text or text.startswith("```") or text.endswith((":", "：")):  # fences, "Here are 3 questions:"
            continue
        for pattern in (_BULLET, _NUMBERING, _LABEL):
            text = pattern.sub("", text, count=1).strip()
        if text[:1] in _QUOTES:
            text = text.strip(_QUOTES + " ").strip()
        if text:
            queries.append(text)
    return queries[:limit]


def _reply_text(response: Any, url: str) -> str:
    try:
        message = response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise EndpointError(f"{url} answered 200 without a chat completion ({type(error).__name__}): "
                            f"{response.text[:200]!r}") from error
    return message.get("content") or ""


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(response: Any) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None  # absent, or an HTTP date: use our own backoff


def _error_message(response: Any) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:300]
    except (ValueError, AttributeError):
        pass
    return response.text[:300].strip() or response.reason_phrase
