"""Sample-quality metrics as pure functions (numpy / torch, float64 where precision matters).

- Frechet distance between two Gaussians fitted to features (Heusel et al. 2017, the "FID" formula),
- inception score exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016),
- class shares of argmax predictions,
- memorisation: the share of samples closer to their nearest training image than almost every
  real test image is (1st percentile of test-to-train nearest-neighbour distances).
"""
from __future__ import annotations

import numpy as np
import torch


def _f64(a) -> np.ndarray:
    return (a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)).astype(np.float64)


# ---------------------------------------------------------------- Frechet distance

def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> (mean (D,), covariance (D, D)), float64, unbiased covariance."""
    f = _f64(feats)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"feature_stats needs an (N, D) array with N >= 2, got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (negative round-off eigenvalues -> 0)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, s1, mu2, s2) -> float:
    """||mu1 - mu2||^2 + tr(s1) + tr(s2) - 2 tr((s1 s2)^(1/2)).

    tr((s1 s2)^(1/2)) = tr((A s2 A)^(1/2)) with A = s1^(1/2): that matrix is symmetric PSD, so its
    square root comes from eigh, without the complex round-off of a general sqrtm."""
    mu1, mu2, s1, s2 = _f64(mu1), _f64(mu2), _f64(s1), _f64(s2)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    a = _sqrt_psd(s1)
    m = a @ s2 @ a
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
    return max(d, 0.0)


# ---------------------------------------------------------------- classifier-based scores

def _probs(probs) -> np.ndarray:
    p = _f64(probs)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"expected class probabilities or logits of shape (N, C), got {p.shape}")
    return p


def inception_score(probs, splits: int = 1) -> float:
    """exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016), p(y) the mean of the rows; averaged over `splits`
    chunks. 1 when every row is the same; C when rows are one-hot and the C classes equally common.
    ddpm.evaluate scores all N samples as one split (papers often average 10), with the MNIST classifier's
    probabilities, so its ceiling is 10 and it is not comparable with ImageNet Inception Scores."""
    p = _probs(probs)
    if (p < 0).any() or not np.allclose(p.sum(1), 1, atol=1e-4):  # logits would pass the sums below, meaningless
        raise ValueError("the Inception Score takes class probabilities (rows >= 0 summing to 1), not logits: "
                         "apply a softmax first")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be between 1 and N={len(p)}, got {splits}")
    scores = []
    for chunk in np.array_split(p, splits):
        py = chunk.mean(0, keepdims=True)
        # x log(x / y) with 0 log 0 = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(chunk > 0, chunk * (np.log(chunk) - np.log(py)), 0.0).sum(1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores))


def class_shares(probs) -> np.ndarray:
    """Share of argmax predictions per class, (C,), sums to 1. Accepts probabilities or logits."""
    p = _probs(probs)
    return np.bincount(p.argmax(1), minlength=p.shape[1]) / len(p)


# ---------------------------------------------------------------- memorisation

def _flat(x) -> torch.Tensor:
    """Images (N, ...) -> float32 (N, D); uint8 is scaled to [0, 1], floats are kept as they are."""
    t = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    t = t.reshape(len(t), -1)
    return t.float() / 255 if t.dtype == torch.uint8 else t.float()


@torch.inference_mode()
def nearest_distances(queries, refs, batch_size: int = 256) -> torch.Tensor:
    """L2 distance from each query to its nearest reference, (N,), by batched matmul:
    |q - r|^2 = |q|^2 + |r|^2 - 2 q.r (memory: batch_size x len(refs) floats)."""
    q, r = _flat(queries), _flat(refs)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} values per image, references {r.shape[1]}")
    r2 = (r * r).sum(1)
    out = []
    for i in range(0, len(q), batch_size):
        qb = q[i:i + batch_size]
        d2 = (qb * qb).sum(1, keepdim=True) + r2 - 2 * qb @ r.T
        out.append(d2.min(1).values.clamp(min=0).sqrt())
    return torch.cat(out)


def memorisation_threshold(train, test, percentile: float = 1.0) -> float:
    """The `percentile`-th percentile of the test images' distances to their nearest training image.
    All of `test`, not a seeded subset: the threshold is a fact of the data, the same for every run
    (a 1st percentile of 1000 random MNIST test digits strays by about 3% from seed to seed)."""
    d = nearest_distances(test, train)
    return float(np.percentile(d.double().numpy(), percentile))


def memorisation(samples, train, test, percentile: float = 1.0, threshold: float | None = None) -> float:
    """Share of samples whose nearest training image is closer than `threshold` (by default the
    1st percentile of test-to-train distances, so real unseen digits score 0.01 by design).
    All inputs on one scale: uint8 (read as [0, 1]) or floats."""
    if threshold is None:
        threshold = memorisation_threshold(train, test, percentile)
    return float((nearest_distances(samples, train) < threshold).double().mean())
