"""Attack parity and speed: keras_dlss.adversarial (TF backend, XLA) vs adversarial-robustness-toolbox.

A digits MLP (64-64-10, logits) is trained in Keras on scikit-learn's bundled
8x8 digits (pixels scaled to [0, 1]); its weights are copied into PyTorch and
attacked there with ART's `FastGradientMethod` and `ProjectedGradientDescent`
(PyTorch estimator, in its own process), and here with ours, at the same ε,
steps and step size, without random start. It prints the largest difference
between the two sets of adversarial examples, both success rates (fraction of
correctly classified test inputs that the attack flips) and the throughput.
ART's TensorFlow estimator is also run on the Keras 3 model itself (same process,
untimed) and compared.

    .venv/bin/pip install adversarial-robustness-toolbox    # the `bench` extra
    .venv/bin/python benchmarks/attack_parity.py [--eps 0.05,0.1] [--pgd-steps 20]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y.astype("int64")


def median_s(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def attacks(eps_list, steps):
    """(name, eps, kind, step size, steps): FGSM and PGD-`steps` with step 2.5 eps / steps."""
    out = []
    for eps in eps_list:
        out.append((f"fgsm eps={eps:g}", eps, "fgsm", eps, 1))
        out.append((f"pgd{steps} eps={eps:g}", eps, "pgd", 2.5 * eps / steps, steps))
    return out


def art_peer(path, eps_list, steps, repeats, out):
    import torch
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    torch.set_num_threads(2)
    data = np.load(path)
    w = [data[f"w{i}"] for i in range(4)]
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    with torch.no_grad():
        for layer, (k, b) in zip((net[0], net[2]), ((w[0], w[1]), (w[2], w[3]))):
            layer.weight.copy_(torch.tensor(k.T.copy())), layer.bias.copy_(torch.tensor(b))
    clf = PyTorchClassifier(
        net, torch.nn.CrossEntropyLoss(), (64,), 10, clip_values=(0.0, 1.0), device_type="cpu"
    )
    x, y = data["x"], data["y"]
    results, times = {}, {}
    for name, eps, kind, step, n in attacks(eps_list, steps):
        if kind == "fgsm":
            attack = FastGradientMethod(clf, eps=eps, batch_size=len(x))
        else:
            attack = ProjectedGradientDescent(
                clf,
                eps=eps,
                eps_step=step,
                max_iter=n,
                num_random_init=0,
                batch_size=len(x),
                verbose=False,
            )
        results[name] = attack.generate(x, y=y)
        times[name] = median_s(lambda a=attack: a.generate(x, y=y), repeats)
    np.savez(out, **results)
    with open(out + ".json", "w") as f:
        json.dump(times, f)


def art_tensorflow_attack(model, x, y, kind, eps, step, steps):
    """ART's TensorFlowV2Classifier on the Keras 3 model (same process): examples or an error."""
    try:
        import tensorflow as tf
        from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
        from art.estimators.classification import TensorFlowV2Classifier

        clf = TensorFlowV2Classifier(
            model,
            nb_classes=10,
            input_shape=(64,),
            clip_values=(0.0, 1.0),
            loss_object=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        if kind == "fgsm":
            attack = FastGradientMethod(clf, eps=eps, batch_size=len(x))
        else:
            attack = ProjectedGradientDescent(
                clf,
                eps=eps,
                eps_step=step,
                max_iter=steps,
                num_random_init=0,
                batch_size=len(x),
                verbose=False,
            )
        return attack.generate(x, y=np.eye(10)[y])
    except Exception as e:  # what a Keras 3 user meets
        return f"fails: {type(e).__name__}: {str(e).splitlines()[0][:160]}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--eps", default="0.05,0.1")
    parser.add_argument("--pgd-steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    eps_list = [float(e) for e in args.eps.split(",")]
    if args.peer:
        return art_peer(*args.peer[:1], eps_list, args.pgd_steps, args.repeats, args.peer[1])

    import keras
    from keras import ops

    from keras_dlss import adversarial

    x, y = digits()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True
    )
    model.fit(x[:1400], y[:1400], epochs=20, batch_size=64, verbose=0)
    x_test, y_test = x[1400:], y[1400:]
    clean = np.asarray(model.predict(x_test, verbose=0)).argmax(1) == y_test
    print(f"digits MLP: clean test accuracy {clean.mean():.4f} on {len(x_test)} examples")

    tmp = tempfile.mkdtemp()
    weights_path, out = os.path.join(tmp, "w.npz"), os.path.join(tmp, "art.npz")
    np.savez(
        weights_path, x=x_test, y=y_test, **{f"w{i}": w for i, w in enumerate(model.get_weights())}
    )
    cmd = [
        sys.executable,
        __file__,
        "--peer",
        weights_path,
        out,
        "--eps",
        args.eps,
        "--pgd-steps",
        str(args.pgd_steps),
        "--repeats",
        str(args.repeats),
    ]
    subprocess.run(cmd, check=True)
    peer = np.load(out)
    with open(out + ".json") as f:
        peer_s = json.load(f)

    print(
        f"{'attack':18} {'vs ART-torch':>12} {'vs ART-TF':>10} {'success ours':>12} {'success ART':>11} "
        f"{'ours ex/s':>10} {'ART ex/s':>9} {'speed-up':>8}"
    )
    for name, eps, kind, step, n in attacks(eps_list, args.pgd_steps):
        if kind == "fgsm":
            fn = lambda e=eps: adversarial.fgsm(model, x_test, y_test, e, from_logits=True)  # noqa: E731
        else:
            fn = lambda e=eps, s=step, k=n: adversarial.pgd(  # noqa: E731
                model,
                x_test,
                y_test,
                e,
                step_size=s,
                steps=k,
                random_start=False,
                from_logits=True,
            )
        mine = np.asarray(ops.convert_to_numpy(fn()))
        seconds = median_s(fn, args.repeats)
        ref = peer[name]

        def success(adv):
            flipped = np.asarray(model.predict(adv, verbose=0)).argmax(1) != y_test
            return (flipped & clean).sum() / clean.sum()

        n_ex = len(x_test)
        art_tf = art_tensorflow_attack(model, x_test, y_test, kind, eps, step, n)
        if isinstance(art_tf, str):
            print(f"ART TensorFlowV2Classifier: {art_tf}")
            vs_tf = "    failed"
        else:
            vs_tf = f"{np.abs(mine - art_tf).max():10.2e}"
        print(
            f"{name:18} {np.abs(mine - ref).max():12.2e} {vs_tf} {success(mine):12.4f} "
            f"{success(ref):11.4f} {n_ex / seconds:10.0f} {n_ex / peer_s[name]:9.0f} "
            f"{peer_s[name] / seconds:7.2f}x"
        )


if __name__ == "__main__":
    main()
