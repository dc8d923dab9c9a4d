"""Metrics that judge a result against the truth: taggers (ROC, AUC) and generated jets.

Classification metrics take a score per jet (larger = more signal-like) and the true labels
(1 = signal, 0 = background). Labels are read only here, to judge a score that was made without
them.

>>> import numpy as np
>>> from jetgeom_lite.metrics import roc_auc
>>> round(roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])), 3)
0.75
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["RocCurve", "roc_curve", "roc_auc", "AucEstimate", "bootstrap_auc"]


def _score_and_labels(score, labels) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (score, labels) pair: 1-d, same length, finite scores, labels in {0, 1}."""
    score = np.asarray(score, dtype=np.float64)
    labels = np.asarray(labels)
    if score.ndim != 1 or labels.ndim != 1:
        raise ValueError(f"score and labels must be 1-d arrays (one entry per jet); got shapes "
                         f"{score.shape} and {labels.shape}")
    if score.shape != labels.shape:
        raise ValueError(f"score and labels must have the same length; got {score.size} and {labels.size}")
    if not np.all(np.isfinite(score)):
        raise ValueError(f"score contains {int(np.sum(~np.isfinite(score)))} NaN or infinite values; "
                         "drop those jets or fix the scorer")
    if labels.dtype == bool:
        labels = labels.astype(np.int8)
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 (background) or 1 (signal)")
    labels = labels.astype(np.int8)
    n_signal = int(labels.sum())
    if n_signal == 0 or n_signal == labels.size:
        raise ValueError("labels must contain both classes (at least one 0 and one 1) to draw a ROC curve")
    return score, labels


@dataclass(frozen=True)
class RocCurve:
    """A ROC curve, one point per distinct threshold, from the strictest cut to the loosest.

    Attributes
    ----------
    signal_efficiency : ndarray, shape (k,)
        Fraction of signal jets with score >= threshold (true-positive rate).
    background_efficiency : ndarray, shape (k,)
        Fraction of background jets with score >= threshold (false-positive rate).
    thresholds : ndarray, shape (k,)
        The score cuts, decreasing.
    """

    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    thresholds: np.ndarray

    @property
    def background_rejection(self) -> np.ndarray:
        """1 / background efficiency (inf where no background passes), the collider convention."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.background_efficiency


def roc_curve(score, labels) -> RocCurve:
    """ROC curve of a score (larger = more signal-like) against true labels.

    Parameters
    ----------
    score : array_like, shape (n,)
        One finite score per jet.
    labels : array_like, shape (n,)
        1 for signal, 0 for background; both must occur.

    Returns
    -------
    RocCurve
        Efficiencies at every distinct threshold; tied scores form one point.

    Examples
    --------
    >>> curve = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> curve.signal_efficiency.tolist(), curve.background_efficiency.tolist()
    ([0.5, 0.5, 1.0, 1.0], [0.0, 0.5, 0.5, 1.0])
    """
    score, labels = _score_and_labels(score, labels)
    order = np.argsort(-score, kind="stable")
    s, y = score[order], labels[order]
    # One point per distinct threshold: the last index of each run of equal scores.
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.cumsum(y)[last]
    fp = np.cumsum(1 - y)[last]
    return RocCurve(signal_efficiency=tp / y.sum(), background_efficiency=fp / (y.size - y.sum()),
                    thresholds=s[last])


def roc_auc(score, labels) -> float:
    """Area under the ROC curve: P(score of a random signal jet > that of a background jet).

    Computed from ranks (the Mann-Whitney U statistic), ties counted as one half:
    AUC = (sum of signal ranks - n_s (n_s + 1) / 2) / (n_s n_b). 0.5 is a random guess. The score
    is taken as it is: never report max(AUC, 1 - AUC), which would use the labels to pick a sign.

    Examples
    --------
    >>> roc_auc([0.0, 1.0, 2.0], [0, 1, 1])
    1.0
    >>> roc_auc([3.0, 3.0], [0, 1])
    0.5
    """
    score, labels = _score_and_labels(score, labels)
    ranks = rankdata(score)
    n_s = int(labels.sum())
    n_b = labels.size - n_s
    return float((ranks[labels == 1].sum() - n_s * (n_s + 1) / 2) / (n_s * n_b))


@dataclass(frozen=True)
class AucEstimate:
    """An AUC with its bootstrap standard error and 68% interval."""

    auc: float
    std: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.auc:.3f} +- {self.std:.3f}"


def bootstrap_auc(score, labels, n_resamples: int = 200, seed: int = 0) -> AucEstimate:
    """AUC with a bootstrap error: jets are resampled with replacement, classes kept at their size.

    Parameters
    ----------
    score, labels : array_like, shape (n,)
        As for :func:`roc_auc`.
    n_resamples : int
        Number of bootstrap samples (at least 10).
    seed : int
        Seed of the resampling.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.r_[np.zeros(500), np.ones(500)]
    >>> est = bootstrap_auc(rng.normal(labels, 1.0), labels, n_resamples=100)
    >>> 0.7 < est.auc < 0.8 and 0.005 < est.std < 0.03
    True
    """
    score, labels = _score_and_labels(score, labels)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 10:
        raise ValueError(f"n_resamples must be an integer >= 10; got {n_resamples!r}")
    rng = np.random.default_rng(seed)
    signal = np.flatnonzero(labels == 1)
    background = np.flatnonzero(labels == 0)
    values = np.empty(int(n_resamples))
    for k in range(int(n_resamples)):
        # Stratified: each resample keeps the class sizes, so every resample has both classes.
        index = np.r_[rng.choice(signal, signal.size), rng.choice(background, background.size)]
        values[k] = roc_auc(score[index], labels[index])
    low, high = np.percentile(values, [16, 84])
    return AucEstimate(auc=roc_auc(score, labels), std=float(values.std(ddof=1)), low=float(low),
                       high=float(high))
