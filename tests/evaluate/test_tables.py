"""Leaderboards: daggers, bold, baseline row, per-language columns, md/csv/json/tex content."""
import csv
import io
import json
import re

import pytest

from xqg_pyserini.evaluate.measures import Scores
from xqg_pyserini.evaluate.significance import SignificanceSettings, compare
from xqg_pyserini.evaluate.tables import leaderboard, render, render_rows


def lang_of(qid: str) -> str:
    return qid.split("-")[0]


def hits_scores(name: str, hits: dict[str, float]) -> Scores:
    """As R@kt reports: 0/1 hits per query, headline = mean of the per-language percentages."""
    by_lang: dict[str, list[float]] = {}
    for qid, hit in hits.items():
        by_lang.setdefault(lang_of(qid), []).append(hit)
    macro = sum(100 * sum(v) / len(v) for v in by_lang.values()) / len(by_lang)
    return Scores(name, {"R@2kt": hits}, {"R@2kt": macro})


@pytest.fixture(scope="module")
def runs() -> list[Scores]:
    qids = [f"q{i:02d}" for i in range(40)]
    plain = {q: 0.25 + 0.01 * i for i, q in enumerate(qids)}
    better = {q: v + 0.3 for q, v in plain.items()}  # better on every query
    mixed = {q: v + (0.02 if i % 2 else -0.02) for i, (q, v) in enumerate(plain.items())}
    make = lambda name, mrr, r100: Scores(name, {"MRR@10": mrr, "R@100": r100},
                                          {"MRR@10": sum(mrr.values()) / 40, "R@100": sum(r100.values()) / 40})
    return [make("plain", plain, better), make("xqg_sum", better, plain), make("mixed", mixed, mixed)]


@pytest.fixture(scope="module")
def tests(runs):
    return compare(runs[0], runs, ["MRR@10", "R@100"], settings=SignificanceSettings(permutations=2_000))


def test_markdown_marks_significance_best_and_baseline(runs, tests):
    md = leaderboard(runs, ["MRR@10", "R@100"], tests=tests).splitlines()
    assert md[0] == "| run              | MRR@10      | R@100      |"
    assert md[1] == "|------------------|------------:|-----------:|"
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in md[2:]]
    assert cells == [["plain (baseline)", "0.4450", "**0.7450**"],
                     ["xqg_sum", "**0.7450**†", "0.4450†"],  # a significant drop is marked too
                     ["mixed", "0.4450", "0.4450†"]]


def test_without_tests_nothing_is_marked(runs):
    md = leaderboard(runs, ["MRR@10"], baseline="plain")
    assert "†" not in md and "plain (baseline)" in md and "**0.7450**" in md
    assert "(baseline)" not in leaderboard(runs, ["MRR@10"])


def test_tests_must_cover_every_cell(runs, tests):
    with pytest.raises(ValueError, match="no test of 'xqg_sum' on MRR@10 \\(ar\\)"):
        leaderboard(runs, ["MRR@10"], tests=tests, by_lang=lambda qid: "ar")
    with pytest.raises(ValueError, match="not the tests' baseline"):
        leaderboard(runs, ["MRR@10"], baseline="mixed", tests=tests)


def test_csv_has_values_p_values_and_flags(runs, tests):
    rows = list(csv.DictReader(io.StringIO(leaderboard(runs, ["MRR@10", "R@100"], tests=tests, fmt="csv"))))
    assert list(rows[0]) == ["run", "baseline", "MRR@10", "MRR@10 p", "MRR@10 significant", "MRR@10 ci low",
                             "MRR@10 ci high", "R@100", "R@100 p", "R@100 significant", "R@100 ci low",
                             "R@100 ci high"]
    assert rows[0] == {"run": "plain", "baseline": "true", "MRR@10": "0.4450", "MRR@10 p": "",
                       "MRR@10 significant": "", "MRR@10 ci low": "", "MRR@10 ci high": "", "R@100": "0.7450",
                       "R@100 p": "", "R@100 significant": "", "R@100 ci low": "", "R@100 ci high": ""}
    # no permutation reaches the observed difference: p = (0 + 1) / (2000 + 1), never 0
    assert rows[1]["MRR@10"] == "0.7450" and float(rows[1]["MRR@10 p"]) == 1 / 2001
    assert 0 < float(rows[1]["MRR@10 ci low"]) < 0.3 < float(rows[1]["MRR@10 ci high"])
    assert rows[1]["MRR@10 significant"] == "true" and rows[2]["MRR@10 significant"] == "false"


def test_json_has_raw_values_and_p_values(runs, tests):
    document = json.loads(leaderboard(runs, ["MRR@10", "R@100"], tests=tests, fmt="json"))
    assert document["baseline"] == "plain" and document["metrics"] == ["MRR@10", "R@100"]
    assert document["test"]["n_permutations"] == 2_000 and document["test"]["seed"] == 42
    plain, better, mixed = document["rows"]
    assert plain == {"run": "plain", "baseline": True,
                     "values": {"MRR@10": pytest.approx(0.445), "R@100": pytest.approx(0.745)}}
    by_key = {(t.run, t.metric): t for t in tests}
    assert mixed["p_values"]["MRR@10"] == by_key["mixed", "MRR@10"].p_value
    assert better["significant"] == {"MRR@10": True, "R@100": True}
    assert set(better) == {"run", "baseline", "values", "p_values", "corrected_p_values", "significant",
                           "differences", "intervals"}
    assert better["differences"]["MRR@10"] == pytest.approx(0.3)
    low, high = better["intervals"]["MRR@10"]
    assert low < 0.3 < high


