"""Full-batch second-order training: L-BFGS and inexact (truncated) Newton-CG.

Both treat the model's trainable weights as one flat vector and minimise the
full-batch loss, which suits small models and convex or nearly convex problems.

* `lbfgs_fit`: limited-memory BFGS (Nocedal 1980; Liu & Nocedal 1989), the
  two-loop recursion with a backtracking Armijo line search, or
  tensorflow-probability's `lbfgs_minimize` (`implementation="tfp"`).
* `newton_cg_fit`: inexact Newton (Nocedal & Wright, Algorithm 7.1): each
  step solves `H d = -g` approximately by conjugate gradient on
  Hessian-vector products (`keras_dlss.autodiff.hvp`, Pearlmutter 1994) of a
  random sub-sample of the data (Byrd et al. 2011). When CG meets a direction
  of negative curvature `p^T H p <= 0` it stops and follows that direction
  (signed to descend), which lets the method leave saddle points
  (Dauphin et al. 2014) where plain Newton is attracted to them.

References:
    Liu & Nocedal, 1989. "On the limited memory BFGS method for large scale
    optimization". Mathematical Programming 45.
    Martens, 2010. "Deep learning via Hessian-free optimization". ICML.
    Byrd et al., 2011. "On the use of stochastic Hessian information in
    optimization methods for machine learning". SIAM J. Optim. 21.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range


class _FlatProblem:
    """The model's loss as a function of one flat float vector (internal)."""

    def __init__(self, model, x, y, loss):
        if loss is None:
            loss = getattr(model, "loss", None)
        if loss is None:
            raise ValueError(
                "Argument `loss` is required for an uncompiled model. Received: loss=None"
            )
        self.loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
        self.model, self.x, self.y = model, x, y
        self.variables = model.trainable_variables
        self.shapes = [tuple(v.shape) for v in self.variables]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.frozen = [ops.convert_to_tensor(v) for v in model.non_trainable_variables]

        from keras_dlss.autodiff import hvp, vjp

        def value(theta, x, y):
            y_pred, _ = model.stateless_call(self.unflatten(theta), self.frozen, x, training=False)
            return ops.mean(self.loss_fn(y, y_pred))

        def value_and_grad(theta, x, y):
            f, vjp_fn = vjp(lambda t: value(t, x, y), theta)
            return f, vjp_fn(ops.ones_like(f))[0]

        def hess_vec(theta, v, x, y):
            # Pearlmutter's trick: a Hessian-vector product without the Hessian.
            return hvp(lambda t: value(t, x, y), theta, v)

        self._value, self._value_and_grad, self._hvp = value, value_and_grad, hess_vec
        if keras.config.backend() == "tensorflow":
            import tensorflow as tf

            self._value = tf.function(value, reduce_retracing=True)
            self._value_and_grad = tf.function(value_and_grad, reduce_retracing=True)
            self._hvp = tf.function(hess_vec, reduce_retracing=True)

    def unflatten(self, theta):
        parts = (
            ops.split(theta, np.cumsum(self.sizes)[:-1].tolist())
            if len(self.sizes) > 1
            else [theta]
        )
        return [ops.reshape(p, s) for p, s in zip(parts, self.shapes)]

    def initial(self):
        return np.concatenate([np.ravel(v.numpy()) for v in self.variables]).astype(np.float64)

    def _t(self, theta):
        return ops.convert_to_tensor(np.asarray(theta, np.float32))

    def value(self, theta):
        return float(self._value(self._t(theta), self.x, self.y))

    def value_and_grad(self, theta):
        f, g = self._value_and_grad(self._t(theta), self.x, self.y)
        return float(f), np.asarray(g, np.float64)

    def hvp(self, theta, v, x, y):
        return np.asarray(self._hvp(self._t(theta), self._t(v), x, y), np.float64)

    def assign(self, theta):
        for var, part in zip(self.variables, self.unflatten(self._t(theta))):
            var.assign(part)


