"""An LSTM policy over a sequence of discrete choices, trained by REINFORCE.

Zoph & Le, "Neural Architecture Search with Reinforcement Learning", ICLR 2017
(arXiv:1611.01578), Section 3.1-3.2: a recurrent controller emits an
architecture one decision at a time, each decision's softmax fed back as the
next step's input, and is trained with the likelihood-ratio gradient
``sum_t grad log P(a_t | a_<t) (R - b)`` (Williams 1992) with `b` an
exponential moving average of past rewards.

Why NumPy and a hand-written backward pass rather than a Keras model: the
controller is tiny (one LSTM layer over a few dozen steps), runs on the
tuner's side between trials, and must not compete with the trial's model for
the backend (a second compiled graph, device memory, XLA recompiles for every
architecture length). Its gradient is checked against finite differences in
`tests/tuners/test_darts_oracles.py`.
"""

import numpy as np

from keras_dlss._validation import check_positive_int, check_range


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class LSTMController:
    """An autoregressive LSTM policy over `len(choices)` categorical decisions.

    Step `t` embeds the previous decision (a start token at `t = 0`), runs one
    LSTM step and reads a softmax over `choices[t]` options from a head of its
    own. `update(actions, advantage)` takes one Adam step on
    ``-advantage * log P(actions)``.

    Args:
        choices: list of ints >= 1, the number of options of each decision.
        hidden_units: int. LSTM width. Defaults to `32`.
        learning_rate: float. Adam step size. Defaults to `0.05`.
        seed: int. Initialization seed. Defaults to `0`.
    """

    def __init__(self, choices, hidden_units=32, learning_rate=0.05, seed=0):
        if not choices or any(int(c) < 1 for c in choices):
            raise ValueError(
                f"Argument `choices` must be a non-empty list of ints >= 1. Received: choices={choices!r}"
            )
        self.choices = [int(c) for c in choices]
        self.hidden_units = check_positive_int("hidden_units", hidden_units)
        check_range("learning_rate", learning_rate, 0.0, None, low_inclusive=False)
        self.learning_rate = float(learning_rate)
        rng = np.random.default_rng(seed)
        h = self.hidden_units
        tokens = 1 + sum(self.choices)  # start token + one embedding per option
        self.offsets = np.concatenate([[1], 1 + np.cumsum(self.choices)[:-1]]).astype(int)
        scale = 0.1
        self.params = {
            "embedding": rng.uniform(-scale, scale, (tokens, h)),
            "kernel": rng.uniform(-scale, scale, (2 * h, 4 * h)),
            "bias": np.zeros(4 * h),
        }
        for t, c in enumerate(self.choices):
            self.params[f"head_{t}"] = rng.uniform(-scale, scale, (h, c))
            self.params[f"head_bias_{t}"] = np.zeros(c)
        self._adam = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in self.params.items()}
        self._steps = 0

    # ------------------------------------------------------------ forward

    def _forward(self, actions=None, rng=None):
        """Runs the policy; samples when `actions` is None. Returns (actions, cache)."""
        h_units = self.hidden_units
        h = np.zeros(h_units)
        c = np.zeros(h_units)
        token = 0
        taken, cache = [], []
        for t, n in enumerate(self.choices):
            x = self.params["embedding"][token]
            xh = np.concatenate([x, h])
            z = xh @ self.params["kernel"] + self.params["bias"]
            i, f, o = (_sigmoid(z[k * h_units : (k + 1) * h_units]) for k in range(3))
            g = np.tanh(z[3 * h_units :])
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
            logits = h_new @ self.params[f"head_{t}"] + self.params[f"head_bias_{t}"]
            p = np.exp(logits - logits.max())
            p /= p.sum()
            a = int(rng.choice(n, p=p)) if actions is None else int(actions[t])
            cache.append((token, xh, i, f, o, g, c, c_new, h_new, p, a))
            taken.append(a)
            token = self.offsets[t] + a
            h, c = h_new, c_new
        return taken, cache

    def sample(self, rng):
        """Draws one decision sequence with `rng` (a `np.random.Generator`)."""
        return self._forward(rng=rng)[0]

    def probabilities(self, actions):
        """P(a_t | a_<t) for each decision of `actions` (teacher-forced)."""
        _, cache = self._forward(actions=actions)
        return np.array([entry[9][entry[10]] for entry in cache])

    def log_prob(self, actions):
        return float(np.sum(np.log(self.probabilities(actions))))

    # ------------------------------------------------------------ backward

    def log_prob_gradients(self, actions):
        """Gradient of `log P(actions)` w.r.t. every parameter (backpropagation through time)."""
        _, cache = self._forward(actions=actions)
        h_units = self.hidden_units
        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        dh_next = np.zeros(h_units)
        dc_next = np.zeros(h_units)
        for t in reversed(range(len(cache))):
            token, xh, i, f, o, g, c_prev, c, h, p, a = cache[t]
            dlogits = -p
            dlogits[a] += 1.0  # d log softmax(logits)[a] / d logits
            grads[f"head_{t}"] += np.outer(h, dlogits)
            grads[f"head_bias_{t}"] += dlogits
            dh = self.params[f"head_{t}"] @ dlogits + dh_next
            tanh_c = np.tanh(c)
            dc = dh * o * (1.0 - tanh_c**2) + dc_next
            dz = np.concatenate(
                [
                    dc * g * i * (1.0 - i),
                    dc * c_prev * f * (1.0 - f),
                    dh * tanh_c * o * (1.0 - o),
                    dc * i * (1.0 - g**2),
                ]
            )
            grads["kernel"] += np.outer(xh, dz)
            grads["bias"] += dz
            dxh = self.params["kernel"] @ dz
            grads["embedding"][token] += dxh[:h_units]
            dh_next = dxh[h_units:]
            dc_next = dc * f
        return grads

    def update(self, actions, advantage):
        """One Adam step on `-advantage * log P(actions)` (REINFORCE)."""
        grads = self.log_prob_gradients(actions)
        self._steps += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        for k, g in grads.items():
            g = -float(advantage) * g
            m, v = self._adam[k]
            m[:] = b1 * m + (1 - b1) * g
            v[:] = b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1**self._steps)
            v_hat = v / (1 - b2**self._steps)
            self.params[k] -= self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)

    # ------------------------------------------------------------ state

    def get_state(self):
        return {
            "params": {k: v.tolist() for k, v in self.params.items()},
            "adam": {k: [m.tolist(), v.tolist()] for k, (m, v) in self._adam.items()},
            "steps": self._steps,
        }

    def set_state(self, state):
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in state["params"].items()}
        self._adam = {
            k: (np.asarray(m, dtype=np.float64), np.asarray(v, dtype=np.float64))
            for k, (m, v) in state["adam"].items()
        }
        self._steps = int(state["steps"])
