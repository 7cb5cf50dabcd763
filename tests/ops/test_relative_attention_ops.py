import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.ops import relative_position_logits


def _gather_reference(query, embeddings, causal):
    """Naive Shaw et al. logits: gather the [Lq, Lk, D] table, then contract."""
    lq = query.shape[-2]
    lk = embeddings.shape[-2] - lq + 1
    index = np.arange(lk)[None, :] - np.arange(lq)[:, None] + lq - 1  # [Lq, Lk]
    if embeddings.ndim == 2:
        table = embeddings[index]  # [Lq, Lk, D]
        out = np.einsum("bhid,ijd->bhij", query, table)
    else:
        table = embeddings[:, index]  # [H, Lq, Lk, D]
        out = np.einsum("bhid,hijd->bhij", query, table)
    if causal:
        out = out * (index <= lq - 1)
    return out


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("per_head", [False, True])
def test_matches_gather_reference(causal, per_head):
    rng = np.random.default_rng(1)
    b, h, length, d = 2, 3, 7, 5
    query = rng.normal(size=(b, h, length, d))
    shape = (h, 2 * length - 1, d) if per_head else (2 * length - 1, d)
    embeddings = rng.normal(size=shape)
    got = np.asarray(relative_position_logits(query, embeddings, causal=causal))
    np.testing.assert_allclose(got, _gather_reference(query, embeddings, causal), atol=1e-12)


def test_rectangular_keys_match_reference():
    rng = np.random.default_rng(2)
    query = rng.normal(size=(1, 2, 3, 4))
    embeddings = rng.normal(size=(3 + 6 - 1, 4))  # Lq = 3 queries, Lk = 6 keys
    got = np.asarray(relative_position_logits(query, embeddings, causal=False))
    assert got.shape == (1, 2, 3, 6)
    np.testing.assert_allclose(got, _gather_reference(query, embeddings, False), atol=1e-12)


def test_causal_upper_triangle_is_zero_and_single_position():
    rng = np.random.default_rng(3)
    got = np.asarray(
        relative_position_logits(rng.normal(size=(1, 1, 4, 2)), rng.normal(size=(7, 2)))
    )
    assert np.all(np.triu(got[0, 0], k=1) == 0)
    one = relative_position_logits(np.ones((1, 1, 1, 2)), np.array([[2.0, 3.0]]))
    np.testing.assert_allclose(np.asarray(one), [[[[5.0]]]])


@pytest.mark.parametrize("causal", [True, False])
def test_no_length_squared_times_depth_intermediate(causal):
    # By construction the largest intermediate is the padded [B, H, L, 2L] product;
    # a naive gather would create an [L, L, D] (here 8 x 8 x 32) tensor.
    length, depth = 8, 32
    fn = tf.function(lambda q, e: relative_position_logits(q, e, causal=causal))
    graph = fn.get_concrete_function(
        tf.TensorSpec((1, 1, length, depth), tf.float32),
        tf.TensorSpec((2 * length - 1, depth), tf.float32),
    ).graph
    sizes = []
    for op in graph.get_operations():
        for out in op.outputs:
            shape = out.shape
            if shape.rank is not None and shape.is_fully_defined():
                sizes.append(int(np.prod(shape.as_list())))
                assert tuple(shape.as_list()[-3:]) != (length, length, depth), op.name
    # Nothing exceeds the [L, 2L] product or the table with one zero row.
    assert max(sizes) <= max(length * 2 * length, 2 * length * depth)
    assert max(sizes) < length * length * depth


@pytest.mark.parametrize("causal", [True, False])
def test_xla_matches_eager(causal):
    rng = np.random.default_rng(4)
    query = rng.normal(size=(2, 2, 6, 3)).astype("float32")
    embeddings = rng.normal(size=(2, 11, 3)).astype("float32")
    eager = np.asarray(relative_position_logits(query, embeddings, causal=causal))
    xla = tf.function(lambda q, e: relative_position_logits(q, e, causal=causal), jit_compile=True)(
        query, embeddings
    )
    np.testing.assert_allclose(xla.numpy(), eager, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("causal", [True, False])
def test_gradient_check(causal):
    debugging = pytest.importorskip("keras_dlss.debugging")
    if not hasattr(debugging, "gradient_check"):
        pytest.skip("keras_dlss.debugging.gradient_check not available yet")
    rng = np.random.default_rng(5)
    query = rng.normal(size=(1, 2, 4, 3))
    embeddings = rng.normal(size=(7, 3))
    debugging.gradient_check(
        lambda q, e: relative_position_logits(q, e, causal=causal), (query, embeddings)
    )


def test_bad_inputs_raise_naming_the_argument():
    q = np.zeros((1, 1, 4, 3))
    with pytest.raises(ValueError, match="relative_embeddings"):
        relative_position_logits(q, np.zeros((7, 2)))
    with pytest.raises(ValueError, match="relative_embeddings"):
        relative_position_logits(q, np.zeros((2,)))
    with pytest.raises(ValueError, match="causal"):
        relative_position_logits(q, np.zeros((9, 3)), causal=True)
    with pytest.raises(ValueError, match="causal"):
        relative_position_logits(q, np.zeros((7, 3)), causal="yes")
    with pytest.raises(ValueError, match="query"):
        relative_position_logits(np.zeros((3,)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="relative_embeddings"):
        relative_position_logits(q, np.zeros((5, 7, 3)))
