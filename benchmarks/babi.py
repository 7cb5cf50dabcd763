"""bAbI 1k: per-task test error of MemN2N (Sukhbaatar et al. 2015, Sec. 4.2) vs an LSTM.

The paper's recipe, per task (1,000 training questions, a tenth held out as validation):
MemN2N 3 hops, d = 20, 50 memories, PE, TE, adjacent tying with the tied answer matrix
(W^T = C^K), random noise (10% empty memories); linear start with learning rate 0.005
for `--ls-epochs` (20; `--ls-patience` ends it earlier when the validation loss stops
falling: with a patience of 1, LS ended after 2-8 epochs and left the yes/no, counting
and three-fact tasks underfit), then SGD 0.01 halved
every 25 epochs for 100 epochs; loss summed over batches of 32, each gradient clipped to
norm 40; `--restarts` runs from fresh initializations, of which the one with the lowest
*validation* error is reported (the test error is never used to choose). The restarts
are trained together, `jax.vmap` over the library model's `stateless_call` (JAX only).
`--position-encoding` picks the library's PE (`paper`: Sec. 4.1 as written; `code-own-J`:
`position_encoding="released_code"`, the authors' released formula) or, for the ablation, the
released code's formula with its fixed J (`code`) or the paper's with a fixed J (`paper-fixed-J`),
by replacing the layer module's `position_encoding` function in this process; `--lr` is the rate after linear
start (the released code: 0.005). The test error never chooses anything here.
The optional LSTM (`--lstm-epochs`) reads the story's latest `--lstm-memory` statements
then the question. Prints each restart and the table after every task; `--out` keeps a
JSON that `--resume` extends with more restarts.

    KERAS_BACKEND=jax python benchmarks/babi.py [--data ../shared/data/babi-en-1k] \
        [--restarts 10] [--tasks 1,2,3] [--out babi.json [--resume]]
"""

import argparse
import glob
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import MemN2N  # noqa: E402
from keras_dlss.datasets import babi_vocabulary, read_babi, vectorize_babi  # noqa: E402


def _fixed_j_encoding(formula):
    """A PE with J fixed at the padded sentence length + 1 (the released code's), for the ablation.

    "paper" is Sec. 4.1's `l_kj = (1 - j/J) - (k/d)(1 - 2j/J)`; "code" is the authors' released
    code's (MemN2N-babi-matlab, build_model.m) `1 + 4 (k - (d + 1) / 2) (j - (J + 1) / 2) / (d J)`,
    about twice the paper's. With each sentence's own J both are the library's
    (`position_encoding=True` and `"released_code"`); the + 1 is the released code's time word.
    """

    def encoding(word_mask, embedding_dim, formula_of_the_layer=None):
        del formula_of_the_layer  # the ablation's formula replaces the layer's
        mask = keras.ops.cast(word_mask, "float32")
        j = keras.ops.expand_dims(keras.ops.cumsum(mask, axis=-1), -1)  # 1-based word index
        big_j = float(word_mask.shape[-1] + 1)
        d = embedding_dim
        k = keras.ops.arange(1, d + 1, dtype="float32")
        if formula == "paper":
            return (1.0 - j / big_j) - (k / d) * (1.0 - 2.0 * j / big_j)
        return 1.0 + 4.0 * (k - (d + 1) / 2) * (j - (big_j + 1) / 2) / (d * big_j)

    return encoding


# --position-encoding: the library's two formulas (own J), and the fixed-J ablations, which
# replace the layer module's `position_encoding` function in this process.
_LIBRARY_ENCODINGS = {"paper": True, "code-own-J": "released_code"}
_FIXED_J_ENCODINGS = {"code": "code", "paper-fixed-J": "paper"}


def _split(train, seed):
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = len(train) // 10
    return [train[i] for i in order[n_val:]], [train[i] for i in order[:n_val]]


