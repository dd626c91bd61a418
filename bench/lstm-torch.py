"""PyTorch on the model and shapes of `npm run bench:lstm`, as its speed anchor.

Usage: /usr/bin/python3 bench/lstm-torch.py --threads N [--batch 256 --window 50 --features 15 --seconds 8]
Prints one JSON line: training and batch-inference windows/s with N intra-op threads.
Same model as Vigil's failure predictor: LSTM 64 (all steps) -> dropout 0.2 -> LSTM 32 -> dropout ->
two heads on the last state (failure: sigmoid + binary cross-entropy; RUL: linear + MSE), Adam.
"""
import argparse
import json
import time

import torch
from torch import nn

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, required=True)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--window", type=int, default=50)
p.add_argument("--features", type=int, default=15)
p.add_argument("--seconds", type=float, default=8.0)
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(1)


class Predictor(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.lstm1 = nn.LSTM(features, 64, batch_first=True)
        self.lstm2 = nn.LSTM(64, 32, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.failure = nn.Linear(32, 1)
        self.rul = nn.Linear(32, 1)

    def forward(self, x):
        h, _ = self.lstm1(x)
        h, _ = self.lstm2(self.drop(h))
        last = self.drop(h[:, -1, :])
        return torch.sigmoid(self.failure(last)), self.rul(last)


model = Predictor(a.features)
opt = torch.optim.Adam(model.parameters(), lr=0.002)
bce = nn.BCELoss()
mse = nn.MSELoss()
pool = 16
xs = torch.randn(pool, a.batch, a.window, a.features)
yf = (torch.rand(pool, a.batch, 1) < 0.3).float()
yr = torch.rand(pool, a.batch, 1)


def train_step(i):
    opt.zero_grad()
    pf, pr = model(xs[i % pool])
    loss = bce(pf, yf[i % pool]) + mse(pr, yr[i % pool])
    loss.backward()
    opt.step()


def rate(fn, seconds):
    fn(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        n += 1
        fn(n)
    return n / (time.perf_counter() - t0)


model.train()
train = rate(train_step, a.seconds) * a.batch
model.eval()
infer_x = torch.randn(4096, a.window, a.features)


def infer(_):
    with torch.no_grad():
        for s in range(0, 4096, 512):
            model(infer_x[s : s + 512])


inference = rate(infer, a.seconds / 2) * 4096
print(json.dumps({"torch": torch.__version__, "threads": a.threads, "trainWindowsPerSecond": train, "inferWindowsPerSecond": inference}))
