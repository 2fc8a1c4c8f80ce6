"""Settings chosen on dev topics, reported on held-out ones: nested cross-validation over the folds.

For a tuned sweep and arm, the candidates are that sweep's points of that arm. For each question
fold f, the candidate with the best select metric on the topics of the OTHER folds (dev) is chosen,
and its ranking of fold f's topics (held out) goes into the tuned run; the folds' rankings are merged
into one TREC run, scored and tested like any other run. The folds are question folds, so the
translations of one question are never split between dev and held-out topics. A choice at the
edge of the candidates' α range is flagged: the grid may need extending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from xqg_pyserini.evaluate.significance import language_means
from xqg_pyserini.experiments.grid import PLAIN, Grid, GridPoint
from xqg_pyserini.evaluate.measures import Scores


@dataclass(frozen=True)
class Tuned:
    """One tuned run: the candidate chosen for each held-out fold."""

    sweep: str
    arm: str
    metric: str
    choices: dict[int, str]  # fold -> tag chosen on the other folds
    dev_scores: dict[int, float]  # fold -> the chosen candidate's dev score
    edges: list[int]  # folds whose choice has the smallest or largest alpha of the candidates

    @property
    def tag(self) -> str:
        return f"tuned-{self.sweep}-{self.arm}"


def dev_score(scores: Scores, metric: str, qids: Sequence[str], lang_of, macro: bool) -> float:
    """The select metric on the dev topics only (a macro average over their languages for R@kt)."""
    subset = {q: scores.per_query[metric][q] for q in qids if q in scores.per_query[metric]}
    if not subset:
        return float("-inf")
    if macro:
        only = Scores(scores.name, {metric: subset}, {metric: scores.mean[metric]})
        return language_means(only, metric, lang_of)["Avg"]
    return sum(subset.values()) / len(subset)


def tune(grid: Grid, scores: Mapping[str, Scores], metric: str, macro: bool, lang_of) -> list[Tuned]:
    """Every tuned (sweep, arm) of the config, its choices per fold."""
    tuned = []
    folds = grid.data.folds
    for sweep in grid.config.tune:
        for arm in dict.fromkeys(grid.points[t].arm for t in grid.sweeps[sweep]):
            if arm == PLAIN:
                continue
            candidates = [t for t in grid.sweeps[sweep] if grid.points[t].arm == arm and t in scores]
            choices, chosen_scores = {}, {}
            for fold in folds:
                dev = [q for q in grid.data.topics if grid.data.fold_of_topic.get(q) != fold]
                by_tag = {t: dev_score(scores[t], metric, dev, lang_of, macro) for t in candidates}
                best = max(candidates, key=lambda t: by_tag[t])  # ties: the first in sweep order
                choices[fold], chosen_scores[fold] = best, by_tag[best]
            tuned.append(Tuned(sweep, arm, metric, choices, chosen_scores,
                               _edges(choices, [grid.points[t] for t in candidates])))
    return tuned


def _edges(choices: dict[int, str], candidates: list[GridPoint]) -> list[int]:
    alphas = sorted({p.alpha for p in candidates})
    if len(alphas) < 3:
        return []
    alpha_of = {p.tag: p.alpha for p in candidates}
    return [fold for fold, tag in choices.items() if alpha_of[tag] in (alphas[0], alphas[-1])]