def test_tex_is_a_booktabs_tabular(runs, tests):
    renamed = [Scores("xqg_sum & 50%", s.per_query, s.mean) if s.name == "xqg_sum" else s for s in runs]
    tests = compare(renamed[0], renamed, ["MRR@10", "R@100"], settings=SignificanceSettings(permutations=500))
    tex = leaderboard(renamed, ["MRR@10", "R@100"], tests=tests, fmt="tex").splitlines()
    assert tex[:4] == [r"\begin{tabular}{lrr}", r"\toprule", r"Run & MRR@10 & R@100 \\", r"\midrule"]
    assert tex[-2:] == [r"\bottomrule", r"\end{tabular}"]
    body = tex[4:-2]
    assert body[0] == r"plain (baseline) & 0.4450 & \textbf{0.7450} \\"
    assert body[1] == r"xqg\_sum \& 50\% & \textbf{0.7450}$^\dagger$ & 0.4450$^\dagger$ \\"
    for line in tex[2:3] + body:  # every row has as many cells as the column spec
        assert line.endswith(r" \\") and len(re.findall(r"(?<!\\)&", line)) == 2
    assert "†" not in "\n".join(tex)


def test_per_language_columns_with_macro_average_and_marks():
    # ar: 10 queries, ja: 30; the better run wins on every ar query only
    qids = [f"ar-{i}" for i in range(10)] + [f"ja-{i}" for i in range(30)]
    plain = hits_scores("plain", {q: 0.0 if q.startswith("ar") else float(i % 2) for i, q in enumerate(qids)})
    better = hits_scores("xqg", {q: 1.0 if q.startswith("ar") else float(i % 2) for i, q in enumerate(qids)})
    runs = [plain, better]
    tests = compare(plain, runs, settings=SignificanceSettings(permutations=2_000), by_lang=lang_of)
    md = leaderboard(runs, ["R@2kt"], tests=tests, by_lang=lang_of).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in md]
    assert cells[0] == ["run", "R@2kt Ar", "R@2kt Ja", "R@2kt Avg"]
    # percent metric: 1 decimal; Avg is the macro average (mean over all queries would be 37.5 / 62.5)
    assert cells[2] == ["plain (baseline)", "0.0", "**50.0**", "25.0"]
    assert cells[3] == ["xqg", "**100.0**†", "**50.0**", "**75.0**†"]

    tex = leaderboard(runs, ["R@2kt"], tests=tests, by_lang=lang_of, fmt="tex").splitlines()
    assert tex[:6] == [r"\begin{tabular}{lrrr}", r"\toprule", r" & \multicolumn{3}{c}{R@2kt} \\",
                       r"\cmidrule(lr){2-4}", r"Run & Ar & Ja & Avg \\", r"\midrule"]
    assert tex[7] == r"xqg & \textbf{100.0}$^\dagger$ & \textbf{50.0} & \textbf{75.0}$^\dagger$ \\"

    document = json.loads(leaderboard(runs, ["R@2kt"], tests=tests, by_lang=lang_of, fmt="json"))
    assert document["languages"] == ["ar", "ja"]
    assert document["rows"][1]["values"]["R@2kt"] == {"ar": 100.0, "ja": 50.0, "Avg": 75.0}
    assert document["rows"][1]["p_values"]["R@2kt"]["ja"] == 1.0
    assert document["rows"][1]["significant"]["R@2kt"] == {"ar": True, "ja": False, "Avg": True}

    # the headline table shows R@kt's own headline (the macro average), tested as such
    headline_tests = compare(plain, runs, settings=SignificanceSettings(permutations=2_000), macro={"R@2kt": lang_of})
    csv_rows = leaderboard(runs, ["R@2kt"], tests=headline_tests, fmt="csv").splitlines()
    test = headline_tests[0]
    assert csv_rows[1:] == ["plain,true,25.0,,,,",
                            f"xqg,false,75.0,{test.p_value!r},true,{test.ci_low!r},{test.ci_high!r}"]
    # the interval is of the macro average, in percent: ar moves by 100 points, ja by 0 -> +50
    assert test.difference == 50.0 and test.ci_low == test.ci_high == 50.0


def test_digits(runs):
    md = leaderboard(runs, ["MRR@10", "R@100"], digits={"MRR@10": 2, "R@100": 3}).splitlines()
    assert [c.strip() for c in md[2].strip("|").split("|")] == ["plain", "0.45", "**0.745**"]
    assert leaderboard(runs, ["MRR@10"], digits=1, fmt="csv").splitlines()[1] == "plain,false,0.4"


def test_render_keeps_its_plain_tables(runs):
    assert render(runs, ["MRR@10"], "csv").splitlines() == ["run,MRR@10", "plain,0.4450", "xqg_sum,0.7450",
                                                            "mixed,0.4450"]
    tex = render(runs, ["MRR@10"], "tex")
    assert tex.startswith(r"\begin{tabular}{lr}") and r"plain & 0.4450 \\" in tex


def test_render_rows_for_any_table():
    assert render_rows(["lang", "queries"], [["ar", 12], ["ja", 3]]).splitlines() == [
        "| lang | queries |", "|------|--------:|", "| ar   | 12      |", "| ja   | 3       |"]
    assert render_rows(["lang", "queries"], [["ar", 12]], fmt="csv") == "lang,queries\nar,12\n"
