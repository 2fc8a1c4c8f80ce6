"""``hf-qg``: cross-lingual query generation with a Hugging Face seq2seq (or causal) LM.

Defaults follow the model card of ielabgroup/xor-tydi-docTquery-mt5-base (also the xQG
section of ielab/xQG4xDR's README): the prompt ``Generate a {lang} question for this passage:
{title} {passage}`` with English language names, ``do_sample=True, max_length=64`` and
transformers' default top-k 50 / top-p 1.0 / temperature 1.0 (the card sets none of them).
Inputs are cut at 256 tokens, the passage length ArvinZhuang/DSI-QG's generation step used
(``--max_length 256``; the card's pipeline call does not truncate).

Sampling is batch-independent. ``generate(do_sample=True)`` draws from the global RNG, so a
request's samples would change with its batch mates. Here each of the ``n`` samples of a request
is its own row, decoded greedily over logits that ``GumbelSampler`` filtered (temperature, top-k,
top-p) and perturbed with Gumbel noise; the arg-max of that is an exact sample of the filtered
distribution (Gumbel-max trick). The noise is a counter-based hash of (request seed, sample
index, step, token id), computed on the device in integer arithmetic: no RNG state, identical
on CPU and GPU, whatever the batch. The passage is encoded once and shared by its ``n`` rows.
"""

from __future__ import annotations

import copy
import hashlib
import operator
from typing import Any, Sequence

from xqg_pyserini.encode.base import DTYPES
from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import BATCH_SIZE, DEVICE, DTYPE, LANGUAGES, Request, check_langs
from xqg_pyserini.options import Option, file_text

DEFAULT_MODEL = "ielabgroup/xor-tydi-docTquery-mt5-base"
PROMPT = "Generate a {language} question for this passage: {title} {passage}"
SAMPLER = "gumbel-max, lowbias32 counter noise, v1"


def render_prompt(template: str, request: Request) -> str:
    """The model input for a request; ``{lang}`` is the language name too, as in the official script."""
    name = LANGUAGES[request.lang]
    text = template.format(language=name, lang=name, code=request.lang, title=request.title,
                           passage=request.text)
    return " ".join(text.split())  # an empty title leaves no double space