def _backtrack(problem, theta, f, g, d, c1=1e-4, max_halvings=30):
    """Largest `t` in {1, 1/2, ...} with `f(theta + t d) <= f + c1 t g.d` (Armijo)."""
    slope = float(g @ d)
    t = 1.0
    for _ in range(max_halvings):
        f_new = problem.value(theta + t * d)
        if np.isfinite(f_new) and f_new <= f + c1 * t * min(slope, 0.0):
            return t, f_new
        t *= 0.5
    return 0.0, f


def _two_loop(g, s_list, y_list):
    """L-BFGS two-loop recursion: an approximation of `H^-1 g`."""
    q = g.copy()
    alphas = []
    for s, y in zip(reversed(s_list), reversed(y_list)):
        a = (s @ q) / (y @ s)
        alphas.append(a)
        q -= a * y
    if s_list:
        q *= (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1])
    for (s, y), a in zip(zip(s_list, y_list), reversed(alphas)):
        q += s * (a - (y @ q) / (y @ s))
    return q


def lbfgs_fit(
    model,
    x,
    y,
    *,
    loss=None,
    max_iterations=100,
    num_correction_pairs=10,
    tolerance=1e-6,
    implementation="native",
):
    """Trains `model` on the full batch `(x, y)` with L-BFGS.

    Args:
        model: a built `keras.Model`.
        x, y: the whole training set (one batch).
        loss: loss identifier or callable; defaults to the compiled loss.
        max_iterations: int >= 1. Defaults to `100`.
        num_correction_pairs: int >= 1. L-BFGS memory. Defaults to `10`.
        tolerance: float > 0. Stop when the gradient's max-norm falls below it.
        implementation: `"native"` or `"tfp"` (tensorflow-probability).

    Returns:
        A dict history with `"loss"` and `"grad_norm"` per iteration; the model
        holds the final weights.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    history = keras_dlss.training.lbfgs_fit(model, x, y, loss="mse", max_iterations=50)
    ```
    """
    check_positive_int("max_iterations", max_iterations)
    check_positive_int("num_correction_pairs", num_correction_pairs)
    check_range("tolerance", tolerance, 0.0, low_inclusive=False)
    check_one_of("implementation", implementation, ("native", "tfp"))
    problem = _FlatProblem(model, x, y, loss)
    if implementation == "tfp":
        return _lbfgs_tfp(problem, max_iterations, num_correction_pairs, tolerance)
    theta = problem.initial()
    f, g = problem.value_and_grad(theta)
    history = {"loss": [f], "grad_norm": [float(np.max(np.abs(g)))]}
    s_list, y_list = [], []
    for _ in range(max_iterations):
        if np.max(np.abs(g)) < tolerance:
            break
        d = -_two_loop(g, s_list, y_list)
        if g @ d >= 0:  # not a descent direction: restart from steepest descent
            s_list, y_list, d = [], [], -g
        if not s_list:
            d = d / max(1.0, float(np.linalg.norm(d)))
        t, _ = _backtrack(problem, theta, f, g, d)
        if t == 0.0:
            break
        theta_new = theta + t * d
        f_new, g_new = problem.value_and_grad(theta_new)
        s, yv = theta_new - theta, g_new - g
        if s @ yv > 1e-10 * (yv @ yv):  # keep the update positive definite
            s_list, y_list = (
                (s_list + [s])[-num_correction_pairs:],
                (y_list + [yv])[-num_correction_pairs:],
            )
        theta, f, g = theta_new, f_new, g_new
        history["loss"].append(f)
        history["grad_norm"].append(float(np.max(np.abs(g))))
    problem.assign(theta)
    return history


def _lbfgs_tfp(problem, max_iterations, num_correction_pairs, tolerance):
    import tensorflow as tf
    import tensorflow_probability as tfp

    def value_and_grad(theta):
        return problem._value_and_grad(theta, problem.x, problem.y)

    result = tfp.optimizer.lbfgs_minimize(
        value_and_grad,
        initial_position=tf.constant(problem.initial(), tf.float32),
        num_correction_pairs=num_correction_pairs,
        tolerance=tolerance,
        max_iterations=max_iterations,
    )
    problem.assign(result.position.numpy())
    return {
        "loss": [float(result.objective_value)],
        "grad_norm": [float(np.max(np.abs(result.objective_gradient.numpy())))],
        "iterations": int(result.num_iterations),
        "converged": bool(result.converged),
    }


