"""Chapter 04 penalties and the sparse and contractive autoencoders: values worked by hand, finite differences,
closed form against automatic differentiation, shapes, saving, training and bad arguments."""
from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from course_utils.data import make_dataset
from course_utils.models.penalties import (
    encoder_jacobian,
    jacobian_penalty,
    kl_sparsity,
    l1_activity,
    sigmoid_contractive_penalty,
    top_k,
)
from course_utils.models.regularised import ContractiveAutoencoder, SparseAutoencoder, TopK
from course_utils.training import fit_with_budget

SHALLOW = dict(input_shape=(6, 6, 1), latent_dim=8, hidden_units=(), batch_norm=False)
SHALLOW_SIGMOID = dict(SHALLOW, code_activation="sigmoid")
FACTORIES = {
    "l1": lambda: SparseAutoencoder(penalty="l1", weight=1e-2, **SHALLOW_SIGMOID),
    "kl": lambda: SparseAutoencoder(penalty="kl", weight=1e-2, rho=0.1, **SHALLOW_SIGMOID),
    "topk": lambda: SparseAutoencoder(penalty="topk", k=3, **dict(SHALLOW, code_activation="relu")),
    "closed_form": lambda: ContractiveAutoencoder(weight=0.1, jacobian="closed_form", **SHALLOW_SIGMOID),
    "autodiff": lambda: ContractiveAutoencoder(weight=0.1, input_shape=(6, 6, 1), latent_dim=4, hidden_units=(8,),
                                               code_activation="sigmoid", l2=1e-4),
}


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def batch(n=16, shape=(6, 6, 1), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


def test_l1_activity_by_hand():
    codes = np.array([[1.0, -2.0, 0.0], [0.5, 0.0, 0.5]])  # row sums of |h|: 3 and 1
    assert float(l1_activity(codes)) == pytest.approx(2.0)
    assert float(l1_activity(np.zeros((2, 3, 1)))) == 0.0


def test_kl_sparsity_by_hand_zero_at_target_and_positive_elsewhere():
    codes = np.array([[0.1, 0.5], [0.3, 0.5]])  # rho_hat = (0.2, 0.5)
    unit_2 = 0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)  # unit 1 sits on the target: KL = 0
    assert float(kl_sparsity(codes, 0.2)) == pytest.approx(unit_2)
    assert float(kl_sparsity(np.full((3, 4), 0.05), 0.05)) == pytest.approx(0.0, abs=1e-7)
    assert float(kl_sparsity(np.full((3, 4), 0.06), 0.05)) > 0
    assert float(kl_sparsity(np.full((3, 4), 0.04), 0.05)) > 0
    assert np.isfinite(float(kl_sparsity(np.zeros((2, 3)), 0.05)))  # rho_hat clipped away from 0
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        kl_sparsity(codes, 1.0)


