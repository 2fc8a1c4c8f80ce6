"""The ONNX Runtime backend of ``HFEncoder`` (``--backend onnx``): export once, then run on the CPU.

The checkpoint is exported with torch's ONNX exporter (``dynamo=True``, eager attention, dynamic
batch and sequence axes; the graph returns ``last_hidden_state``) into
``$XQG_CACHE/onnx/<key>/model.onnx`` (+ external weights), keyed by the checkpoint's files and
the torch/transformers versions, written atomically. Tokenization, length-sorted batches, pooling
and the L2 norm stay those of the torch path, so vectors agree with it to float32 rounding (the
tests and ``benchmarks/encode.py`` check cosine >= 0.9999). Needs ``pip install '.[onnx]'``
(onnxruntime, onnx, onnxscript).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from xqg_pyserini.errors import InputError

EXPORT_FORMAT = 2  # bump when the exported graph changes
OPSET = 18


def _export_key(path: Path) -> str:
    import torch
    import transformers

    digest = hashlib.sha256(json.dumps({"format": EXPORT_FORMAT, "torch": torch.__version__, "opset": OPSET,
                                        "transformers": transformers.__version__}).encode())
    for file in sorted(p for p in path.iterdir() if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def exported_model(encoder: Any) -> Path:
    """The ONNX file of ``encoder``'s checkpoint, exported on first use."""
    from xqg_pyserini.encode.models import cache_root
    from xqg_pyserini.io.atomic import atomic_dir

    path = Path(encoder.path)
    if not path.is_dir():
        raise InputError("--backend onnx needs a local checkpoint dir", path=path)
    target = cache_root() / "onnx" / _export_key(path)
    if (target / "source.json").is_file():
        return _graph(target)
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()

    class LastHidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = encoder.tokenizer(["a first text", "a second, longer text to export with"], padding=True,
                               return_tensors="pt")
    axes = {0: "batch", 1: "sequence"}
    import warnings

    with atomic_dir(target) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's advice on dynamic_axes vs dynamic_shapes
        torch.onnx.export(LastHidden(), (sample["input_ids"], sample["attention_mask"]), str(tmp / "model.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                          opset_version=OPSET, dynamo=True)
        fused = _optimize(tmp, model.config)
        (tmp / "source.json").write_text(json.dumps({"checkpoint": str(path.resolve()), "fused": fused}) + "\n",
                                         encoding="utf-8")
    return _graph(target)


def _graph(target: Path) -> Path:
    return target / "optimized.onnx" if (target / "optimized.onnx").is_file() else target / "model.onnx"


def _optimize(directory: Path, config: Any) -> dict[str, int]:
    """ONNX Runtime's transformer fusions (LayerNorm, GELU, ...) on BERT-like graphs; {} if not applicable."""
    try:
        from onnxruntime.transformers import optimizer
    except ImportError:
        return {}
    try:
        model = optimizer.optimize_model(str(directory / "model.onnx"), model_type="bert",
                                         num_heads=int(config.num_attention_heads), hidden_size=int(config.hidden_size))
    except Exception:  # an architecture the fusions do not know: the plain graph runs as exported
        return {}
    model.save_model_to_file(str(directory / "optimized.onnx"), use_external_data_format=True)
    for name in ("model.onnx", "model.onnx.data"):  # the unfused graph is not needed any more
        (directory / name).unlink(missing_ok=True)
    return {name: count for name, count in model.get_fused_operator_statistics().items() if count}


def session_for(encoder: Any, threads: int | None = None):
    """An ONNX Runtime CPU session (all graph optimizations) for ``encoder``'s checkpoint."""
    try:
        import onnxruntime
    except ImportError:
        raise InputError("--backend onnx needs onnxruntime: pip install 'xqg-pyserini[onnx]'") from None
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared CPUs: do not busy-wait
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(exported_model(encoder)), options, providers=["CPUExecutionProvider"])
