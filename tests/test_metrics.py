"""Fast checks of the evaluation metrics and the shipped classifier (CPU, seconds, no training)."""

import numpy as np
import pytest
import torch

from ddpm.classifier import load_classifier, predict
from ddpm.data import load_sample, to_model_range
from ddpm.metrics import class_shares, feature_stats, frechet_distance, inception_score, memorisation, \
    memorisation_threshold, nearest_distances


def _random_stats(rng, d=16, n=200):
    f = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    return feature_stats(f)


def test_fd_of_identical_stats_is_zero():
    mu, s = _random_stats(np.random.default_rng(0))
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-6)


def test_fd_matches_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    v1, v2 = rng.uniform(0.1, 3, 8), rng.uniform(0.1, 3, 8)
    expected = ((mu1 - mu2) ** 2).sum() + (v1 + v2 - 2 * np.sqrt(v1 * v2)).sum()
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-9)


def test_fd_is_symmetric_and_matches_the_textbook_formula():
    rng = np.random.default_rng(2)
    a, b = _random_stats(rng), _random_stats(rng)
    d = frechet_distance(*a, *b)
    assert d > 0
    assert frechet_distance(*b, *a) == pytest.approx(d, rel=1e-8)
    # tr((s1 s2)^(1/2)) as the sum of the square roots of the eigenvalues of s1 s2 (real and >= 0 for PSD
    # s1, s2): another route than the code's symmetric one
    tr_covmean = np.sqrt(np.linalg.eigvals(a[1] @ b[1]).real.clip(0)).sum()
    ref = ((a[0] - b[0]) ** 2).sum() + np.trace(a[1]) + np.trace(b[1]) - 2 * tr_covmean
    assert d == pytest.approx(ref, rel=1e-6)


def test_fd_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_inception_score_bounds():
    one_hot = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(one_hot) == pytest.approx(10.0)
    assert inception_score(one_hot, splits=10) == pytest.approx(10.0)
    same = np.tile(np.random.default_rng(3).dirichlet(np.ones(10)), (50, 1))
    assert inception_score(same) == pytest.approx(1.0)


def test_class_shares_sum_to_one():
    probs = np.random.default_rng(4).dirichlet(np.ones(10), size=123)
    shares = class_shares(probs)
    assert shares.shape == (10,) and shares.sum() == pytest.approx(1.0)
    assert class_shares(np.eye(10)[[3, 3, 7, 3]]).tolist() == [0, 0, 0, 0.75, 0, 0, 0, 0.25, 0, 0]


def test_nearest_distances_brute_force():
    g = torch.Generator().manual_seed(0)
    q, r = torch.rand(7, 5, generator=g), torch.rand(30, 5, generator=g)
    expected = torch.cdist(q.double(), r.double()).min(1).values
    assert torch.allclose(nearest_distances(q, r, batch_size=3).double(), expected, atol=1e-5)


def test_memorisation_copies_and_noise():
    g = torch.Generator().manual_seed(0)
    # sparse binary "digits" on a dark background, as uint8
    train = (torch.rand(500, 28, 28, generator=g) > 0.9).to(torch.uint8) * 255
    test = (torch.rand(200, 28, 28, generator=g) > 0.9).to(torch.uint8) * 255
    assert memorisation(train[:50], train, test) == 1.0
    noise = torch.randint(0, 256, (50, 28, 28), generator=g, dtype=torch.uint8)
    assert memorisation(noise, train, test) == 0.0


def test_memorisation_threshold_is_the_percentile_of_every_test_digit():
    g = torch.Generator().manual_seed(1)
    train = torch.rand(300, 28, 28, generator=g)
    test = torch.rand(1200, 28, 28, generator=g)
    nearest = torch.cdist(test.reshape(1200, -1).double(), train.reshape(300, -1).double()).min(1).values
    assert memorisation_threshold(train, test) == pytest.approx(float(np.percentile(nearest.numpy(), 1.0)), rel=1e-5)
    # so the test digits themselves score 1% by design (12 of 1200 lie under it), in any order
    assert memorisation(test, train, test) == 0.01
    assert memorisation_threshold(train, test.flip(0)) == memorisation_threshold(train, test)