def test_top_k_keeps_exactly_k_and_passes_gradient_to_them_only():
    x = tf.constant(np.random.default_rng(1).normal(size=(5, 10)), dtype=tf.float32)
    weights = tf.constant(np.random.default_rng(2).normal(size=(5, 10)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        kept = top_k(x, 3)
        objective = tf.reduce_sum(kept * weights)
    kept, grad = kept.numpy(), tape.gradient(objective, x).numpy()
    mask = kept != 0
    assert (mask.sum(axis=1) == 3).all()
    np.testing.assert_array_equal(np.sort(kept[mask].reshape(5, 3), axis=1), np.sort(x.numpy(), axis=1)[:, -3:])
    np.testing.assert_allclose(grad, np.where(mask, weights.numpy(), 0.0))
    tied = top_k(np.ones((2, 4), "float32"), 2).numpy()
    np.testing.assert_array_equal(tied, [[1, 1, 0, 0], [1, 1, 0, 0]])  # ties go to the lower index, still exactly k
    with pytest.raises(ValueError, match="between 1 and the code size 4"):
        top_k(np.ones((2, 4)), 5)


def test_sigmoid_contractive_penalty_by_hand():
    h = np.array([[0.5, 0.2]])
    kernel = np.array([[1.0, 2.0], [3.0, 0.0]])  # squared column norms: 10 and 4
    assert float(sigmoid_contractive_penalty(h, kernel)) == pytest.approx(0.25 ** 2 * 10 + 0.16 ** 2 * 4)
    with pytest.raises(ValueError, match=r"kernel must be \(D, d\) with d = 2"):
        sigmoid_contractive_penalty(h, np.ones((2, 3)))


def test_closed_form_equals_autodiff_for_one_sigmoid_layer_values_and_gradients():
    model = FACTORIES["closed_form"]()
    x = batch(6)
    kernel = model.encoder.get_layer("code").kernel
    with tf.GradientTape(persistent=True) as tape:
        closed = sigmoid_contractive_penalty(model.encoder(x), kernel)
        autodiff = jacobian_penalty(model.encoder, x)
    assert float(closed) == pytest.approx(float(autodiff), rel=1e-5)
    np.testing.assert_allclose(tape.gradient(autodiff, kernel), tape.gradient(closed, kernel), rtol=1e-4, atol=1e-7)


def test_encoder_jacobian_matches_central_differences_for_two_hidden_layers():
    encoder = keras.Sequential([keras.Input((2, 3), dtype="float64"), keras.layers.Flatten(dtype="float64"),
                                keras.layers.Dense(5, activation="tanh", dtype="float64"),
                                keras.layers.Dense(4, activation="sigmoid", dtype="float64"),
                                keras.layers.Dense(3, dtype="float64")])
    x = np.random.default_rng(3).normal(size=(2, 2, 3))
    jacobian = encoder_jacobian(encoder, x).numpy()
    assert jacobian.shape == (2, 3, 6)
    step, flat = 1e-6, x.reshape(2, 6)
    for i in range(6):
        shift = np.zeros_like(flat)
        shift[:, i] = step
        plus = encoder((flat + shift).reshape(x.shape)).numpy()
        minus = encoder((flat - shift).reshape(x.shape)).numpy()
        np.testing.assert_allclose(jacobian[:, :, i], (plus - minus) / (2 * step), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["closed_form", "kl", "l1", "topk"])
def test_shapes_and_parameter_counts_equal_the_plain_dense_autoencoder(name):
    model = FACTORIES[name]()
    assert model(batch(3)).shape == (3, 6, 6, 1)
    assert model.encoder.output_shape == (None, 8)
    assert model.count_params() == (36 * 8 + 8) + (8 * 36 + 36)  # a penalty adds no weight


def test_deeper_contractive_parameter_count():
    model = FACTORIES["autodiff"]()
    assert model(batch(3)).shape == (3, 6, 6, 1)
    # hidden Dense layers have no bias under batch normalisation, which keeps 4 numbers per unit
    assert model.count_params() == 36 * 8 + (8 * 4 + 4) + 4 * 8 + (8 * 36 + 36) + 2 * 4 * 8


def test_topk_encoder_returns_a_k_sparse_code():
    model = FACTORIES["topk"]()
    assert isinstance(model.encoder.layers[-1], TopK)
    codes = np.asarray(model.encode(batch(10) * 5 - 1))
    assert codes.shape == (10, 8)
    assert (np.count_nonzero(codes, axis=1) <= 3).all()


def test_compute_loss_is_mse_plus_weighted_penalty_plus_weight_decay():
    model = SparseAutoencoder(penalty="l1", weight=0.03, l2=1e-3, **SHALLOW_SIGMOID)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = batch(5)
    codes = 1 / (1 + np.exp(-(x.reshape(5, -1) @ model.encoder.get_layer("code").kernel.numpy()
                               + model.encoder.get_layer("code").bias.numpy())))
    by_hand = (np.mean((np.asarray(model(x)) - x) ** 2) + 0.03 * np.abs(codes).sum(axis=1).mean()
               + 1e-3 * sum(np.square(model.get_layer(n).get_layer(k).kernel.numpy()).sum()
                            for n, k in (("encoder", "code"), ("decoder", "output"))))
    assert float(model.compute_loss(x, x, None, training=False)) == pytest.approx(by_hand, rel=1e-5)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_keras_save_load_round_trip(tmp_path, name):
    model = FACTORIES[name]()
    x = batch(8)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, x, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.encoder.predict(x, verbose=0), model.encoder.predict(x, verbose=0))


@pytest.mark.parametrize("name,penalty", [("l1", "sparsity_penalty"), ("kl", "sparsity_penalty"),
                                          ("topk", "sparsity_penalty"), ("closed_form", "contractive_penalty"),
                                          ("autodiff", "contractive_penalty")])
def test_loss_falls_and_training_and_validation_log_the_same_metrics(name, penalty):
    model = FACTORIES[name]()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = batch(32)
    result = fit_with_budget(model, make_dataset(x, x, batch_size=16, seed=0), epochs=8, progress="none",
                             validation_data=make_dataset(batch(8, seed=1), batch(8, seed=1), shuffle=False))
    names = ["loss", "reconstruction_loss", penalty]
    assert sorted(result.history) == sorted(names + [f"val_{n}" for n in names])
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_penalty_weight_does_what_it_says():
    """Trained on the same data, a heavier L1 weight gives a smaller code norm and a heavier CAE weight a flatter map."""
    x = batch(64)

    def train(model):
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        repeated = np.tile(x, (30, 1, 1, 1))  # 60 steps in one epoch
        model.fit(repeated, repeated, epochs=1, batch_size=32, verbose=0)
        return model

    light, heavy = (train(SparseAutoencoder(penalty="l1", weight=w, **SHALLOW_SIGMOID)) for w in (0.0, 0.1))
    assert float(l1_activity(heavy.encode(x))) < 0.5 * float(l1_activity(light.encode(x)))
    light, heavy = (train(ContractiveAutoencoder(weight=w, jacobian="closed_form", **SHALLOW_SIGMOID)) for w in (0.0, 1.0))
    assert float(jacobian_penalty(heavy.encoder, x)) < 0.5 * float(jacobian_penalty(light.encoder, x))


@pytest.mark.parametrize("make,message", [
    (lambda: SparseAutoencoder(penalty="l2", weight=1.0), "penalty must be one of"),
    (lambda: SparseAutoencoder(penalty="l1"), "needs a weight"),
    (lambda: SparseAutoencoder(penalty="l1", weight=-1.0), "must be >= 0"),
    (lambda: SparseAutoencoder(penalty="kl", weight=1.0, **SHALLOW), "code_activation='sigmoid'"),
    (lambda: SparseAutoencoder(penalty="kl", weight=1.0, rho=0.0, **SHALLOW_SIGMOID), "strictly between 0 and 1"),
    (lambda: SparseAutoencoder(penalty="topk", k=9, **SHALLOW), "k must be between 1 and latent_dim=8"),
    (lambda: ContractiveAutoencoder(weight=1.0, jacobian="numeric"), "jacobian must be one of"),
    (lambda: ContractiveAutoencoder(weight=1.0, jacobian="closed_form", code_activation="sigmoid"), "hidden_units=()"),
    (lambda: ContractiveAutoencoder(weight=1.0, jacobian="closed_form", **SHALLOW), "code_activation='sigmoid'"),
    (lambda: TopK(0), "at least 1"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def _variants_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "variants.py"
    spec = importlib.util.spec_from_file_location("variants_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variants_benchmark_compares_one_architecture():
    """Every overcomplete row of benchmarks/variants.py, at every grid value, has the same weights as plain_1024."""
    script = _variants_script()
    wide = script.build("plain_1024", None)[0].count_params()
    assert wide == 784 * 1024 + 1024 + 1024 * 784 + 784
    for name, (_, _, grid) in script.VARIANTS.items():
        for value in grid:
            model, _ = script.build(name, value)
            assert model.count_params() == (wide if name != "plain_64" else 784 * 64 + 64 + 64 * 784 + 784), name
            assert model.encoder.output_shape == (None, 64 if name == "plain_64" else 1024)


@pytest.mark.filterwarnings("ignore:Even though the `tf.config.experimental_run_functions_eagerly`:UserWarning")
def test_variants_benchmark_quick_run_writes_every_row_and_claim(tmp_path, monkeypatch, eager_tensorflow):
    script = _variants_script()
    monkeypatch.setattr(script, "VARIANTS", {k: (w, p, grid[:1]) for k, (w, p, grid) in script.VARIANTS.items()})
    with pytest.raises(SystemExit):
        script.main(["--quick"])  # a smoke run must name where it writes
    report = script.main(["--quick", "--out", str(tmp_path / "variants")])
    assert list(report["rows"]) == list(script.VARIANTS) and report["quick"]
    for row in report["rows"].values():
        assert all(np.isfinite(row[k]) for k in ("test_mse", "noisy_psnr", "probe_1000", "probe_all", "hoyer",
                                                 "jacobian_norm"))
    text = (tmp_path / "variants.md").read_text()
    assert "not a measurement" in text and text.count("\n- ") == len(script.claims(report))


def test_variants_benchmark_verdicts_need_a_difference_beyond_the_margin():
    verdict = _variants_script().verdict
    assert verdict(0.82, 0.80, "probe_1000") == "holds"
    assert verdict(0.805, 0.80, "probe_1000") == "no clear difference"
    assert verdict(0.78, 0.80, "probe_1000") == "**does not hold here**"
    assert verdict(0.0090, 0.0100, "test_mse", lower=True) == "holds"  # 10 % lower error
    assert verdict(0.0098, 0.0100, "test_mse", lower=True) == "no clear difference"  # 2 %, within the 5 % margin
