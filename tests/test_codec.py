"""Chapter 07's learned codec: quantisers, the factorised entropy model and the rate-distortion autoencoder."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils.models.codec import (
    FactorizedEntropyModel,
    RateDistortionCodec,
    conv_codec,
    dense_codec,
    initialise_from_pca,
    pca_basis,
    quantise,
    refine_latents,
)


def _blocky_images(n: int, seed: int = 0) -> np.ndarray:
    """Images of 7x7 random grey levels, each a 4x4 block: (n, 28, 28, 1) in [0, 1]."""
    blocks = np.random.default_rng(seed).uniform(size=(n, 7, 7, 1)).astype("float32")
    return np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)


def _shaped_entropy_model(channels: int = 3, seed: int = 0) -> FactorizedEntropyModel:
    """An entropy model with random (not initial) weights, so each channel has its own skewed density."""
    model = FactorizedEntropyModel(channels, filters=(3, 3), init_scale=4.0)
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(weight.numpy() + rng.normal(scale=0.8, size=weight.shape).astype("float32"))
    return model


def _numpy_cdf(model: FactorizedEntropyModel, x: np.ndarray) -> np.ndarray:
    """The cdf of every channel at x (n,), from the weights with NumPy: (channels, n)."""
    logits = np.broadcast_to(x.astype("float64"), (model.channels, 1, len(x)))
    for i, matrix in enumerate(model.matrices):
        logits = np.log1p(np.exp(matrix.numpy().astype("float64"))) @ logits + model.biases[i].numpy()
        if i < len(model.factors):
            logits = logits + np.tanh(model.factors[i].numpy()) * np.tanh(logits)
    return 1.0 / (1.0 + np.exp(-logits[:, 0, :]))


def test_noise_quantiser_adds_seeded_uniform_noise_of_mean_zero():
    y = np.linspace(-3.0, 3.0, 20_000).astype("float32")
    noise = quantise(y, "noise", seed=1).numpy() - y
    assert noise.min() >= -0.5 and noise.max() <= 0.5
    assert abs(noise.mean()) < 0.01 and noise.var() == pytest.approx(1 / 12, rel=0.03)
    np.testing.assert_array_equal(quantise(y, "noise", seed=1).numpy(), quantise(y, "noise", seed=1).numpy())


def test_round_is_exact_and_ste_rounds_forward_with_identity_gradient():
    y = tf.constant([-2.7, -0.4, 0.49, 0.51, 1.5, 3.2])
    np.testing.assert_array_equal(quantise(y, "round").numpy(), np.round(y.numpy()))
    with tf.GradientTape() as tape:
        tape.watch(y)
        out = quantise(y, "ste")
        loss = tf.reduce_sum(out * tf.constant([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
    np.testing.assert_array_equal(out.numpy(), np.round(y.numpy()))
    np.testing.assert_allclose(tape.gradient(loss, y).numpy(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


def test_quantise_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of 'noise', 'ste', 'round', got 'floor'"):
        quantise([0.3], "floor")


def test_entropy_model_likelihood_is_the_cdf_difference_and_sums_to_one():
    model = _shaped_entropy_model()
    y = np.array([[-2.3, 0.0, 1.7], [4.0, -0.6, 0.2]], dtype="float32")  # (2, channels)
    expected = (_numpy_cdf(model, y.ravel() + 0.5) - _numpy_cdf(model, y.ravel() - 0.5))  # (channels, 6)
    expected = expected[np.tile(np.arange(3), 2), np.arange(6)].reshape(2, 3)  # each value under its channel
    np.testing.assert_allclose(model.likelihood(y).numpy(), expected, rtol=1e-4, atol=1e-7)
    integers = np.arange(-300, 301, dtype="float32")[:, None].repeat(3, axis=1)  # (601, channels)
    np.testing.assert_allclose(model.likelihood(integers).numpy().sum(axis=0), 1.0, atol=1e-5)


def test_entropy_model_cdf_is_monotone():
    model = _shaped_entropy_model(seed=3)
    logits = model._logits_at(np.linspace(-50.0, 50.0, 2001))  # (channels, 2001)
    assert (np.diff(logits, axis=1) >= 0).all()


def test_pmf_table_rows_sum_to_one_and_match_the_likelihood_at_integers():
    model = _shaped_entropy_model()
    pmf, offsets = model.pmf_table(tail_mass=1e-6)
    assert pmf.dtype == np.float64 and offsets.dtype == np.int32 and pmf.shape[0] == 3
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-12)
    symbols = offsets[None, :] + np.arange(pmf.shape[1])[:, None]  # (L, channels)
    likelihood = model.likelihood(symbols.astype("float32")).numpy().T  # (channels, L)
    np.testing.assert_allclose(pmf[:, 1:-1], likelihood[:, 1:-1], rtol=1e-3, atol=1e-9)
    ends = np.maximum(pmf[:, [0, -1]], model.likelihood_bound)  # likelihood() floors tiny probabilities
    assert (ends >= likelihood[:, [0, -1]] * (1 - 1e-3)).all()  # the ends also carry the tails
    outside = _numpy_cdf(model, offsets - 0.5)[[0, 1, 2], [0, 1, 2]]  # mass below each support
    assert (outside <= 1e-6).all()


def test_bits_are_minus_log2_of_the_pmf_of_the_rounded_symbols():
    model = _shaped_entropy_model(seed=1)
    pmf, offsets = model.pmf_table()
    y = np.random.default_rng(0).normal(scale=2.0, size=(4, 5, 5, 3)).astype("float32")
    symbols = np.clip(np.round(y), offsets, offsets + pmf.shape[1] - 1).astype("int64")  # (4, 5, 5, 3)
    table = -np.log2(pmf[np.arange(3), symbols - offsets])  # (4, 5, 5, 3)
    np.testing.assert_allclose(model.bits(symbols.astype("float32")).numpy(), table.sum(axis=(1, 2, 3)), rtol=1e-4)


def test_entropy_model_rejects_wrong_channels_and_arguments():
    with pytest.raises(ValueError, match="must have 3 channels, got shape"):
        FactorizedEntropyModel(3).likelihood(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="channels and every filter count must be >= 1"):
        FactorizedEntropyModel(0)
    with pytest.raises(ValueError, match="tail_mass is a probability"):
        FactorizedEntropyModel(2).pmf_table(tail_mass=0.0)


def _tiny_codec(lmbda: float, seed: int = 0) -> RateDistortionCodec:
    keras.utils.set_random_seed(seed)
    model = dense_codec(latent_dim=8, hidden_units=(64,), lmbda=lmbda, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


def test_codec_shapes_and_loss_falls_on_tiny_data():
    x = _blocky_images(64)
    model = _tiny_codec(0.01)
    assert model.encode_latents(x[:2]).shape == (2, 1, 1, 8) and model(x[:2]).shape == (2, 28, 28, 1)
    before = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    history = model.fit(x, batch_size=32, epochs=40, verbose=0).history
    assert set(history) == {"loss", "bpp", "mse", "psnr"}
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    after = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    assert after["loss"] < before["loss"]
    assert after["loss"] == pytest.approx(after["bpp"] + 0.01 * after["mse"], rel=1e-5)
    mse_01 = np.mean((model.predict(x, verbose=0) - x) ** 2, axis=(1, 2, 3))
    assert after["mse"] == pytest.approx(mse_01.mean() * 255**2, rel=1e-4)
    assert after["psnr"] == pytest.approx(np.mean(-10 * np.log10(mse_01)), rel=1e-4)


@pytest.mark.parametrize("decoder_quantiser", ["none", "ste", "noise"])
def test_training_decoder_sees_the_latents_its_quantiser_names(decoder_quantiser):
    x = _blocky_images(8)
    model = dense_codec(latent_dim=4, hidden_units=(8,), decoder_quantiser=decoder_quantiser, seed=0)
    model.encoder.get_layer("linear").set_weights([np.full((784, 4), 0.01, "float32"), np.full(4, 0.3, "float32")])
    latents = model.encode_latents(x)  # (8, 1, 1, 4), fractional: rounding changes them
    decoded = {mode: np.asarray(model.decode_latents(y)) for mode, y in
               (("none", latents), ("ste", tf.round(latents)))}
    model.compute_loss(x, training=True)
    mse = float(model.trackers["mse"].result())
    errors = {mode: float(np.mean((d - x) ** 2) * 255**2) for mode, d in decoded.items()}
    if decoder_quantiser == "noise":  # neither the latents nor their rounding: a noisy draw
        assert all(mse != pytest.approx(e, rel=1e-6) for e in errors.values())
    else:  # "none" trains the decoder on unquantised latents (quantising at test time only), "ste" on rounded ones
        assert mse == pytest.approx(errors[decoder_quantiser], rel=1e-5)


def test_larger_lambda_buys_lower_error_with_more_bits():
    blocks = np.random.default_rng(1).uniform(size=(256, 2, 2, 1)).astype("float32")
    x = np.repeat(np.repeat(blocks, 14, axis=1), 14, axis=2)  # four grey levels per image
    results = {}
    for lmbda in (1e-6, 1e-2):  # both start from the same PCA transform coder
        keras.utils.set_random_seed(0)
        model = initialise_from_pca(dense_codec(latent_dim=4, hidden_units=(32,), lmbda=lmbda, seed=0), x, step=0.2)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        model.fit(x, batch_size=32, epochs=20, verbose=0)
        results[lmbda] = model.evaluate(x, batch_size=256, verbose=0, return_dict=True)
    assert results[1e-2]["bpp"] > 1.2 * results[1e-6]["bpp"]
    assert results[1e-2]["mse"] < 0.1 * results[1e-6]["mse"]


def test_pca_initialised_codec_is_pca_transform_coding():
    x = _blocky_images(300, seed=3)
    model = initialise_from_pca(dense_codec(latent_dim=12, hidden_units=(16,)), x[:200], step=0.3)
    flat = x.reshape(len(x), -1).astype(np.float64)
    mean = flat[:200].mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(flat[:200], rowvar=False))  # ascending eigenvalues
    axes = vectors[:, ::-1][:, :12].T  # (12, 784) principal axes
    symbols = np.round((flat[200:] - mean) @ axes.T / 0.3)  # (100, 12)
    expected = np.clip(symbols * 0.3 @ axes + mean, 0.0, 1.0).reshape(-1, 28, 28, 1)
    np.testing.assert_allclose(model.predict(x[200:], verbose=0), expected, atol=1e-4)
    with pytest.raises(ValueError, match="step is the quantiser step"):
        initialise_from_pca(model, x, step=0.0)


def test_a_shared_pca_basis_starts_the_same_codec():
    """The benchmark computes the basis once for every lambda: the same start as computing it per codec."""
    x = _blocky_images(200, seed=4)
    codecs = []
    for basis in (None, pca_basis(x, 6)):
        keras.utils.set_random_seed(0)  # the same initial MLP weights
        codecs.append(initialise_from_pca(dense_codec(latent_dim=6, hidden_units=(8,)), x, step=0.3, basis=basis))
    for a, b in zip(*(codec.get_weights() for codec in codecs), strict=True):
        np.testing.assert_array_equal(a, b)


def _rounded_rd_loss(model: RateDistortionCodec, images: np.ndarray, latents: np.ndarray) -> np.ndarray:
    """Each image's real cost with rounded latents, bpp + lmbda * MSE(0-255): (n,)."""
    rounded = np.round(latents)
    bpp = np.asarray(model.entropy_model.bits(rounded)) / model.pixels
    mse = np.mean((np.asarray(model.decode_latents(rounded)) - images) ** 2, axis=(1, 2, 3)) * 255**2
    return bpp + model.lmbda * mse


