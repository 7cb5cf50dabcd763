"""PyTorch peer of `benchmarks/language_models.py`: the same tied-embedding LSTM LM, training
tokens per second on CPU (run in its own process: TensorFlow's thread pools slow torch down).

    .venv/bin/python benchmarks/language_models_torch_peer.py --vocab 5000 --units 256
"""

import argparse
import json
import statistics
import time

import torch


class LSTMLanguageModel(torch.nn.Module):
    def __init__(self, vocab, units):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, units)
        self.lstm = torch.nn.LSTM(units, units, batch_first=True)
        self.bias = torch.nn.Parameter(torch.zeros(vocab))

    def forward(self, tokens):
        h, _ = self.lstm(self.embedding(tokens))
        return h @ self.embedding.weight.T + self.bias  # tied output (Press & Wolf 2017)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=35)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="default: torch's")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = LSTMLanguageModel(args.vocab, args.units)
    optimizer = torch.optim.Adam(model.parameters(), 3e-3)
    x = torch.randint(1, args.vocab, (args.batch, args.length))
    y = torch.randint(1, args.vocab, (args.batch, args.length))
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=0)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x).reshape(-1, args.vocab), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(3):
        step()
    times, cpu_times = [], []
    for _ in range(args.steps):
        start, cpu = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
    seconds = statistics.median(times)
    print(
        json.dumps(
            {
                "torch_step_ms": seconds * 1e3,
                "torch_tokens_per_s": args.batch * args.length / seconds,
                "threads": torch.get_num_threads(),
                "step_seconds": times,
                "step_cpu_seconds": cpu_times,
            }
        )
    )


if __name__ == "__main__":
    main()
