"""Training the stack-LSTM parser with exploration and the arc-hybrid dynamic oracle.

A parser trained only on gold configurations never sees its own mistakes, but
at test time one wrong action leads to configurations it was never trained on.
Training with a dynamic oracle (Goldberg & Nivre 2012, 2013) and exploration
(Ballesteros et al. 2016) lets the parser follow its own actions during
training and learn, in every configuration it reaches, the actions that lose no
more gold arcs than are already lost (the zero-cost actions).

The batched design reuses the teacher-forced replay of `StackLSTMParserModel`:

1. `explore` parses the training sentences with the current model in one
   compiled loop (the decoder's loop, `_parse_loop(explore=...)`). At each step
   every sentence computes its zero-cost actions in-graph (`zero_cost_actions`,
   the tensor form of `transition_systems.action_costs`) and, with probability
   `p`, takes an action **sampled from the model's softmax** over the legal
   actions (Ballesteros et al.), otherwise the first zero-cost action in the
   static oracle's order LEFT_ARC, RIGHT_ARC, SHIFT (so `p = 0` gives exactly
   the static oracle's sequence on a projective tree).
2. The explored sequence is replayed teacher-forced like a gold one; the action
   target is the *set* of zero-cost actions, trained with the negative log of
   their summed probability (`y["oracle"]`, see `StackLSTMParserModel.compute_loss`);
   the relation target is the gold relation where the arc is a gold arc, none
   elsewhere (composition then uses the model's own predicted relation).
3. `DynamicOracle` (a callback) re-explores after every epoch once the static
   warm-up is over, so each epoch trains on the current model's mistakes.

Only arc-hybrid: its dynamic oracle is exact and cheap because the system is
arc-decomposable (an action's cost is the number of reachable gold arcs it
rules out). Arc-standard is not arc-decomposable: its cost needs a search over
the stack (Goldberg, Sartorio & Satta 2014), so it raises `ValueError`.

References:
    - Goldberg & Nivre, "A Dynamic Oracle for Arc-Eager Dependency Parsing",
      COLING 2012; "Training Deterministic Parsers with Non-Deterministic
      Oracles", TACL 2013.
    - Ballesteros, Goldberg, Dyer & Smith, "Training with Exploration Improves
      a Greedy Stack LSTM Parser", EMNLP 2016 (https://arxiv.org/abs/1603.03793).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.applications.base import compiled
from keras_dlss.applications.stack_lstm_ops import legal_actions, one_hot, take_int
from keras_dlss.applications.transition_systems import LEFT_ARC, RIGHT_ARC, transition_targets
from keras_dlss.ops.crf_parallel import first_argmax as argmax
from keras_dlss.ops.pointer_stack import stack_top

ORACLES = ("static", "dynamic")


def check_system(system, oracle="dynamic"):
    """Raises `ValueError` unless `oracle` is static or the system is arc-hybrid."""
    v.check_one_of("oracle", oracle, ORACLES)
    if oracle == "dynamic" and system != "arc-hybrid":
        raise ValueError(
            "Argument `system` must be 'arc-hybrid' for training with the dynamic oracle: "
            "arc-standard is not arc-decomposable, so its action costs are not the sum of "
            f"single arcs lost and need a search over the stack. Received: system={system!r}"
        )
    return oracle


def zero_cost_actions(memory, size, front, lengths, gold_heads):
    """`[B, 3]` bool: the legal arc-hybrid actions of least cost (`dynamic_oracle`, batched).

    `memory`/`size` are the parse loop's pointer stack (word id in the last
    column), `front` the buffer's first word, `gold_heads` `[B, P]` int (-1 at
    ROOT and padding). Same costs as `transition_systems.action_costs`.
    """
    gold = ops.cast(gold_heads, "int32")
    positions = ops.arange(ops.shape(gold)[1], dtype="int32")[None, :]
    ids = ops.cast(memory[:, :, -1], "int32")
    live = ops.less(ops.arange(ops.shape(memory)[1])[None, :], size[:, None])
    on_stack = ops.any(
        ops.logical_and(ops.equal(ids[:, :, None], positions[:, None, :]), live[:, :, None]), 1
    )
    s0 = ops.cast(stack_top(memory, size)[:, -1], "int32")
    s1 = ops.cast(stack_top(memory, size, 1)[:, -1], "int32")
    in_buffer = ops.logical_and(positions >= front[:, None], positions <= lengths[:, None])
    below = ops.logical_and(on_stack, ops.not_equal(positions, s0[:, None]))

    def member(mask, word):
        return ops.any(ops.logical_and(mask, ops.equal(positions, word[:, None])), axis=1)

    def count(mask):
        return ops.sum(ops.cast(mask, "int32"), axis=1)

    g_b0, g_s0 = take_int(gold, front), take_int(gold, s0)
    shift = ops.cast(member(below, g_b0), "int32")
    shift = shift + count(ops.logical_and(on_stack, ops.equal(gold, front[:, None])))
    lost_dependents = count(ops.logical_and(in_buffer, ops.equal(gold, s0[:, None])))
    later = ops.logical_and(in_buffer, positions > front[:, None])
    left = ops.logical_and(
        ops.not_equal(g_s0, front), ops.logical_or(member(later, g_s0), ops.equal(g_s0, s1))
    )
    right = member(in_buffer, g_s0)
    costs = ops.stack(
        [
            shift,
            lost_dependents + ops.cast(left, "int32"),
            lost_dependents + ops.cast(right, "int32"),
        ],
        axis=1,
    )
    legal = legal_actions(size, front, lengths, "arc-hybrid")
    costs = ops.where(legal, costs, 1 << 20)
    return ops.logical_and(legal, ops.equal(costs, ops.min(costs, axis=1, keepdims=True)))


class _Explorer:
    """The `explore` hook of `_parse_loop`: chooses each action, records `[zero-cost(3),
    action, relation fed, relation target]`."""

    width = 6

    def __init__(self, words, gold_heads, gold_labels, explore_u, sample_u, probability):
        words = ops.cast(words, "int32")
        self.lengths = ops.sum(ops.cast(ops.greater(words, 0), "int32"), axis=1) - 1
        self.gold, self.labels = ops.cast(gold_heads, "int32"), ops.cast(gold_labels, "int32")
        self.explore_u, self.sample_u, self.probability = (
            ops.convert_to_tensor(a, "float32") for a in (explore_u, sample_u, probability)
        )

    def __call__(self, model, t, p, legal, memory, size, front):
        zero = zero_cost_actions(memory, size, front, self.lengths, self.gold)
        step = one_hot(ops.full((ops.shape(front)[0],), t, "int32"), ops.shape(self.sample_u)[1])
        u = ops.sum(self.sample_u * step, axis=1)
        probs = ops.softmax(ops.where(legal, model.action_scores(p), -1e9), axis=-1)
        sampled = ops.sum(ops.cast(ops.cumsum(probs, axis=-1) < u[:, None], "int32"), axis=1)
        fallback = argmax(ops.where(legal, probs, -1.0))  # rounding past the last legal action
        sampled = ops.where(
            ops.any(ops.logical_and(legal, one_hot(sampled, 3) > 0), 1), sampled, fallback
        )
        oracle = ops.where(zero[:, LEFT_ARC], LEFT_ARC, ops.where(zero[:, RIGHT_ARC], RIGHT_ARC, 0))
        explores = ops.sum(self.explore_u * step, axis=1) < self.probability
        action = ops.where(explores, sampled, oracle)
        s0 = ops.cast(stack_top(memory, size)[:, -1], "int32")
        s1 = ops.cast(stack_top(memory, size, 1)[:, -1], "int32")
        head = ops.where(ops.equal(action, LEFT_ARC), front, s1)
        arc = ops.logical_and(ops.greater(action, 0), ops.any(legal, axis=1))
        gold_arc = ops.logical_and(arc, ops.equal(take_int(self.gold, s0), head))
        target = ops.where(gold_arc, take_int(self.labels, s0), -1)
        relation = ops.where(gold_arc, target, argmax(model.relation_scores(p)))
        columns = [ops.cast(zero, "float32")] + [
            ops.cast(c, "float32")[:, None] for c in (action, ops.where(arc, relation, -1), target)
        ]
        return action, relation, ops.concatenate(columns, axis=-1)


def _explore_fn(model):
    def fn(words, heads, labels, explore_u, sample_u, probability, upos=None):
        explorer = _Explorer(words, heads, labels, explore_u, sample_u, probability)
        tokens = {"words": words} if upos is None else {"words": words, "upos": upos}
        return model._parse_loop(tokens, None, False, explore=explorer)[1]

    return fn


def explore(
    model, words, heads, labels, probability, seed=0, batch_size=64, jit_compile=True, upos=None
):
    """Parses with exploration; returns the explored sequences as NumPy arrays.

    Args:
        model: an arc-hybrid `StackLSTMParserModel`.
        words: `[B, P]` int word ids (position 0 = ROOT, 0 = padding).
        heads: `[B, P]` int gold heads (`encode_trees`: -1 at ROOT and padding).
        labels: `[B, P]` int gold relation ids.
        probability: float in [0, 1]. Chance that a step takes the model's sampled
            action instead of the oracle's.
        seed: int. Seed of the exploration draws.
        batch_size: int. Sentences per compiled call (batched by length).
        jit_compile: `True` (XLA), `False` (graph) or `None` (eager).
        upos: optional `[B, P]` int UPOS ids, for a model built with
            `upos_vocabulary_size`.

    Returns:
        dict of `[B, T]` int `actions` (taken; -1 after the end), `relations`
        (fed to the composition), `relation_targets` (-1: none) and `oracle`
        `[B, T, 3]` int (1 = zero-cost), `T = 2 * (P - 1)`.
    """
    check_system(model.system)
    v.check_range("probability", probability, 0.0, 1.0)
    if getattr(model, "_explorer", None) is None or model._explorer[0] != jit_compile:
        fn = _explore_fn(model)
        model._explorer = (jit_compile, fn if jit_compile is None else compiled(fn, jit_compile))
    words, heads, labels = (np.asarray(a, "int32") for a in (words, heads, labels))
    steps = 2 * (words.shape[1] - 1)
    rng = np.random.default_rng(seed)
    draws = rng.random((2, len(words), steps), dtype="float32")
    trace = np.zeros((len(words), steps, _Explorer.width), "float32")
    lengths = (words > 0).sum(-1)
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = min(words.shape[1], -(-int(lengths[idx].max()) // 16) * 16)
        cut = 2 * (width - 1)
        args = [a[idx, :width] for a in (words, heads, labels)]
        args += [draws[0][idx, :cut], draws[1][idx, :cut], np.full((), probability, "float32")]
        if upos is not None:
            args.append(np.asarray(upos, "int32")[idx, :width])
        trace[idx, :cut] = ops.convert_to_numpy(model._explorer[1](*args))
    done = trace[:, :, :3].sum(-1) == 0
    as_int = lambda a: np.where(done, -1, np.rint(a)).astype("int32")  # noqa: E731
    return {
        "actions": as_int(trace[:, :, 3]),
        "relations": as_int(trace[:, :, 4]),
        "relation_targets": as_int(trace[:, :, 5]),
        "oracle": trace[:, :, :3].astype("int32"),
    }


def static_data(xy, system):
    """Static-oracle `(x, y)` of encoded trees in the dynamic format (`y["oracle"]` one-hot).

    The loss of a one-hot `oracle` is the static oracle's cross-entropy, so the
    warm-up epochs and the explored ones train the same compiled graph.
    """
    x, y = xy
    actions, relations, ok = transition_targets(y["heads"], y["labels"], system)
    actions, relations = actions[ok], relations[ok]
    oracle = np.eye(4, 3, dtype="int32")[np.where(actions < 0, 3, actions)]
    xs = {**{k: x[k][ok] for k in ("words", "upos") if k in x}, "actions": actions}
    return {**xs, "relations": relations}, {"oracle": oracle, "relations": relations}


def dynamic_data(model, xy, probability, seed=0, jit_compile=True):
    """`(x, y)` of the projective trees of encoded `xy`, explored with the current model.

    Non-projective trees are left out as in static training, so both see the
    same sentences (the arc-hybrid costs above assume a projective gold tree).
    """
    x, y = xy
    ok = transition_targets(y["heads"], y["labels"], model.system)[2]
    words, heads, labels = x["words"][ok], y["heads"][ok], y["labels"][ok]
    upos = x["upos"][ok] if "upos" in x else None
    out = explore(
        model, words, heads, labels, probability, seed, jit_compile=jit_compile, upos=upos
    )
    xs = {"words": words, "actions": out["actions"], "relations": out["relations"]}
    if upos is not None:
        xs["upos"] = upos
    return xs, {"oracle": out["oracle"], "relations": out["relation_targets"]}


class DynamicOracle(keras.callbacks.Callback):
    """Re-explores the training data with the current model after each epoch past `warmup`.

    Args:
        buckets: the training `TransitionBuckets` (its `x`/`y` arrays are replaced).
        xy: the encoded training trees `(x, y)` the buckets were built from.
        probability: float in [0, 1]. Exploration probability per step.
        warmup: int. Epochs trained on the static oracle first. Defaults to 1.
        seed: int. Seed of the exploration draws (plus the epoch).
    """

    def __init__(self, buckets, xy, probability, warmup=1, seed=0):
        super().__init__()
        self.buckets, self.xy, self.probability = buckets, xy, probability
        self.warmup = v.check_positive_int("warmup", warmup, 0)
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.warmup and epoch + 1 < self.params.get("epochs", epoch + 2):
            x, y = dynamic_data(self.model, self.xy, self.probability, self.seed + epoch)
            self.buckets.x, self.buckets.y = x, y