def test_refinement_recovers_what_a_poor_encoder_loses_for_every_image():
    x = _blocky_images(240, seed=5)
    model = initialise_from_pca(dense_codec(latent_dim=12, hidden_units=(16,), lmbda=1e-3), x[:200], step=0.5)
    test = x[200:]
    pca = _rounded_rd_loss(model, test, np.asarray(model.encode_latents(test)))  # PCA transform coding's cost
    linear = model.encoder.get_layer("linear")
    linear.set_weights([w * 0.6 for w in linear.get_weights()])  # a poor encoder: every latent shrunk by 40 %
    poor = np.asarray(model.encode_latents(test))  # (40, 1, 1, 12)
    refined = refine_latents(model, test, poor, steps=100, learning_rate=0.05, seed=0, batch_size=16)
    before, after = _rounded_rd_loss(model, test, poor), _rounded_rd_loss(model, test, refined)
    assert np.all(after < before)  # each image's own cost falls, through the unchanged decoder
    assert after.mean() - pca.mean() < 0.05 * (before.mean() - pca.mean())  # nearly all of the loss recovered
    np.testing.assert_array_equal(refine_latents(model, test, poor, steps=100, learning_rate=0.05, seed=0,
                                                 batch_size=16), refined)  # seeded: the same bytes on every run
    np.testing.assert_array_equal(refine_latents(model, test, poor, steps=0), poor)