def generation_kind(config: Any, name: str) -> str:
    """``"seq2seq"`` or ``"causal"`` from a model config; InputError when it cannot generate."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    def classes(mapping: dict) -> set[str]:
        found: set[str] = set()
        for value in mapping.values():
            found.update(value if isinstance(value, (list, tuple)) else [value])
        return found

    architectures = list(getattr(config, "architectures", None) or [])
    if architectures:  # what the checkpoint holds, e.g. BertModel has no head even though BERT has an LM class
        if set(architectures) & classes(MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES):
            return "seq2seq"
        if set(architectures) & classes(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES):
            return "causal"
    elif config.model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
        return "seq2seq"
    elif config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "causal"
    raise InputError(f"model {name} has no generation head (seq2seq or causal LM): it is "
                     f"{', '.join(architectures) or config.model_type}")


class HFQueryGenerator:
    """``n`` sampled queries per request. ``max_length`` counts as transformers' ``generate`` does
    (for seq2seq the decoder start token included, so 64 allows 63 tokens, as the model card);
    for causal LMs it is the number of new tokens. ``do_sample=False`` is beam search returning
    the ``n`` best beams. ``batch_size``: requests per ``model.generate`` call (default: all given).
    """

    output = "queries"
    summary = "query generation with a Hugging Face seq2seq or causal LM"
    needs_language_names = True  # the prompt names the language

    @classmethod
    def options(cls) -> list[Option]:
        return [
            Option("--model", help=f"HF id or local dir (default {DEFAULT_MODEL})"),
            DEVICE, DTYPE,
            Option("--max-length", type=int, help="generated tokens, as transformers counts them (default 64)"),
            Option("--max-input-length", type=int, help="input tokens kept (default 256)"),
            Option("--top-k", type=int, help="default 50 (0 = off)"),
            Option("--top-p", type=float, help="default 1.0"),
            Option("--temperature", type=float, help="default 1.0"),
            Option("--no-sample", action="store_true", keyword="do_sample", convert=operator.not_,
                   help="beam search returning the best --per-lang beams instead of sampling"),
            Option("--prompt-template", keyword="prompt", convert=file_text("--prompt-template"),
                   help="file with the prompt; fills {language} {title} {passage}"),
            BATCH_SIZE,
        ]

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", dtype: str = "float32",
                 max_length: int = 64, max_input_length: int | None = 256, top_k: int | None = 50,
                 top_p: float = 1.0, temperature: float = 1.0, do_sample: bool = True, prompt: str = PROMPT,
                 batch_size: int | None = None, tokenizer: str | None = None):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        if dtype not in DTYPES:
            raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
        if temperature <= 0 or not 0 < top_p <= 1 or (top_k is not None and top_k < 0):
            raise InputError("need --temperature > 0, 0 < --top-p <= 1 and --top-k >= 0")
        for field in ("{title}", "{passage}"):
            if field not in prompt:
                raise InputError(f"--prompt-template: the prompt must contain {field}: {prompt!r}")
        self.model_name = str(model)
        self.device = device
        self.dtype = dtype
        self.max_length = max_length
        self.max_input_length = max_input_length
        self.top_k = top_k or None  # 0 means no top-k filter, as in transformers
        self.top_p = top_p
        self.temperature = temperature
        self.do_sample = do_sample
        self.prompt = prompt
        self.batch_size = batch_size
        self.languages = sorted(LANGUAGES)

        try:
            config = AutoConfig.from_pretrained(model)
        except (OSError, ValueError) as err:
            raise InputError(f"cannot load model {model}: {err}") from None
        self.kind = generation_kind(config, self.model_name)
        self.revision = getattr(config, "_commit_hash", None)
        auto = AutoModelForSeq2SeqLM if self.kind == "seq2seq" else AutoModelForCausalLM
        self.model = auto.from_pretrained(model, dtype=getattr(torch, dtype)).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer or model)
        if self.kind == "causal":
            self.tokenizer.padding_side = "left"  # generation continues right after the prompt
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token
        self.generation_config = self._generation_config()

    def _generation_config(self):
        config = copy.deepcopy(self.model.generation_config)
        config.do_sample = False
        config.num_beams = 1
        config.num_return_sequences = 1
        config.top_k = config.top_p = config.temperature = None  # our sampler filters; keep generate quiet
        if self.kind == "seq2seq":
            config.max_length = self.max_length
        else:
            config.max_new_tokens = self.max_length
        if config.pad_token_id is None:
            config.pad_token_id = self.tokenizer.pad_token_id
        return config

    def generate(self, requests: Sequence[Request]) -> list[list[str]]:
        if not requests:
            return []
        check_langs(sorted({r.lang for r in requests}), self.languages)
        prompts = [render_prompt(self.prompt, r) for r in requests]
        # Similar lengths together pad less; a request's outputs do not depend on its batch mates.
        order = sorted(range(len(requests)), key=lambda i: (requests[i].n, -len(prompts[i])))
        size = self.batch_size or len(order) or 1
        results: list[list[str]] = [[] for _ in requests]
        start = 0
        while start < len(order):
            n = requests[order[start]].n
            chunk = [i for i in order[start:start + size] if requests[i].n == n]
            start += len(chunk)
            texts = self._generate_chunk([prompts[i] for i in chunk], [requests[i].seed for i in chunk], n)
            for position, i in enumerate(chunk):
                results[i] = texts[position * n:(position + 1) * n]
        return results

    def _generate_chunk(self, prompts: list[str], seeds: list[int], n: int) -> list[str]:
        """``n`` texts per prompt, prompt-major."""
        import torch
        from transformers import LogitsProcessorList

        tokens = self.tokenizer(prompts, padding=True, truncation=self.max_input_length is not None,
                                max_length=self.max_input_length, return_tensors="pt")
        encoded = {key: tokens[key].to(self.device) for key in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            if not self.do_sample:
                config = copy.deepcopy(self.generation_config)
                config.num_beams = config.num_return_sequences = n
                output = self.model.generate(**encoded, generation_config=config)
            else:
                if self.kind == "seq2seq":
                    encoder_outputs = self.model.get_encoder()(**encoded, return_dict=True)
                    encoder_outputs.last_hidden_state = encoder_outputs.last_hidden_state.repeat_interleave(n, 0)
                    inputs = {"encoder_outputs": encoder_outputs,
                              "attention_mask": encoded["attention_mask"].repeat_interleave(n, 0)}
                else:
                    inputs = {key: value.repeat_interleave(n, 0) for key, value in encoded.items()}
                keys = row_keys([(seed, j) for seed in seeds for j in range(n)], self.device)
                sampler = GumbelSampler(keys, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
                output = self.model.generate(**inputs, generation_config=self.generation_config,
                                             logits_processor=LogitsProcessorList([sampler]))
        if self.kind == "causal":
            output = output[:, encoded["input_ids"].shape[1]:]
        return [text.strip() for text in self.tokenizer.batch_decode(output, skip_special_tokens=True)]

    def config(self) -> dict[str, Any]:
        return {"name": "hf-qg", "model": self.model_name, "revision": self.revision, "kind": self.kind,
                "prompt": self.prompt, "max_length": self.max_length, "max_input_length": self.max_input_length,
                "do_sample": self.do_sample, "top_k": self.top_k, "top_p": self.top_p,
                "temperature": self.temperature, "dtype": self.dtype,
                "sampler": SAMPLER if self.do_sample else "beam search"}


# --- batch-independent sampling -------------------------------------------------------------

MASK32 = 0xFFFFFFFF


def row_keys(pairs: Sequence[tuple[int, int]], device: str = "cpu"):
    """Two 32-bit keys per (request seed, sample index), as an int64 tensor of shape (rows, 2)."""
    import torch

    keys = []
    for seed, index in pairs:
        digest = hashlib.sha256(f"{seed}:{index}".encode()).digest()
        keys.append((int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:8], "big")))
    return torch.tensor(keys, dtype=torch.int64, device=device).reshape(-1, 2)


def _mul32(x, constant: int):
    # (x * constant) mod 2^32 without int64 overflow: the constant in two 16-bit halves.
    return (x * (constant & 0xFFFF) + (((x * (constant >> 16)) & 0xFFFF) << 16)) & MASK32


def _mix32(x):
    """lowbias32 (Chris Wellons' integer hash) on int64 tensors holding 32-bit values."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def gumbel_noise(keys, step: int, tokens):
    """Standard Gumbel noise (float64) for ``tokens`` (rows, k) at decoding ``step``, keyed per row."""
    import torch

    row = _mix32(keys[:, 0] ^ _mix32((keys[:, 1] + step) & MASK32))
    bits = _mix32(_mix32(tokens ^ row[:, None]) ^ keys[:, 1:2])
    uniform = (bits.to(torch.float64) + 0.5) / 2.0 ** 32
    return -torch.log(-torch.log(uniform))


class GumbelSampler:
    """A logits processor whose arg-max is a sample of the temperature/top-k/top-p distribution.

    It returns 0 for the sampled token and -inf elsewhere, so greedy decoding picks the sample.
    Made per ``generate`` call: its first call fixes the step origin. (transformers calls any
    ``(input_ids, scores)`` callable in a LogitsProcessorList.)
    """

    def __init__(self, keys, temperature: float = 1.0, top_k: int | None = 50, top_p: float = 1.0):
        self.keys = keys
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.origin: int | None = None

    def __call__(self, input_ids, scores):
        import torch

        if self.origin is None:
            self.origin = input_ids.shape[1]
        step = input_ids.shape[1] - self.origin
        logits = scores.float() / self.temperature
        if self.top_k and self.top_k < logits.shape[-1]:
            values, tokens = logits.topk(self.top_k, dim=-1)  # sorted, largest first
        else:
            values, tokens = logits.sort(dim=-1, descending=True)
        if self.top_p < 1.0:
            probs = values.softmax(dim=-1)
            mass_before = probs.cumsum(dim=-1) - probs
            drop = mass_before >= self.top_p
            drop[:, 0] = False
            values = values.masked_fill(drop, float("-inf"))
        noisy = values.to(torch.float64) + gumbel_noise(self.keys, step, tokens)
        chosen = tokens.gather(1, noisy.argmax(dim=-1, keepdim=True))
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, chosen, 0.0)


# --- random checkpoints for tests and benchmarks (no model hub) ------------------------------
