import json

import pytest

from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import Request, request_seed
from xqg_pyserini.generate.hf_qg import PROMPT, GumbelSampler, HFQueryGenerator, render_prompt, row_keys



@pytest.fixture(scope="module")
def generator(tiny_mt5):
    return HFQueryGenerator(str(tiny_mt5), max_length=12)


def requests(n: int = 3, passages: int = 4, langs=("ar", "ja")) -> list[Request]:
    from xqg_pyserini.data import demo_dir

    rows = [json.loads(line) for line in (demo_dir() / "corpus.jsonl").read_text("utf-8").splitlines()][:passages]
    # Cut passages to different lengths so batches need padding.
    return [Request(row["id"], row["title"], row["contents"][:60 * (i + 1)], lang, n, request_seed(42, row["id"], lang))
            for i, row in enumerate(rows) for lang in langs]


def test_prompt_is_the_official_one():
    request = Request("d1", "Mount Vesuvius", "It is a volcano.", "ja", 1, 0)
    assert render_prompt(PROMPT, request) == \
        "Generate a Japanese question for this passage: Mount Vesuvius It is a volcano."
    # The model card's own template ({lang} is the language name there) gives the same text.
    official = "Generate a {lang} question for this passage: {title} {passage}"
    assert render_prompt(official, request) == render_prompt(PROMPT, request)
    untitled = Request("d1", "", "It is a volcano.", "ar", 1, 0)
    assert render_prompt(PROMPT, untitled) == "Generate a Arabic question for this passage: It is a volcano."


def test_per_lang_outputs(generator):
    outputs = generator.generate(requests(n=3))
    assert len(outputs) == 8 and all(len(texts) == 3 for texts in outputs)
    assert all(isinstance(t, str) and t for texts in outputs for t in texts)
    assert sum(len(set(texts)) for texts in outputs) > 16  # samples of one request differ
    assert outputs[0] != outputs[1]  # other language, other seed


def test_outputs_do_not_depend_on_batching(generator, tiny_mt5):
    import torch

    batch = requests(n=3)
    together = generator.generate(batch)
    alone = [generator.generate([request])[0] for request in batch]
    torch.manual_seed(1234)  # the global RNG plays no part
    reversed_ = generator.generate(batch[::-1])[::-1]
    chunked = HFQueryGenerator(str(tiny_mt5), max_length=12, batch_size=3).generate(batch)
    assert together == alone == reversed_ == chunked


def test_seed_changes_samples(generator):
    request = requests(n=2, passages=1, langs=("ja",))[0]
    other = Request(**{**request.__dict__, "seed": request.seed + 1})
    assert generator.generate([request]) != generator.generate([other])


def test_beam_search_without_sampling(tiny_mt5):
    beams = HFQueryGenerator(str(tiny_mt5), max_length=8, do_sample=False)
    first = beams.generate(requests(n=2, passages=2))
    assert first == beams.generate(requests(n=2, passages=2)) and all(len(t) == 2 for t in first)
    assert beams.config()["sampler"] == "beam search"


def test_config_records_what_determines_outputs(generator):
    config = generator.config()
    assert config["name"] == "hf-qg" and config["kind"] == "seq2seq" and config["prompt"] == PROMPT
    assert (config["max_length"], config["top_k"], config["top_p"], config["temperature"]) == (12, 50, 1.0, 1.0)


def test_model_without_generation_head(tiny_bert):
    with pytest.raises(InputError, match=r"has no generation head \(seq2seq or causal LM\)") as err:
        HFQueryGenerator(str(tiny_bert))
    assert str(tiny_bert) in str(err.value) and "BertModel" in str(err.value)


def test_unknown_language(generator):
    request = Request("d1", "", "text", "xx", 1, 0)
    with pytest.raises(InputError, match="unknown language code.*xx.*known: ar, bn"):
        generator.generate([request])


def test_gumbel_sampler_draws_from_the_filtered_distribution():
    import torch

    rows = 40000
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -3.0]).repeat(rows, 1)
    keys = row_keys([(7, j) for j in range(rows)])
    ids = torch.zeros(rows, 1, dtype=torch.long)

    def frequencies(**options):
        chosen = GumbelSampler(keys, **options)(ids, logits).argmax(dim=-1)
        return torch.bincount(chosen, minlength=6).double() / rows

    top3 = frequencies(top_k=3)
    assert top3[3:].sum() == 0
    assert torch.allclose(top3[:3], logits[0, :3].softmax(-1).double(), atol=0.01)
    cooled = frequencies(top_k=None, temperature=0.5)
    assert torch.allclose(cooled, (logits[0] / 0.5).softmax(-1).double(), atol=0.01)
    # top-p keeps the smallest set whose mass reaches p, as transformers' TopPLogitsWarper does.
    from transformers import TopPLogitsWarper

    kept = torch.isfinite(TopPLogitsWarper(0.8)(ids[:1], logits[:1]))[0]
    nucleus = frequencies(top_k=None, top_p=0.8)
    assert torch.equal(nucleus > 0, kept)
    expected = logits[0].masked_fill(~kept, float("-inf")).softmax(-1).double()
    assert torch.allclose(nucleus, expected, atol=0.01)


def test_gumbel_noise_is_keyed_not_stateful():
    import torch

    logits = torch.zeros(4, 50)
    keys = row_keys([(1, 0), (1, 1), (2, 0), (1, 0)])
    ids = torch.zeros(4, 1, dtype=torch.long)
    sampler = GumbelSampler(keys, top_k=None)
    first = sampler(ids, logits).argmax(-1)
    assert first[0] == first[3]  # same key, same draw, whatever the row
    again = GumbelSampler(keys, top_k=None)(ids, logits).argmax(-1)
    assert torch.equal(first, again)
    later = sampler(torch.zeros(4, 2, dtype=torch.long), logits).argmax(-1)  # next step: fresh noise
    assert not torch.equal(first, later)