def test_one_refinement_step_moves_every_latent_by_the_learning_rate():
    """Adam's first step is learning_rate * sign(gradient) per coordinate (bias-corrected m / sqrt(v))."""
    x = _blocky_images(6, seed=6)
    model = _tiny_codec(0.01)
    y0 = np.asarray(model.encode_latents(x))
    moved = np.abs(refine_latents(model, x, y0, steps=1, learning_rate=0.125) - y0)
    np.testing.assert_allclose(moved[moved > 1e-6], 0.125, rtol=1e-4)
    assert np.mean(moved > 1e-6) > 0.9


def test_refined_bytes_decode_with_the_plain_codec_of_the_same_model():
    from course_utils.compression import LearnedCodec

    model = _tiny_codec(0.01)
    x = _blocky_images(5, seed=7)
    refining = LearnedCodec(model, refine_steps=20, refine_rate=0.1)
    stream = refining.compress(x)
    assert stream != LearnedCodec(model).compress(x)  # the refined symbols differ...
    np.testing.assert_array_equal(LearnedCodec(model).decompress(stream), refining.decompress(stream))  # ...same format
    np.testing.assert_array_equal(LearnedCodec(model).decompress(stream),
                                  np.asarray(model.decode_latents(refining.quantise(x).astype("float32"))))
    for steps in (-1, 2.5):
        with pytest.raises(ValueError, match="refine_steps must be a whole number >= 0"):
            LearnedCodec(model, refine_steps=steps)
    with pytest.raises(ValueError, match="refine_steps needs the model's lmbda"):
        LearnedCodec(keras.Model.__new__(_LatentsOnly), refine_steps=5)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        refine_latents(model, x, steps=1, learning_rate=0.0)


