"""PyTorch peers of `benchmarks/gpu_suite.py`, run in their own process; prints one JSON line.

The same work as our side: pytorch-crf's NLL + gradient (when pytorch-crf is
installed), ResNet-20 (`resnet_torch_peer.ResNet`) and a Transformer encoder LM
(`torch.nn.TransformerEncoderLayer`, pre-norm, GELU, no dropout) trained with
the same optimizers, float32 and bfloat16 autocast.

    python benchmarks/gpu_suite_torch.py --device cuda --config '{"crf": [[32, 256, 20]], ...}'
"""

import argparse
import functools
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def _median_ms(fn, repeats, device):
    fn()
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _crf_step(crf, emissions, tags):
    crf.zero_grad()
    emissions.grad = None
    (-crf(emissions, tags, reduction="sum")).backward()


def crf_rows(shapes, device, repeats=10):
    try:
        from torchcrf import CRF
    except ImportError:
        return []
    rows = []
    for b, t, k in shapes:
        crf = CRF(k, batch_first=True).to(device)
        emissions = torch.randn(b, t, k, device=device, requires_grad=True)
        tags = torch.randint(0, k, (b, t), device=device)

        ms = _median_ms(functools.partial(_crf_step, crf, emissions, tags), repeats, device)
        for algorithm in ("sequential", "parallel"):
            rows.append(
                dict(workload="CRF NLL + grad", setting=f"B={b} T={t} K={k}, {algorithm}", value=ms)
            )
    return rows


def _train_rate(model, optimizer, loss_fn, x, y, batch, steps, device, precision):
    autocast = torch.autocast(
        device_type=device, dtype=torch.bfloat16, enabled=precision == "bfloat16"
    )

    def step(i):
        xb, yb = x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()

    step(0)
    step(min(1, steps - 1))
    _sync(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def resnet_rows(cfg, device):
    from resnet_torch_peer import ResNet

    rows = []
    for precision in ("float32", "bfloat16"):
        model = ResNet(20).to(device).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        n = cfg["batch"] * cfg["steps"]
        x = torch.randn(n, 3, 32, 32, device=device).to(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (n,), device=device)
        rate = _train_rate(
            model,
            optimizer,
            nn.CrossEntropyLoss(),
            x,
            y,
            cfg["batch"],
            cfg["steps"],
            device,
            precision,
        )
        rows.append(
            dict(
                workload="ResNet-20 training",
                setting=f"batch {cfg['batch']}, {precision}",
                value=rate,
            )
        )
    return rows


class TransformerLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Embedding(cfg["vocab"], cfg["width"])
        layer = nn.TransformerEncoderLayer(
            cfg["width"],
            cfg["heads"],
            4 * cfg["width"],
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg["layers"], enable_nested_tensor=False)
        self.head = nn.Linear(cfg["width"], cfg["vocab"])

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens))).float()


def transformer_rows(cfg, device):
    rows = []
    for precision in ("float32", "bfloat16"):
        model = TransformerLM(cfg).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        n = cfg["batch"] * cfg["steps"]
        x = torch.randint(0, cfg["vocab"], (n, cfg["length"]), device=device)
        y = torch.roll(x, -1, dims=1)

        def loss_fn(logits, target):
            return nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1)
            )

        rate = _train_rate(
            model, optimizer, loss_fn, x, y, cfg["batch"], cfg["steps"], device, precision
        )
        setting = (
            f"{cfg['layers']}x(d={cfg['width']}, h={cfg['heads']}), L={cfg['length']}, "
            f"batch {cfg['batch']}, {precision}"
        )
        rows.append(
            dict(workload="Transformer LM training", setting=setting, value=rate * cfg["length"])
        )
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument(
        "--config", required=True, help="JSON: crf shapes, resnet and transformer sizes"
    )
    args = parser.parse_args()
    cfg = json.loads(args.config)
    torch.manual_seed(0)
    rows = crf_rows(cfg["crf"], args.device)
    rows += resnet_rows(cfg["resnet"], args.device) if cfg["resnet"] else []
    rows += transformer_rows(cfg["transformer"], args.device) if cfg["transformer"] else []
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(json.dumps({"torch": f"torch {torch.__version__} on {name}", "rows": rows}))


if __name__ == "__main__":
    main()
