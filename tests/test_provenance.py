"""Provenance records: versions, the atomic JSON writer, reading back."""

import json
import platform
from importlib.metadata import version

import pytest

from xqg_pyserini.provenance import PACKAGES, read_provenance, versions, write_provenance


def test_versions_name_python_and_the_installed_packages():
    found = versions()
    assert found["python"] == platform.python_version()
    assert found["xqg-pyserini"] == version("xqg-pyserini") and found["numpy"] == version("numpy")
    assert set(found) <= {"python", *PACKAGES}


def test_write_then_read_keeps_the_record_and_adds_versions(tmp_path):
    record = {"kind": "test", "alpha": 0.01, "langs": ["ar", "ja"], "note": "Vesuv – Neapel"}
    write_provenance(tmp_path / "sub" / "xqg.json", record)
    text = (tmp_path / "sub" / "xqg.json").read_text(encoding="utf-8")
    assert "Vesuv – Neapel" in text and text.endswith("}\n") and text.startswith('{\n  "kind": "test"')
    back = read_provenance(tmp_path / "sub" / "xqg.json")
    assert back == {**record, "versions": versions()}
    assert list(back) == ["kind", "alpha", "langs", "note", "versions"]  # the record's order, versions last


def test_a_failed_write_leaves_the_previous_record(tmp_path):
    path = tmp_path / "xqg.json"
    write_provenance(path, {"kind": "first"})
    with pytest.raises(TypeError):
        write_provenance(path, {"kind": "second", "bad": object()})  # not JSON-serializable
    assert json.loads(path.read_text(encoding="utf-8"))["kind"] == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["xqg.json"]  # no temp file left behind