def test_refinement_defaults_are_the_benchmarks_choice():
    import inspect

    from course_utils.compression import LearnedCodec

    defaults = {k: p.default for k, p in inspect.signature(refine_latents).parameters.items()}
    refine = _compression_script().REFINE
    assert (defaults["steps"], defaults["learning_rate"], defaults["seed"]) == (
        refine["steps"], refine["learning_rate"], refine["seed"])
    assert inspect.signature(LearnedCodec).parameters["refine_rate"].default == refine["learning_rate"]


class _LatentsOnly(keras.Model):
    """Has what LearnedCodec needs to code, but no lmbda or decoder to refine with."""

    encode_latents = decode_latents = entropy_model = None


def test_conv_codec_latents_are_a_quarter_of_the_image():
    model = conv_codec(latent_channels=6, filters=8, lmbda=0.05)
    x = _blocky_images(3)
    assert model.encode_latents(x).shape == (3, 7, 7, 6)
    out = model.decode_latents(np.round(model.encode_latents(x)))
    assert out.shape == (3, 28, 28, 1) and float(np.min(out)) >= 0.0 and float(np.max(out)) <= 1.0


def test_codec_keras_round_trip_keeps_outputs_and_tables(tmp_path):
    x = _blocky_images(32, seed=2)
    model = _tiny_codec(0.05)
    model.fit(x, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "codec.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, RateDistortionCodec) and loaded.lmbda == 0.05
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    for a, b in zip(model.entropy_model.pmf_table(), loaded.entropy_model.pmf_table()):
        np.testing.assert_array_equal(a, b)


def test_codec_rejects_bad_parts_and_hyperparameters():
    encoder = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(784), keras.layers.Reshape((28, 28, 1))])
    with pytest.raises(ValueError, match=r"latents \(batch, h, w, c\)"):
        RateDistortionCodec(encoder, decoder)
    with pytest.raises(ValueError, match="lmbda weighs the distortion"):
        dense_codec(lmbda=0.0)
    with pytest.raises(ValueError, match="decoder_quantiser must be one of"):
        dense_codec(decoder_quantiser="round")


