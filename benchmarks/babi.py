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
        random_noise=args.random_noise,
        tied_answer=True,
    )
    return model


def _paper_rates(args):
    """Per-epoch learning rate after linear start: `rate` halved every `halve_every` epochs."""
    return [0.01 * 0.5 ** (e // args.halve_every) for e in range(args.epochs)]


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
            run[f"{split}_error"], run[f"{split}_loss"] = max(float(err), 0.0), float(loss)
    return runs


def _select(restarts):
    """The restart with the lowest validation error (then loss); the test error is never used."""
    return min(restarts, key=lambda r: (r["val_error"], r["val_loss"]))


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
    print("| task | MemN2N error % (selected) | restarts | test error % of each restart |")
    print("|---|---|---|---|")
    errors = []
    for name, runs in results.items():
        if not runs["memn2n"]:
            continue
        best = _select(runs["memn2n"])
        errors.append(best["test_error"])
        each = " ".join(f"{r['test_error']:.1f}" for r in runs["memn2n"])
        print(f"| {name} | {best['test_error']:.1f} | {len(runs['memn2n'])} | {each} |")
    errors = np.array(errors)
    print(
        f"MemN2N: mean error {errors.mean():.1f}% over {len(errors)} tasks, "
        f"passed (<= 5%) {(errors <= 5).sum()}",
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
