"""Fitting the answer decision's logistic confidence model (conversation's domain/confidence.py) on dev."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from conversation_service.domain.confidence import ConfidenceModel, Evidence

if TYPE_CHECKING:  # see dataset.py
    from bench.quality.scoring import Outcome, best_threshold
else:
    from scoring import Outcome, best_threshold

L2 = 1.0  # a little shrinkage: about a hundred questions, four coefficients


def features(evidence: Evidence) -> list[float]:
    """The model's inputs, in ``ConfidenceModel``'s order (after the intercept)."""
    return [evidence.similarity, evidence.support, float(evidence.agreement), float(evidence.cross_lingual)]


def fit(evidence: Sequence[Evidence], right: Sequence[bool], *, steps: int = 5000) -> ConfidenceModel:
    """Logistic regression by gradient descent on standardised inputs, returned on the raw scale."""
    raw = np.array([features(item) for item in evidence], dtype=float)
    labels = np.array(right, dtype=float)
    mean, spread = raw.mean(axis=0), raw.std(axis=0) + 1e-9
    inputs = np.c_[np.ones(len(raw)), (raw - mean) / spread]
    weights = np.zeros(inputs.shape[1])
    for _ in range(steps):
        predicted = 1.0 / (1.0 + np.exp(-inputs @ weights))
        gradient = inputs.T @ (predicted - labels) / len(labels) + L2 * np.r_[0.0, weights[1:]] / len(labels)
        weights -= 0.5 * gradient
    scaled = weights[1:] / spread
    intercept = float(weights[0] - np.sum(scaled * mean))
    return ConfidenceModel(
        intercept=round(intercept, 3),
        similarity=round(float(scaled[0]), 3),
        support=round(float(scaled[1]), 3),
        agreement=round(float(scaled[2]), 3),
        cross_lingual=round(float(scaled[3]), 3),
    )


def refit_outcomes(outcomes: Sequence[Outcome], model: ConfidenceModel) -> list[Outcome]:
    """The outcomes with their confidence recomputed by ``model`` (those without evidence keep theirs)."""
    return [item.rescored(model.probability(item.evidence)) if item.evidence is not None else item for item in outcomes]


def fit_lines(outcomes: Sequence[Outcome], target: float) -> list[str]:
    """Fit on the outcomes that carry evidence and print the model and the threshold it gives."""
    usable = [item for item in outcomes if item.evidence is not None]
    right = [item.question.answerable and bool(item.would_be) and item.would_be[0] in item.question.expected
             for item in usable]  # fmt: skip
    model = fit([item.evidence for item in usable if item.evidence is not None], right)
    best = best_threshold(refit_outcomes(usable, model), target)
    lines = [f"fitted on {len(usable)} dev questions ({sum(right)} with a right first page): {model}"]
    if best is None:
        lines.append(f"no threshold reaches precision {target:.2f}")
    else:
        lines.append(
            f"precision >= {target:.2f}: min_confidence {best.threshold:.3f}, coverage {best.coverage or 0:.2f}, "
            f"abstention on unanswerable {best.abstention or 0:.2f}"
        )
    return lines