def _build_memn2n(vocab, arrays, args):
    (s, _, _), _, _ = arrays
    model = MemN2N(
        len(vocab.tokens),
        s.shape[1],
        s.shape[2],
        linear_start=True,
        position_encoding=_LIBRARY_ENCODINGS.get(args.position_encoding, True),
        random_noise=args.random_noise,
        tied_answer=True,
    )
    return model


def _paper_rates(args):
    """Per-epoch learning rate after linear start: `--lr` halved every `halve_every` epochs."""
    return [args.lr * 0.5 ** (e // args.halve_every) for e in range(args.epochs)]


def _train_restarts(model, arrays, args, seeds):
    """Trains `len(seeds)` restarts of `model` at once: `jax.vmap` over stacked weights of
    the library model's `stateless_call`, one `lax.scan` per epoch (JAX backend only).

    Each restart runs the Sec. 4.2 recipe on its own: N(0, 0.1) initialization, linear
    start (softmax out, learning rate 0.005) until its validation loss has not fallen for
    `ls_patience` epochs (or `ls_epochs`), then `epochs` epochs of SGD at 0.01 halved every `halve_every`; the loss
    is summed over the batch of 32 and each weight's gradient clipped to norm 40 (Keras'
    `clipnorm`). The restarts share the shuffling of each epoch (not their noise).
    """
    import jax
    import jax.numpy as jnp

    (s, q, a), (vs, vq, va), (ts, tq, ta) = arrays
    n, batch = len(seeds), 32
    paths = [v.path for v in model.non_trainable_variables]
    gate_index = next(i for i, p in enumerate(paths) if p.endswith("softmax_gate"))
    rngs = [np.random.default_rng(seed) for seed in seeds]
    trainable = [
        jnp.asarray(np.stack([r.normal(0.0, 0.1, v.shape) for r in rngs]), "float32")
        for v in model.trainable_variables
    ]
    non_trainable = []
    for i, v in enumerate(model.non_trainable_variables):
        value = np.asarray(keras.ops.convert_to_numpy(v.value))
        stacked = np.stack([value] * n)
        if i == gate_index:
            stacked[:] = 0.0  # linear start
        elif "seed_generator" in paths[i]:
            stacked = np.stack([[seed, 0] for seed in seeds]).astype(value.dtype)
        non_trainable.append(jnp.asarray(stacked))

    def loss_fn(tv, ntv, story, question, answer, training):
        probs, ntv = model.stateless_call(
            tv, ntv, {"story": story, "question": question}, training=training
        )
        picked = jnp.take_along_axis(probs, answer[:, None].astype("int32"), axis=1)[:, 0]
        loss = -jnp.log(jnp.clip(picked, 1e-7, 1.0))
        return loss.sum(), (ntv, jnp.argmax(probs, -1) == answer, loss)

    def step(carry, data):
        tv, ntv, rate = carry
        grad_fn = jax.grad(loss_fn, has_aux=True)
        grads, (ntv, _, _) = grad_fn(tv, ntv, *data, True)
        clipped = [g * jnp.minimum(1.0, 40.0 / (jnp.sqrt(jnp.sum(g * g)) + 1e-12)) for g in grads]
        return ([w - rate * g for w, g in zip(tv, clipped)], ntv, rate), None

    def epoch(tv, ntv, rate, story, question, answer):
        (tv, ntv, _), _ = jax.lax.scan(step, (tv, ntv, rate), (story, question, answer))
        return tv, ntv

    def evaluate(tv, ntv, story, question, answer):
        _, (_, correct, loss) = loss_fn(tv, ntv, story, question, answer, False)
        return 100 * (1 - correct.mean()), loss.mean()

    run_epoch = jax.jit(jax.vmap(epoch, in_axes=(0, 0, 0, None, None, None)))
    run_eval = jax.jit(jax.vmap(evaluate, in_axes=(0, 0, None, None, None)))
    rng = np.random.default_rng(seeds[0])
    steps = len(a) // batch  # the last partial batch of each shuffle is dropped
    switched = np.full(n, -1)  # epoch at which the softmax went back in
    best_val, best_at = np.full(n, np.inf), np.zeros(n, int)
    after = _paper_rates(args)
    for e in range(args.ls_epochs + args.epochs):
        since = e - switched
        done = (switched >= 0) & (since >= args.epochs)
        if done.all():
            break
        rate = np.where(switched < 0, 0.005, 0.0)
        for r in np.flatnonzero((switched >= 0) & ~done):
            rate[r] = after[since[r]]
        order = rng.permutation(len(a))[: steps * batch].reshape(steps, batch)
        trainable, non_trainable = run_epoch(
            trainable, non_trainable, jnp.asarray(rate, "float32"), s[order], q[order], a[order]
        )
        if (switched < 0).any():
            _, val_loss = run_eval(trainable, non_trainable, vs, vq, va)
            val_loss = np.asarray(val_loss)
            improved = val_loss < best_val
            best_at[improved], best_val[improved] = e, val_loss[improved]
            stalled = e - best_at >= args.ls_patience
            flip = (switched < 0) & (stalled | (e + 1 >= args.ls_epochs))
            switched[flip] = e + 1
            gate = np.asarray(non_trainable[gate_index]).copy()
            gate[flip] = 1.0
            non_trainable[gate_index] = jnp.asarray(gate)
    runs = [{"seed": int(seed), "ls_epochs": int(ls)} for seed, ls in zip(seeds, switched)]
    for split, (xs, xq, y) in (("train", (s, q, a)), ("val", (vs, vq, va)), ("test", (ts, tq, ta))):
        errors, losses = run_eval(trainable, non_trainable, xs, xq, y)
        for run, err, loss in zip(runs, np.asarray(errors), np.asarray(losses)):
            run[f"{split}_error"], run[f"{split}_loss"] = abs(float(err)), float(loss)
    return runs


def _select(restarts, split="val"):
    """The restart with the lowest `split` error (then loss); the test error is never used.

    `"val"` is ours; `"train"` is the paper's rule (lowest training error of 10 runs).
    """
    return min(restarts, key=lambda r: (r[f"{split}_error"], r[f"{split}_loss"]))


def _lstm_inputs(stories, questions, memory):
    # Chronological order (slot 0 is the latest statement), words flattened, question last.
    chrono = stories[:, :memory][:, ::-1].reshape(len(stories), -1)
    return np.concatenate([chrono, questions], axis=1)


def _lstm(vocab, arrays, args):
    (s, q, a), (vs, vq, va), (ts, tq, ta) = arrays
    m = args.lstm_memory
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(len(vocab.tokens), 50, mask_zero=True)(inputs)
    h = keras.layers.LSTM(100)(h)
    outputs = keras.layers.Dense(len(vocab.tokens), activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    # No XLA: backprop through an XLA while loop costs 10-50x on CPU (PITFALLS.md).
    model.compile(
        optimizer=keras.optimizers.Adam(0.005, clipnorm=40.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    model.fit(
        _lstm_inputs(s, q, m),
        a,
        validation_data=(_lstm_inputs(vs, vq, m), va),
        epochs=args.lstm_epochs,
        batch_size=32,
        verbose=0,
        callbacks=[stop],
    )
    return model.evaluate(_lstm_inputs(ts, tq, m), ta, verbose=0, return_dict=True)


def _task_arrays(data, task):
    (train_file,) = glob.glob(os.path.join(data, f"qa{task}_*_train.txt"))
    train, validation = _split(read_babi(train_file), task)
    test = read_babi(train_file.replace("_train.txt", "_test.txt"))
    vocab = babi_vocabulary(train, validation, test)
    length = max(len(x) for ex in train for x in [*ex["story"], ex["question"]])
    arrays = [vectorize_babi(e, vocab, 50, length) for e in (train, validation, test)]
    return os.path.basename(train_file)[: -len("_train.txt")], vocab, arrays


def _table(results):
    print(
        "| task | MemN2N error %, chosen by validation | by training error (paper) "
        "| restarts | test error % of each restart |"
    )
    print("|---|---|---|---|---|")
    errors = []
    for name, runs in sorted(results.items(), key=lambda item: int(item[0][2:].split("_")[0])):
        if not runs["memn2n"]:
            continue
        chosen = [abs(_select(runs["memn2n"], split)["test_error"]) for split in ("val", "train")]
        errors.append(chosen)
        each = " ".join(f"{abs(r['test_error']):.1f}" for r in runs["memn2n"])
        print(f"| {name} | {chosen[0]:.1f} | {chosen[1]:.1f} | {len(runs['memn2n'])} | {each} |")
    for rule, e in zip(("validation", "training error"), np.array(errors).T):
        print(
            f"MemN2N chosen by {rule}: mean error {e.mean():.1f}% over {len(e)} tasks, "
            f"passed (<= 5%) {(e <= 5).sum()}",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join("..", "shared", "data", "babi-en-1k"))
    parser.add_argument("--epochs", type=int, default=100, help="epochs after linear start")
    parser.add_argument("--ls-epochs", type=int, default=20, help="most linear-start epochs")
    parser.add_argument(
        "--ls-patience",
        type=int,
        default=20,
        help="epochs without a new best validation loss that end linear start",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=0.01,
        help="SGD rate after linear start (the paper's text: 0.01; its released code: 0.005)",
    )
    parser.add_argument(
        "--position-encoding",
        choices=(*_LIBRARY_ENCODINGS, *_FIXED_J_ENCODINGS),
        default="paper",
        help="the paper's l_kj with each sentence's J (the library's), the released code's "
        "(its formula, J fixed), or one of the two halves of that change",
    )
    parser.add_argument("--halve-every", type=int, default=25)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--random-noise", type=float, default=0.1)
    parser.add_argument("--lstm-epochs", type=int, default=0)
    parser.add_argument("--lstm-memory", type=int, default=20)
    parser.add_argument("--tasks", default="1-20")
    parser.add_argument("--out", default=None, help="JSON file, rewritten after every task")
    parser.add_argument("--resume", action="store_true", help="add restarts to those in --out")
    args = parser.parse_args()
    if "-" in args.tasks:
        lo, hi = args.tasks.split("-")
        tasks = list(range(int(lo), int(hi) + 1))
    else:
        tasks = [int(t) for t in args.tasks.split(",")]
    print(f"backend {keras.config.backend()}; {vars(args)}", flush=True)
    if args.position_encoding in _FIXED_J_ENCODINGS:
        from keras_dlss.layers import end_to_end_memory

        pe = _fixed_j_encoding(_FIXED_J_ENCODINGS[args.position_encoding])
        end_to_end_memory.position_encoding = pe
    data = {task: _task_arrays(args.data, task) for task in tasks}
    results = {name: {"memn2n": []} for name, _, _ in data.values()}
    if args.resume and os.path.exists(args.out):  # more restarts for the tasks of an earlier run
        with open(args.out) as f:
            results.update(json.load(f)["results"])
    for task, (name, vocab, arrays) in data.items():
        start = time.time()
        model = _build_memn2n(vocab, arrays, args)
        done = len(results[name]["memn2n"])
        seeds = [1000 * task + r for r in range(done, done + args.restarts)]
        results[name]["memn2n"] += _train_restarts(model, arrays, args, seeds)
        results[name]["seconds"] = results[name].get("seconds", 0) + time.time() - start
        if args.lstm_epochs:
            keras.utils.set_random_seed(task)
            results[name]["lstm_error"] = 100 * (1 - _lstm(vocab, arrays, args)["accuracy"])
        for run in results[name]["memn2n"]:
            print(
                f"{name} seed {run['seed']}: test {run['test_error']:.1f} val "
                f"{run['val_error']:.1f} train {run['train_error']:.1f} (LS {run['ls_epochs']})"
            )
        print(f"{name}: {results[name]['seconds']:.0f} s", flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump({"args": vars(args), "results": results}, f, indent=1)
        _table(results)


if __name__ == "__main__":
    main()
