from xqg_pyserini.cli import main
from xqg_pyserini.io.qrels import read_qrels
from xqg_pyserini.io.topics import read_topics


def test_xqg_data_xquad_and_combine(tmp_path, data_dir, capsys):
    assert main(["data", "xquad", "--source", str(data_dir / "xquad"), "--output", str(tmp_path / "xq"),
                 "--langs", "de,ja,zh"]) != 0  # ja is not in XQuAD
    assert "ja" in capsys.readouterr().err
    assert main(["data", "xquad", "--source", str(data_dir / "xquad"), "--output", str(tmp_path / "xq"),
                 "--langs", "de,zh", "--folds", "4"]) == 0
    assert "240 passages" in capsys.readouterr().out
    readme = (tmp_path / "xq" / "README.md").read_text("utf-8")  # the command as it was run
    assert f"xqg data xquad --source {data_dir / 'xquad'} --output {tmp_path / 'xq'} --langs de,zh --folds 4" in readme
    assert len(read_topics(tmp_path / "xq" / "topics.de.tsv")) == 1190
    assert set(read_qrels(tmp_path / "xq" / "qrels.txt")) == set(read_topics(tmp_path / "xq" / "topics.tsv"))
    assert main(["data", "mlqa", "--source", str(data_dir / "mlqa-r"), "--output", str(tmp_path / "ml"),
                 "--langs", "de", "--folds", "4"]) == 0
    assert main(["data", "combine", "--inputs", str(tmp_path / "xq"), str(tmp_path / "ml"),
                 "--output", str(tmp_path / "both")]) == 0
    assert "1218 passages" in capsys.readouterr().out
    assert main(["data", "xquad", "--source", str(data_dir / "xquad"), "--output", str(tmp_path / "x1"),
                 "--folds", "1"]) == 2
    assert "--folds must be at least 2" in capsys.readouterr().err