def _compression_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "compression.py"
    spec = importlib.util.spec_from_file_location("compression_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rd_curve_keeps_only_points_that_improve_on_cheaper_ones():
    from course_utils.compression import rd_curve

    points = [{"bpp_payload": r, "psnr": q} for r, q in ((0.4, 22.0), (0.1, 18.0), (0.3, 21.5), (0.2, 21.9))]
    assert rd_curve(points, "bpp_payload", "psnr") == ([0.1, 0.2, 0.4], [18.0, 21.9, 22.0])


def test_compression_benchmark_bd_rates_read_each_anchors_own_rate():
    script = _compression_script()
    quality = [20.0, 23.0, 26.0, 29.0, 32.0]
    jpeg = [{"bpp_payload": r, "bpp_file": 4 * r, "psnr": q, "ssim": q / 40} for r, q in zip((1, 2, 3, 4, 5), quality)]
    learned = [dict(p, bpp_payload=p["bpp_payload"] / 2) for p in jpeg]
    bd = script.bd_rates({"learned": learned, "jpeg": jpeg, "webp": jpeg, "pca": learned}, "learned")
    for quality_name in ("psnr", "ssim"):
        assert bd[quality_name]["jpeg_payload"] == pytest.approx(-50.0)
        assert bd[quality_name]["jpeg_file"] == pytest.approx(-87.5)
        assert bd[quality_name]["pca"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.filterwarnings("ignore:Even though the `tf.config.experimental_run_functions_eagerly`:UserWarning")
def test_compression_benchmark_quick_run_writes_every_curve(tmp_path, monkeypatch, eager_tensorflow):
    script = _compression_script()
    for name, values in (("JPEG_QUALITIES", (10, 30, 50, 90)), ("WEBP_QUALITIES", (10, 30, 50, 90)),
                         ("PCA_STEPS", (0.5, 0.3, 0.2, 0.1)), ("PCA_COMPONENTS", (16, 32)),
                         ("LAMBDAS", (0.001, 0.004, 0.016, 0.064)), ("REFINE", {"steps": 5, "learning_rate": 0.05, "seed": 0}),
                         ("CONTEXT", {"slices": [8, 8, 16], "hidden_units": 16, "epochs": 2, "seconds": 60.0,
                                      "batch_size": 64, "learning_rate": 3e-3}),
                         ("DESIGN", {"builder": "dense_codec",  # the wiring, not the model: a small one is quicker
                                     "kwargs": {"latent_dim": 32, "hidden_units": [32], "decoder_quantiser": "noise"}})):
        monkeypatch.setattr(script, name, values)
    with pytest.raises(SystemExit):
        script.main(["--quick"])  # a smoke run must name where it writes
    report = script.main(["--quick", "--out", str(tmp_path)])
    assert report["quick"] and set(report["curves"]) == {*script.LEARNED, "jpeg", "webp", "pca"}
    for method in report["curves"]:
        assert len(report["curves"][method]) == 4
        assert all(set(p) == {"param", "bpp_payload", "bpp_file", "psnr", "ssim"} for p in report["curves"][method])
    for a, b in zip(report["curves"]["learned"], report["curves"]["learned_context"], strict=True):
        assert (a["psnr"], a["ssim"]) == (b["psnr"], b["ssim"]) and a["bpp_payload"] != b["bpp_payload"]  # same symbols
    for a, b in zip(report["curves"]["learned_context"], report["curves"]["learned_refined_context"], strict=True):
        assert (a["psnr"], a["bpp_payload"]) != (b["psnr"], b["bpp_payload"])  # other symbols: refined
    assert set(report["bd_rate"]) == set(script.LEARNED)
    assert all(set(bd["psnr"]) == set(script.ANCHORS) for bd in report["bd_rate"].values())
    assert set(report["targets"]) == {*script.TARGETS, "training_time"}
    for anchor in script.TARGETS:  # judged on the best curve, the others reported beside it
        target = report["targets"][anchor]
        assert target["measured"] == report["bd_rate"][script.BEST]["psnr"][anchor]
        assert target["learned_psnr"] == report["bd_rate"]["learned"]["psnr"][anchor]
    assert all(r["refined_encode_and_decode_seconds"] > 0 for r in report["training"])
    assert all(r["context"]["epochs_run"] == 1 and r["context"]["slices"] == [8, 8, 16] for r in report["training"])
    assert report["training_seconds_total"] == pytest.approx(
        sum(r["seconds"] + r["context"]["seconds_with_quantising"] for r in report["training"]))
    assert len(report["training"]) == 4 and set(report["pca"]["chosen"].values()) <= {16, 32}
    assert "not a measurement" in (tmp_path / "compression.md").read_text()
    assert (tmp_path / "compression.json").exists()


def test_chapter_claims_about_the_context_model_hold_in_the_committed_run():
    """Chapter 07's text on refinement and the context model, held to benchmarks/results/compression.json."""
    import json
    from pathlib import Path

    report = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "compression.json")
                        .read_text(encoding="utf-8"))
    curves, bd, design = report["curves"], report["bd_rate"], report["design"]["context"]
    assert report["data"]["train"] == 54000 and design["slices"] == [32] * 16 and design["seconds"] == 20
    lambdas = [p["param"] for p in curves["learned"]]

    def savings(plain: str, context: str) -> list[float]:
        return [100 * (1 - b["bpp_payload"] / a["bpp_payload"]) for a, b in zip(curves[plain], curves[context],
                                                                                strict=True)]

    for a, b in zip(curves["learned"], curves["learned_context"], strict=True):  # the same symbols, other bits
        assert (a["psnr"], a["ssim"]) == (b["psnr"], b["ssim"])
    encoder = savings("learned", "learned_context")
    assert 1 <= encoder[0] <= 3  # "about 2 % at the lowest lambda"
    assert all(11.5 <= s <= 13.5 for s, lmbda in zip(encoder, lambdas) if lmbda >= 0.0017)  # "12-13 %"
    webp = [round(bd[name]["psnr"]["webp"]) for name in ("learned", "learned_context", "learned_refined_context")]
    assert webp == [-42, -49, -52]  # "about -42 % ... about -49 % ... about -52 %"
    refined = savings("learned_context", "learned_refined_context")  # refined for the context model, coded with it
    gain = [b["psnr"] - a["psnr"] for a, b in zip(curves["learned_context"], curves["learned_refined_context"],
                                                  strict=True)]
    assert 1.3 <= gain[-1] <= 1.7 and 1 <= refined[-1] <= 3  # "about 1.5 dB, for 2 % fewer bits" at the top
    middle = [i for i, lmbda in enumerate(lambdas) if 0.0017 <= lmbda <= 0.004]
    assert middle and all(10.5 <= refined[i] <= 13.5 and -0.3 <= gain[i] <= 0 for i in middle)  # "11-13 %, ..."
    for record in report["training"]:  # "about 25 s per lambda ... on top of the codec's two minutes"
        assert 20 <= record["context"]["seconds_with_quantising"] <= 30 and 100 <= record["seconds"] <= 140
        assert 240 <= record["refined_encode_and_decode_seconds"] <= 330  # "about 4.5 minutes per lambda"


