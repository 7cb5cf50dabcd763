"""`dense_crf_mean_field` against a NumPy brute-force mean field, and its fast path."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.ops import bilateral_grid as grid_ops
from keras_dlss.ops import dense_crf_mean_field

PARAMS = {
    "spatial_weight": 0.7,
    "spatial_sigma": 1.5,
    "bilateral_weight": 1.3,
    "bilateral_spatial_sigma": 3.0,
    "bilateral_color_sigma": 0.3,
}


def _inputs(b=2, h=6, w=6, labels=3, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    unary = rng.normal(size=(b, h, w, labels)).astype("float32")
    image = rng.random((b, h, w, channels)).astype("float32")
    return unary, image


def _kernel(image, p):
    """Dense N×N kernel of one image, float64, zero diagonal (Krähenbühl & Koltun, Eq. 3)."""
    h, w, _ = image.shape
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    pos = np.stack([ys.ravel(), xs.ravel()], -1).astype("float64")
    col = image.reshape(-1, image.shape[-1]).astype("float64")
    d_pos = ((pos[:, None] - pos[None]) ** 2).sum(-1)
    d_col = ((col[:, None] - col[None]) ** 2).sum(-1)
    k = p["spatial_weight"] * np.exp(-d_pos / (2 * p["spatial_sigma"] ** 2))
    k += p["bilateral_weight"] * np.exp(
        -d_pos / (2 * p["bilateral_spatial_sigma"] ** 2)
        - d_col / (2 * p["bilateral_color_sigma"] ** 2)
    )
    np.fill_diagonal(k, 0.0)
    return k


def _softmax(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _numpy_mean_field(unary, image, iterations, p, mu):
    """Pixel by pixel, as Algorithm 1 of Zheng et al. states it."""
    out = []
    for u, img in zip(unary.astype("float64"), image):
        h, w, labels = u.shape
        k = _kernel(img, p)
        u = u.reshape(-1, labels)
        logits = u
        for _ in range(iterations):
            q = _softmax(logits)
            message = np.zeros_like(q)
            for i in range(len(q)):
                for j in range(len(q)):
                    message[i] += k[i, j] * q[j]
            logits = u - message @ mu
        out.append(logits.reshape(h, w, labels))
    return np.stack(out)


def _free_energy(unary, q, k, mu):
    """Mean-field free energy E_Q[E(x)] - H(Q) of the dense CRF (ψ_u = -unary)."""
    u = unary.reshape(-1, unary.shape[-1]).astype("float64")
    q = q.reshape(u.shape)
    pairwise = 0.5 * np.sum(k * (q @ mu @ q.T))
    return -np.sum(u * q) + pairwise + np.sum(q * np.log(q + 1e-300))


@pytest.mark.parametrize("compat", ["potts", "learned"])
def test_exact_path_matches_numpy_brute_force_on_6x6(compat):
    unary, image = _inputs()
    labels = unary.shape[-1]
    mu = 1.0 - np.eye(labels)
    if compat == "learned":
        mu = np.random.default_rng(3).normal(size=(labels, labels))
    got = dense_crf_mean_field(
        unary, image, iterations=4, compatibility=mu.astype("float32"), method="exact", **PARAMS
    )
    want = _numpy_mean_field(unary, image, 4, PARAMS, mu)
    np.testing.assert_allclose(ops.convert_to_numpy(got), want, atol=2e-4, rtol=1e-4)
    # Not vacuous: the pairwise term moves the logits.
    assert np.abs(want - unary).max() > 0.1


def test_one_iteration_is_the_unary_minus_the_potts_message():
    unary, image = _inputs(b=1)
    got = ops.convert_to_numpy(
        dense_crf_mean_field(unary, image, iterations=1, method="exact", **PARAMS)
    )
    q = _softmax(unary[0].reshape(-1, 3).astype("float64"))
    message = _kernel(image[0], PARAMS) @ q
    potts = message.sum(-1, keepdims=True) - message
    np.testing.assert_allclose(got[0].reshape(-1, 3), unary[0].reshape(-1, 3) - potts, atol=1e-4)


def test_mean_field_free_energy_does_not_increase_with_potts():
    unary, image = _inputs(b=1, h=6, w=6, labels=4, seed=5)
    k = _kernel(image[0], PARAMS)
    mu = 1.0 - np.eye(4)
    energies = []
    for t in range(0, 8):
        logits = (
            unary
            if t == 0
            else ops.convert_to_numpy(
                dense_crf_mean_field(unary, image, iterations=t, method="exact", **PARAMS)
            )
        )
        energies.append(_free_energy(unary[0], _softmax(logits[0].astype("float64")), k, mu))
    assert np.all(np.diff(energies) <= 1e-4), energies
    assert energies[-1] < energies[0] - 0.1  # it does go down


def test_separable_spatial_message_is_exact():
    q = np.random.default_rng(1).random((2, 7, 5, 3)).astype("float32")
    got = grid_ops.separable_spatial_message(ops.convert_to_tensor(q), 1.7)
    pos = grid_ops.pixel_positions(7, 5, "float32")[None] / 1.7
    want = grid_ops.exact_gaussian_message(ops.reshape(q, (2, 35, 3)), pos)
    np.testing.assert_allclose(
        ops.convert_to_numpy(got).reshape(2, 35, 3), ops.convert_to_numpy(want), atol=1e-5
    )


def test_fast_path_approximates_the_exact_marginals():
    # Two flat colour regions with noise: where the bilateral kernel matters.
    unary, image = _inputs(b=1, h=16, w=16, labels=3, seed=2)
    image[:, :, :8] = 0.2
    image[:, :, 8:] = 0.8
    image += 0.03 * np.random.default_rng(0).standard_normal(image.shape).astype("float32")
    kwargs = dict(iterations=5, **PARAMS)
    exact = ops.softmax(dense_crf_mean_field(unary, image, method="exact", **kwargs))
    fast = ops.softmax(
        dense_crf_mean_field(unary, image, method="fast", grid_shape=(9, 9, 16), **kwargs)
    )
    err = np.abs(ops.convert_to_numpy(exact) - ops.convert_to_numpy(fast)).max()
    assert err < 0.05, err
    unrefined = ops.convert_to_numpy(ops.softmax(unary))
    assert np.abs(ops.convert_to_numpy(exact) - unrefined).max() > 0.2  # the CRF does something


def test_auto_picks_exact_for_small_images_and_fast_for_large():
    from keras_dlss.ops.dense_crf import resolve_method

    assert resolve_method("auto", (1, 32, 32, 3), 3) == "exact"
    assert resolve_method("auto", (1, 64, 64, 3), 3) == "fast"


def test_float16_inputs_return_float16():
    unary, image = _inputs(b=1)
    out = dense_crf_mean_field(ops.cast(unary, "float16"), ops.cast(image, "float16"))
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    ref = dense_crf_mean_field(unary, image)
    np.testing.assert_allclose(
        ops.convert_to_numpy(out).astype("float32"), ops.convert_to_numpy(ref), atol=2e-2
    )


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"image": np.zeros((2, 5, 6, 3), "float32")}, "image"),
        ({"image": np.zeros((3, 6, 6, 3), "float32")}, "image"),
        ({"unary": np.zeros((2, 6, 6), "float32")}, "unary"),
        ({"unary": np.zeros((2, 6, 6, 3), "int32")}, "unary"),
        ({"compatibility": np.zeros((2, 2), "float32")}, "compatibility"),
        ({"iterations": 0}, "iterations"),
        ({"method": "permutohedral"}, "method"),
        ({"method": "fast", "image": np.zeros((2, 6, 6, 4), "float32")}, "image"),
        ({"method": "fast", "grid_shape": (1, 4, 4)}, "grid_shape"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, argument):
    unary, image = _inputs()
    args = {"unary": unary, "image": image, **kwargs}
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received"):
        dense_crf_mean_field(args.pop("unary"), args.pop("image"), **args)