def _conjugate_gradient(hvp, g, max_iterations, tolerance, damping):
    """Truncated CG on `(H + damping I) d = -g`; stops at negative curvature.

    Returns:
        `(d, negative_direction)`: the CG iterate, and the first direction `p`
        with `p^T H p <= 0` (None if CG never met one).
    """
    d = np.zeros_like(g)
    r = -g
    p = r.copy()
    rr = r @ r
    for _ in range(max_iterations):
        hp = hvp(p) + damping * p
        curvature = p @ hp
        if curvature <= 1e-10 * (p @ p):
            return d, p
        alpha = rr / curvature
        d += alpha * p
        r -= alpha * hp
        rr_new = r @ r
        if np.sqrt(rr_new) <= tolerance * np.sqrt(g @ g):
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return d, None


def newton_cg_fit(
    model,
    x,
    y,
    *,
    loss=None,
    max_iterations=20,
    cg_iterations=20,
    hessian_batch_size=None,
    damping=0.0,
    tolerance=1e-6,
    seed=0,
):
    """Trains `model` on the full batch `(x, y)` with inexact Newton-CG.

    Args:
        model: a built `keras.Model`.
        x, y: arrays, the whole training set.
        loss: loss identifier or callable; defaults to the compiled loss.
        max_iterations: int >= 1. Newton steps. Defaults to `20`.
        cg_iterations: int >= 1. CG steps per Newton step. Defaults to `20`.
        hessian_batch_size: int or None. Examples drawn (per Newton step) for
            the Hessian-vector products; None uses all of them.
        damping: float >= 0. Added to the Hessian's diagonal. Defaults to `0`.
        tolerance: float > 0. Stop when the gradient's max-norm falls below it;
            also the relative CG residual target.
        seed: int. Seed of the Hessian sub-sampling.

    Returns:
        A dict history with `"loss"`, `"grad_norm"` and
        `"negative_curvature"` (bools) per iteration.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    history = keras_dlss.training.newton_cg_fit(model, x, y, loss="mse", max_iterations=5)
    ```
    """
    check_positive_int("max_iterations", max_iterations)
    check_positive_int("cg_iterations", cg_iterations)
    if hessian_batch_size is not None:
        check_positive_int("hessian_batch_size", hessian_batch_size)
    check_range("damping", damping, 0.0)
    check_range("tolerance", tolerance, 0.0, low_inclusive=False)
    problem = _FlatProblem(model, x, y, loss)
    rng = np.random.default_rng(seed)
    n = int(np.shape(x)[0])
    theta = problem.initial()
    f, g = problem.value_and_grad(theta)
    history = {"loss": [f], "grad_norm": [float(np.max(np.abs(g)))], "negative_curvature": []}
    for _ in range(max_iterations):
        if np.max(np.abs(g)) < tolerance:
            break
        if hessian_batch_size is None or hessian_batch_size >= n:
            xs, ys = x, y
        else:
            idx = np.sort(rng.choice(n, hessian_batch_size, replace=False))
            xs, ys = np.asarray(x)[idx], np.asarray(y)[idx]
        d, neg = _conjugate_gradient(
            lambda v, xs=xs, ys=ys, theta=theta: problem.hvp(theta, v, xs, ys),
            g,
            cg_iterations,
            tolerance,
            damping,
        )
        if neg is not None:
            # Follow negative curvature, signed to descend, with the step's scale
            # set by the gradient (or unit length at a stationary point).
            neg = -np.sign(neg @ g or 1.0) * neg / np.linalg.norm(neg)
            d = d + neg * max(1.0, float(np.linalg.norm(d)))
        if g @ d >= 0 and neg is None:
            d = -g
        t, f_new = _backtrack(problem, theta, f, g, d)
        history["negative_curvature"].append(neg is not None)
        if t == 0.0:
            break
        theta = theta + t * d
        f, g = problem.value_and_grad(theta)
        history["loss"].append(f)
        history["grad_norm"].append(float(np.max(np.abs(g))))
    problem.assign(theta)
    return history
