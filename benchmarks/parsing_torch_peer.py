"""PyTorch biaffine parser of the same size as ours, timed in its own process (CPU torch).

Run by `benchmarks/parsing_ud_ewt.py`; prints one JSON line with sentences/s of the
network (embeddings, 2-layer BiLSTM, four MLPs, arc and label biaffine scores).

    .venv/bin/python benchmarks/parsing_torch_peer.py '{"batch": 64, "length": 41, ...}'
"""

import json
import statistics
import sys
import time

import torch
from torch import nn


class Biaffine(nn.Module):
    def __init__(self, d_dep, d_head, units, dep_bias=True, head_bias=True):
        super().__init__()
        self.dep_bias, self.head_bias = dep_bias, head_bias
        self.weight = nn.Parameter(torch.randn(units, d_dep + dep_bias, d_head + head_bias) * 0.01)

    def forward(self, x, y):
        if self.dep_bias:
            x = torch.cat([x, torch.ones_like(x[..., :1])], -1)
        if self.head_bias:
            y = torch.cat([y, torch.ones_like(y[..., :1])], -1)
        return torch.einsum("btue,bse->btsu", torch.einsum("btd,ude->btue", x, self.weight), y)


class Parser(nn.Module):
    def __init__(
        self, vocab, upos, labels, emb=100, upos_dim=32, units=128, layers=2, arc=256, lab=64
    ):
        super().__init__()
        self.words = nn.Embedding(vocab, emb, padding_idx=0)
        self.upos = nn.Embedding(upos, upos_dim, padding_idx=0)
        self.lstm = nn.LSTM(emb + upos_dim, units, layers, batch_first=True, bidirectional=True)
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * units, d), nn.LeakyReLU(0.2)) for d in (arc, arc, lab, lab)
        )
        self.arc = Biaffine(arc, arc, 1, head_bias=False)
        self.label = Biaffine(lab, lab, labels)

    def forward(self, words, upos, pack=False):
        x = torch.cat([self.words(words), self.upos(upos)], -1)
        if pack:  # skip padding in both directions, as the Keras model's masked BiLSTM does
            lengths = (words > 0).sum(-1)
            x = nn.utils.rnn.pack_padded_sequence(
                x, lengths, batch_first=True, enforce_sorted=False
            )
            h, _ = self.lstm(x)
            h, _ = nn.utils.rnn.pad_packed_sequence(
                h, batch_first=True, total_length=words.shape[1]
            )
        else:
            h, _ = self.lstm(x)
        a_dep, a_head, l_dep, l_head = (m(h) for m in self.mlps)
        arcs = self.arc(a_dep, a_head)[..., 0]
        arcs = arcs.masked_fill((words == 0)[:, None, :], -1e9)
        return arcs, self.label(l_dep, l_head)


def main():
    cfg = json.loads(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(cfg.get("threads", 2))
    model = Parser(cfg["vocab"], cfg["upos"], cfg["labels"]).eval()
    words = torch.randint(1, cfg["vocab"], (cfg["batch"], cfg["length"]))
    upos = torch.randint(1, cfg["upos"], (cfg["batch"], cfg["length"]))
    times, cpu_times = [], []
    with torch.inference_mode():
        for i in range(cfg["repeats"] + 2):
            start, cpu = time.perf_counter(), time.process_time()
            model(words, upos, pack=cfg.get("pack", False))
            if i >= 2:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu)
    result = {"sentences_per_s": cfg["batch"] / statistics.median(times)}
    print(json.dumps({**result, "seconds": times, "cpu_seconds": cpu_times}))


if __name__ == "__main__":
    main()
