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


def test_feature_stats_covariance_is_the_unbiased_one():
    """feature_stats divides by N - 1 (np.cov's default), the estimate FID uses; one feature gives a (1, 1) matrix."""
    f = np.random.default_rng(5).normal(size=(5, 3))
    mu, cov = feature_stats(f)
    centred = f - f.mean(0)
    np.testing.assert_allclose(mu, f.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, centred.T @ centred / 4, rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(f, rowvar=False), rtol=1e-12)
    _, cov1 = feature_stats(f[:, :1])
    assert cov1.shape == (1, 1) and cov1[0, 0] == pytest.approx(f[:, 0].var(ddof=1))


def test_fd_of_few_samples_is_never_below_zero_and_one_sample_is_refused():
    """50 samples of the classifier's 128 features give a covariance of rank 49: tr((s1 s2)^(1/2)) rounds above
    tr(s1), so the formula alone gives an FD of about -0.0004 for a set against itself; a distance reports 0. One
    sample has no covariance (np.cov's NaN would make every FD NaN): refused. IS with one row a split is 1."""
    f = np.random.default_rng(0).normal(size=(50, 128)) * 10
    mu, s = feature_stats(f)
    assert frechet_distance(mu, s, mu, s) == 0.0
    with pytest.raises(ValueError, match="N >= 2"):
        feature_stats(f[:1])
    assert inception_score(np.eye(10), splits=10) == pytest.approx(1.0)  # splits = N is allowed
    for splits in (0, 11):  # more splits than rows would leave empty chunks, and an IS of NaN
        with pytest.raises(ValueError, match="splits must be between 1 and N=10"):
            inception_score(np.eye(10), splits=splits)


def test_fd_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_inception_score_bounds():
    one_hot = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(one_hot) == pytest.approx(10.0)
    assert inception_score(one_hot, splits=10) == pytest.approx(10.0)
    same = np.tile(np.random.default_rng(3).dirichlet(np.ones(10)), (50, 1))
    assert inception_score(same) == pytest.approx(1.0)
    logits = np.log(one_hot * 0.9 + 0.01)  # the classifier's raw output: a number, but no score; refused
    with pytest.raises(ValueError, match="takes class probabilities .* not logits"):
        inception_score(logits)