def test_the_threshold_is_computed_once_per_dataset_and_kept_beside_it(tmp_path, monkeypatch):
    import ddpm.evaluate as ev

    g = torch.Generator().manual_seed(2)
    train = (torch.rand(300, 28, 28, generator=g) * 255).to(torch.uint8)
    test = (torch.rand(200, 28, 28, generator=g) * 255).to(torch.uint8)
    calls = []
    monkeypatch.setattr(ev, "memorisation_threshold", lambda *a, **k: calls.append(1) or memorisation_threshold(*a, **k))
    first = ev.cached_threshold(train, test, tmp_path)
    assert first == memorisation_threshold(train, test) and len(calls) == 1
    assert ev.cached_threshold(train, test, tmp_path) == first and len(calls) == 1  # read back, not recomputed
    other = test.clone()
    other[0, 0, 0] ^= 1  # one pixel of other data: the cache must not answer for it
    assert ev.cached_threshold(train, other, tmp_path) == memorisation_threshold(train, other) and len(calls) == 2
    (tmp_path / ev.THRESHOLD_CACHE).write_text("not json")  # a broken cache is recomputed and rewritten
    assert ev.cached_threshold(train, test, tmp_path) == first and len(calls) == 3
    (tmp_path / "a_file").write_text("")
    assert ev.cached_threshold(train, test, tmp_path / "a_file") == first  # a data_dir it cannot write to: still answers


def test_shipped_classifier_reads_the_bundled_sample():
    images, labels = load_sample()
    clf = load_classifier()
    pred = predict(clf, to_model_range(torch.from_numpy(images))).argmax(1).numpy()
    assert (pred == labels).mean() >= 0.97
    # a confident classifier: real digits score an Inception Score near 10 (the yardstick of the targets)
    probs = predict(clf, to_model_range(torch.from_numpy(images))).softmax(1)
    assert inception_score(probs) >= 9.5
    feats = predict(clf, to_model_range(torch.from_numpy(images[:4])), what="features")
    assert feats.shape == (4, 128)


def test_conditional_runs_report_the_asked_digits_and_how_often_they_came():
    from ddpm.evaluate import EvalError, _label_scores, asked_labels
    from ddpm.samplers import random_labels

    assert asked_labels(None, 0, 5) is None and asked_labels(3, 0, 4).tolist() == [3] * 4
    assert asked_labels("random", 7, 6).tolist() == random_labels(7, 6, 10).tolist()
    probs = np.eye(10)[[1, 1, 2, 3]]  # the classifier reads 1, 1, 2, 3
    r = _label_scores(np.array([1, 1, 2, 9]), probs)
    assert r["label_accuracy"] == 0.75 and r["asked_share"][1] == 0.5 and r["asked_share"][9] == 0.25
    with pytest.raises(EvalError, match="one label per sample"):
        _label_scores(np.array([1, 2]), probs)


def test_shards_of_one_run_join_in_sample_order_and_others_are_refused(tmp_path):
    from ddpm.evaluate import EvalError, read_shards
    from ddpm.sample import save_npz

    x = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    save_npz(tmp_path / "b.npz", x[4:], 3, "ddim", 50, 1.0, label="random", first=4)
    save_npz(tmp_path / "a.npz", x[:4], 3, "ddim", 50, 1.0, label="random", first=0)
    joined, facts = read_shards([str(tmp_path / "b.npz"), str(tmp_path / "a.npz")])  # any order on the command line
    assert np.array_equal(joined, x) and facts["first"] == 0 and facts["seed"] == 3
    save_npz(tmp_path / "c.npz", x[5:], 3, "ddim", 50, 1.0, label="random", first=5)
    with pytest.raises(EvalError, match="starts at sample 5, but the shards before it end at 4"):
        read_shards([str(tmp_path / "a.npz"), str(tmp_path / "c.npz")])
    save_npz(tmp_path / "d.npz", x[4:], 4, "ddim", 50, 1.0, label="random", first=4)
    with pytest.raises(EvalError, match="not shards of one run: they differ in seed"):
        read_shards([str(tmp_path / "a.npz"), str(tmp_path / "d.npz")])
