"""ResNet-20 written directly in PyTorch: the peer of `benchmarks/resnet_throughput.py`.

The same network as `keras_dlss.applications.ResNet(20)`: pre-activation basic
blocks (He et al. 2016b), batch norm, option-A shortcuts (strided identity with
zero-padded channels), 16/32/64 channels, global average pooling, a dense head,
Nesterov SGD with momentum 0.9 and cross-entropy. NCHW, as PyTorch users write
it. Run on its own (never in a process that imported TensorFlow: its thread
pools slow PyTorch down, PITFALLS.md); prints one JSON line.

    .venv/bin/python benchmarks/resnet_torch_peer.py --batch-size 128 --steps 10
"""

import argparse
import json
import time

import torch
from torch import nn
from torch.nn import functional as F


class PreActBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.stride, self.pad = stride, c_out - c_in

    def forward(self, x):
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return y + shortcut


class ResNet(nn.Module):
    def __init__(self, depth=20, width=16, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        blocks, c_in = [], width
        for stage in range(3):
            c = width * 2**stage
            for block in range(n):
                blocks.append(PreActBlock(c_in, c, 2 if stage and not block else 1))
                c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.blocks(self.stem(x))))
        return self.fc(x.mean(dim=(2, 3)))


def images_per_second(batch_size, steps, warmup, threads, depth=20):
    torch.manual_seed(0)
    if threads:
        torch.set_num_threads(threads)
    model = ResNet(depth)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    x = torch.rand(batch_size, 3, 32, 32)
    y = torch.randint(0, 10, (batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    speed = batch_size * steps / (time.perf_counter() - start)
    return speed, sum(p.numel() for p in model.parameters())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="0: PyTorch's default")
    parser.add_argument("--depth", type=int, default=20)
    args = parser.parse_args()
    speed, params = images_per_second(
        args.batch_size, args.steps, args.warmup, args.threads, args.depth
    )
    threads = torch.get_num_threads()
    print(json.dumps({"images_per_second": speed, "threads": threads, "parameters": params}))


if __name__ == "__main__":
    main()