def test_inception_score_is_the_exp_of_the_mean_kl_per_split():
    # rows [1, 0] and [0.5, 0.5]: p(y) = [0.75, 0.25], KL = ln(4/3) and 0.5 ln(2/3) + 0.5 ln 2; exp of their mean
    kl = [np.log(4 / 3), 0.5 * np.log(2 / 3) + 0.5 * np.log(2)]
    assert inception_score(np.array([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx(np.exp(np.mean(kl)), rel=1e-9)
    halves = np.eye(2)[[0] * 50 + [1] * 50]  # each split holds one class only: p(y) per split, not overall
    assert inception_score(halves) == pytest.approx(2.0) and inception_score(halves, splits=2) == pytest.approx(1.0)
    mixed = np.eye(2)[[0, 1, 0, 0]]  # split 1 two classes equally (IS 2), split 2 one class (IS 1): their mean
    assert inception_score(mixed, splits=2) == pytest.approx(1.5)


def test_class_shares_sum_to_one():
    probs = np.random.default_rng(4).dirichlet(np.ones(10), size=123)
    shares = class_shares(probs)
    assert shares.shape == (10,) and shares.sum() == pytest.approx(1.0)
    assert class_shares(np.eye(10)[[3, 3, 7, 3]]).tolist() == [0, 0, 0, 0.75, 0, 0, 0, 0.25, 0, 0]
    assert class_shares(np.log(probs)).tolist() == shares.tolist()  # logits (any scale) share their argmax


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


def test_copies_of_real_digits_are_all_memorised():
    """A copy lies at distance 0 from its original, though |q|^2 + |r|^2 - 2 q.r rounds a little below 0 in
    float32 for real grey-level digits (the square root would be NaN, and NaN < threshold is False)."""
    images, _ = load_sample()
    train, test = images[:200], images[200:]
    d = nearest_distances(train[:50], train)
    assert torch.isfinite(d).all() and d.max() < 0.05  # rounding; other digits lie over 1 apart
    assert memorisation(train[:50], train, test) == 1.0


def test_uint8_and_unit_float_images_are_one_scale():
    """uint8 pixels are read as value / 255, so uint8 images and the same images as floats in [0, 1] are
    equally far apart (and the memorisation threshold is an L2 distance on [0, 1] pixels)."""
    images, _ = load_sample()
    train, test = images[:200], images[200:]
    as_float = lambda a: torch.as_tensor(a).float() / 255  # noqa: E731
    torch.testing.assert_close(nearest_distances(test, train), nearest_distances(as_float(test), as_float(train)),
                               rtol=1e-5, atol=1e-5)
    assert memorisation_threshold(train, test) == pytest.approx(
        memorisation_threshold(as_float(train), as_float(test)), rel=1e-5)
    assert 1 < memorisation_threshold(train, test) < 28  # L2 on [0, 1] pixels: at most sqrt(784)


def test_evaluate_samples_scores_against_the_test_split_with_a_floor_from_the_train_split(tmp_path, monkeypatch):
    """evaluate_samples run for real, with the shipped classifier and small splits of the bundled digits as the
    reference data: the test digits themselves score FD 0 against the reference, while the floor of N random
    train digits does not; noise scores far above the floor and copies of training digits are memorised."""
    import ddpm.evaluate as ev

    images, labels = load_sample()
    x_train, x_test = torch.as_tensor(images[:200]), torch.as_tensor(images[200:])
    clf = load_classifier()
    monkeypatch.setattr(ev, "reference", lambda data_dir, classifier: (clf, x_train, x_test,
                                                                        torch.as_tensor(labels[200:]).long()))
    score = lambda s: ev.evaluate_samples(s, data_dir=tmp_path)  # noqa: E731
    real = score(x_test)
    assert real["fd"] == pytest.approx(0, abs=1e-3) and real["real_floor_fd"] > 10  # 31
    assert real["n"] == 100 and real["classifier_test_accuracy"] >= 0.97
    assert real["memorised"] == 0.01  # 1 of the 100 test digits is under the 1st percentile by design
    noise = score(torch.randint(0, 256, (50, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8))
    assert noise["fd_ratio"] > 3 and noise["memorised"] == 0.0  # 23
    assert score(x_train[:50])["memorised"] == 1.0
    shifted = (torch.as_tensor(labels[200:]).long() + 1) % 10  # every test label wrong: the accuracy is read off them
    monkeypatch.setattr(ev, "reference", lambda data_dir, classifier: (clf, x_train, x_test, shifted))
    assert score(x_test)["classifier_test_accuracy"] <= 0.03


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


def test_a_classifier_that_does_not_load_is_one_short_line_that_fits_the_mistake(tmp_path, monkeypatch):
    """A typo or a model's weights given as --classifier: check the path (not "retrain", which would overwrite
    the shipped asset), and a count of the tensors that do not fit rather than kilobytes of their names. A
    missing shipped asset: the command that remakes it."""
    from ddpm import classifier, hub

    for path, says in ((tmp_path / "typo.safetensors", "no classifier weights at"),
                       (hub.DEFAULT_WEIGHTS / "model.safetensors", "tensors it does not have"),
                       (hub.DEFAULT_WEIGHTS, "no classifier weights at")):  # a model's folder
        with pytest.raises(classifier.ClassifierLoadError) as e:
            load_classifier(path)
        assert says in str(e.value) and "leave --classifier out for the shipped one" in str(e.value)
        short = str(e.value).replace(str(path), "PATH")  # the path, said twice, is as long as the machine's tmp
        assert len(short) < 250 and "conv_in" not in str(e.value) and "retrain" not in str(e.value)
        # --out PATH makes one only where no file is: the model's weights there would be overwritten
        assert (f"--out {path} makes one" in str(e.value)) == (not path.exists())
    monkeypatch.setattr(classifier, "DEFAULT_PATH", tmp_path / "classifier.safetensors")
    with pytest.raises(classifier.ClassifierLoadError, match="retrain it with:\n  python -m ddpm.classifier"):
        load_classifier(tmp_path / "classifier.safetensors")


def test_conditional_runs_report_the_asked_digits_and_how_often_they_came():
    from ddpm.evaluate import EvalError, _label_scores, asked_labels
    from ddpm.samplers import random_labels

    assert asked_labels(None, 0, 5) is None and asked_labels(3, 0, 4).tolist() == [3] * 4
    assert asked_labels("random", 7, 6).tolist() == random_labels(7, 6, 10).tolist()
    probs = np.eye(10)[[1, 1, 2, 3]]  # the classifier reads 1, 1, 2, 3
    r = _label_scores(np.array([1, 1, 2, 9]), probs)
    assert r["label_accuracy"] == 0.75 and r["asked_share"][1] == 0.5 and r["asked_share"][9] == 0.25
    assert _label_scores(np.array([1, 2]), probs[:2])["asked_share"] == [0, 0.5, 0.5] + [0] * 7  # every digit's
    with pytest.raises(EvalError, match="one label per sample"):
        _label_scores(np.array([1, 2]), probs)


def test_shards_of_one_run_join_in_sample_order_and_others_are_refused(tmp_path):
    from ddpm.evaluate import EvalError, read_shards
    from ddpm.eval_files import save_npz

    x = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    save_npz(tmp_path / "b.npz", x[4:], 3, "ddim", 50, 1.0, label="random", first=4)
    save_npz(tmp_path / "a.npz", x[:4], 3, "ddim", 50, 1.0, label="random", first=0)
    joined, facts = read_shards([str(tmp_path / "b.npz"), str(tmp_path / "a.npz")])  # any order on the command line
    assert np.array_equal(joined, x) and facts["first"] == 0 and facts["seed"] == 3
    save_npz(tmp_path / "c.npz", x[5:], 3, "ddim", 50, 1.0, label="random", first=5)
    with pytest.raises(EvalError, match="starts at sample 5, but the shards before it end at 4"):
        read_shards([str(tmp_path / "a.npz"), str(tmp_path / "c.npz")])
    save_npz(tmp_path / "e.npz", x[3:], 3, "ddim", 50, 1.0, label="random", first=3)  # sample 3 is a.npz's last
    with pytest.raises(EvalError, match="starts at sample 3, but the shards before it already reach sample 3"):
        read_shards([str(tmp_path / "a.npz"), str(tmp_path / "e.npz")])
    save_npz(tmp_path / "d.npz", x[4:], 4, "ddim", 50, 1.0, label="random", first=4)
    with pytest.raises(EvalError, match="not shards of one run: they differ in seed"):
        read_shards([str(tmp_path / "a.npz"), str(tmp_path / "d.npz")])
    # a shard from before the weights' sha256 was recorded joins one that records it, and the run keeps it ...
    save_npz(tmp_path / "f.npz", x[4:], 3, "ddim", 50, 1.0, label="random", first=4, weights_sha256="a" * 64)
    assert read_shards([str(tmp_path / "a.npz"), str(tmp_path / "f.npz")])[1]["weights_sha256"] == "a" * 64
    save_npz(tmp_path / "g.npz", x[:4], 3, "ddim", 50, 1.0, label="random", first=0, weights_sha256="b" * 64)
    with pytest.raises(EvalError, match=r"not shards of one run: they were drawn by other weights"):  # ... not another
        read_shards([str(tmp_path / "g.npz"), str(tmp_path / "f.npz")])


def test_a_hand_made_npz_with_other_arrays_reads_its_samples_and_scalar_facts(tmp_path):
    """An .npz saved by hand beside other arrays (labels, say) still reads: its samples, and as facts only the
    scalars beside them (an array's .item() would refuse the whole file)."""
    from ddpm.eval_files import read_samples

    x = np.zeros((3, 28, 28), np.uint8)
    np.savez(tmp_path / "mine.npz", samples=x, labels=np.array([1, 2, 3]), seed=7)
    samples, facts = read_samples(tmp_path / "mine.npz")
    assert np.array_equal(samples, x) and facts == {"seed": 7}


def test_evaluate_samples_refuses_float_images_and_one_sample_before_loading_anything(monkeypatch):
    """A float .npz (pixels in [0, 1], say) would be scored as black digits, and one sample has no covariance (a
    traceback): both are refused as the input's fault, before the classifier and MNIST load."""
    import re

    import ddpm.evaluate as ev

    monkeypatch.setattr(ev, "reference", lambda *a: pytest.fail("loaded before the samples were checked"))
    for bad, says in ((np.zeros((4, 28, 28), np.float32), "must be uint8 of shape (N, 28, 28), got torch.float32"),
                      (np.zeros((4, 32, 32), np.uint8), "got torch.uint8 (4, 32, 32)"),
                      (np.zeros((1, 28, 28), np.uint8), "need at least 2 samples")):
        with pytest.raises(ev.EvalError, match=re.escape(says)):
            ev.evaluate_samples(bad)


def test_the_real_data_yardsticks_are_the_seeded_draws_the_docstring_names(tmp_path, monkeypatch):
    """evaluate_samples' yardsticks recomputed from the same seeded draws: the floor is the mean (its spread the
    sample std, ddof=1) of floor_draws FDs of N random train digits against the test split, the real IS that of N
    random test digits (not all of them), and the threshold the 1st percentile of each test digit's distance to its
    nearest train digit. N may be every train digit: then, train and test alike, the floor is 0 and no ratio."""
    import ddpm.evaluate as ev

    images, labels = load_sample()
    x_train, x_test = torch.as_tensor(images[:200]), torch.as_tensor(images[200:])
    y_test = torch.as_tensor(labels[200:])
    clf = load_classifier()
    monkeypatch.setattr(ev, "reference", lambda data_dir, classifier: (clf, x_train, x_test, y_test.long()))
    n = 40
    r = ev.evaluate_samples(x_train[:n], data_dir=tmp_path, n_floor_seed=3, floor_draws=3)
    g = torch.Generator().manual_seed(3)
    test_idx = torch.randperm(len(x_test), generator=g)[:n]
    f_test, p_test = ev._scores(clf, x_test)
    floors = [frechet_distance(*feature_stats(ev._scores(clf, x_train[torch.randperm(200, generator=g)[:n]])[0]),
                               *feature_stats(f_test)) for _ in range(3)]
    assert (r["real_floor_fd"], r["real_floor_fd_std"]) == (round(float(np.mean(floors)), 4),
                                                            round(float(np.std(floors, ddof=1)), 4))
    assert r["real_inception_score"] == round(inception_score(p_test[test_idx.numpy()]), 4)
    assert r["memorisation_threshold"] == round(memorisation_threshold(x_train, x_test), 4)
    monkeypatch.setattr(ev, "reference", lambda data_dir, classifier: (clf, x_test, x_test, y_test.long()))
    alike = ev.evaluate_samples(x_test, data_dir=tmp_path / "alike", floor_draws=2)
    assert alike["n"] == len(x_test) and alike["real_floor_fd"] == 0 and alike["fd_ratio"] is None