def test_set_logistic_gives_each_channel_a_logistic_density():
    model = FactorizedEntropyModel(2)
    model.set_logistic(np.array([0.5, 8.0]))
    x = np.linspace(-20.0, 20.0, 9)
    expected = 1.0 / (1.0 + np.exp(-x[None, :] / np.array([[0.5], [8.0]])))  # (2, 9)
    np.testing.assert_allclose(_numpy_cdf(model, x), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="scales must be 2 positive numbers"):
        model.set_logistic(np.array([1.0, 0.0]))


def test_bytes_decode_to_the_same_images_in_a_new_process(tmp_path):
    from course_utils.compression import LearnedCodec, digest_in_new_process, images_digest

    model = _tiny_codec(0.01)
    x = _blocky_images(4)
    codec = LearnedCodec(model)
    (tmp_path / "images.bin").write_bytes(codec.compress(x))
    model.save(tmp_path / "codec.keras")
    here = images_digest(codec.decompress((tmp_path / "images.bin").read_bytes()))
    assert digest_in_new_process(tmp_path / "codec.keras", tmp_path / "images.bin") == here
    with pytest.raises(RuntimeError, match="decoding in a new process failed"):
        digest_in_new_process(tmp_path / "codec.keras", tmp_path / "missing.bin")


def test_context_coded_bytes_decode_to_the_same_images_in_a_new_process(tmp_path):
    from course_utils.compression import LearnedCodec, digest_in_new_process, images_digest
    from course_utils.models.context import fit_context_model

    model = _tiny_codec(0.01)
    model.fit(_blocky_images(256, seed=1), batch_size=32, epochs=2, verbose=0)
    symbols = LearnedCodec(model).quantise(_blocky_images(300, seed=2)).reshape(300, -1)  # (300, 8)
    context = fit_context_model(symbols[:250], symbols[250:], [4, 4], hidden_units=16, epochs=2, seed=0)[0]
    codec = LearnedCodec(model, context=context)
    (tmp_path / "images.bin").write_bytes(codec.compress(_blocky_images(20, seed=3)))
    model.save(tmp_path / "codec.keras")
    context.save(tmp_path / "context.keras")
    here = images_digest(codec.decompress((tmp_path / "images.bin").read_bytes()))
    assert digest_in_new_process(tmp_path / "codec.keras", tmp_path / "images.bin",
                                 context_path=tmp_path / "context.keras") == here
    with pytest.raises(RuntimeError, match="another fitted or trained model"):  # the tables cannot read it
        digest_in_new_process(tmp_path / "codec.keras", tmp_path / "images.bin")


def test_refining_against_the_context_model_lowers_its_cost():
    from course_utils.compression import LearnedCodec
    from course_utils.models.context import fit_context_model

    model = _tiny_codec(0.01)
    model.fit(_blocky_images(256, seed=1), batch_size=32, epochs=2, verbose=0)
    symbols = LearnedCodec(model).quantise(_blocky_images(300, seed=2)).reshape(300, -1)  # (300, 8)
    context = fit_context_model(symbols[:250], symbols[250:], [4, 4], hidden_units=16, epochs=2, seed=0)[0]
    test = _blocky_images(16, seed=4)
    latents = np.asarray(model.encode_latents(test))

    def cost(y):  # the context codec's ideal bits per pixel + lambda * MSE (0-255), rounded latents, summed
        y_hat = np.round(y)
        mse = np.mean(np.square(np.asarray(model.decode_latents(y_hat)) - test).reshape(16, -1), axis=1)
        return float(np.sum(np.asarray(context.bits(y_hat.reshape(16, -1))) / model.pixels + model.lmbda * 255**2 * mse))

    refined = refine_latents(model, test, latents, steps=100, learning_rate=0.05, seed=0, batch_size=16,
                             context=context)
    assert cost(refined) < cost(latents)
