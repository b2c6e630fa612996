"""Cost of the run-time probes, side by side with plain training, in one run.

1. PyTorch: ``bnguard.torch.probe`` on one step of a ResNet-style CNN vs one plain step and vs
   one plain step plus a copy of the full training state (parameters, buffers, Adam state). The
   issue's budget: the probe costs at most one extra step plus the copy (ratio ~1.0 to the
   step+copy, plus the per-BN-layer batch statistics the probe computes in its hooks).
2. Keras 3 (TensorFlow backend): ``fit`` with ``BNGuardCallback`` vs plain ``fit``, per-batch time
   over the epochs *after* the first (the callback only works on the first batch). Target: ratio
   1.00 within noise.

Times are CPU time of this process (``time.process_time``): steadier than wall time on a shared
machine. Runs are interleaved and the median is compared.

    .venv/bin/python bench/probe_overhead.py [--repeats 7] [--keras-batches 200]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def torch_part(repeats: int) -> None:
    import torch
    from torch import nn

    from bnguard.torch import probe

    torch.set_num_threads(1)  # steadier timings on a shared machine

    def block(cin, cout, stride):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                             nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU())

    torch.manual_seed(0)
    model = nn.Sequential(block(3, 32, 1), block(32, 64, 2), block(64, 128, 2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))

    def step():
        model.train()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    def copy_state():
        return copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())

    def timed(fn) -> float:
        start = time.process_time()
        fn()
        return time.process_time() - start

    step()  # warm up, optimizer state exists
    plain, copied, probed = [], [], []
    for _ in range(repeats):  # interleaved so that machine noise hits all three alike
        plain.append(timed(step))
        copied.append(timed(lambda: (copy_state(), step())))
        probed.append(timed(lambda: probe(model, step, optimizer=opt)))
    p, c, r = (statistics.median(v) for v in (plain, copied, probed))
    print(f"torch  plain step           {p * 1e3:8.2f} ms")
    print(f"torch  step + state copy    {c * 1e3:8.2f} ms")
    print(f"torch  bnguard.torch.probe  {r * 1e3:8.2f} ms")
    print(f"torch  ratio probe / plain step        {r / p:6.2f}x")
    print(f"torch  ratio probe / (step + copy)     {r / c:6.2f}x")


def keras_part(batches: int, repeats: int) -> None:
    import keras
    import numpy as np

    from bnguard.keras import BNGuardCallback

    class EpochTimer(keras.callbacks.Callback):
        """Wall time per epoch (epoch hooks only: no per-batch hooks of its own)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.process_time() - self.t)

    def build():
        keras.utils.set_random_seed(0)
        inp = keras.Input((32,))
        h = inp
        for _ in range(3):
            h = keras.layers.Dense(64)(h)
            h = keras.layers.BatchNormalization()(h)
            h = keras.layers.ReLU()(h)
        model = keras.Model(inp, keras.layers.Dense(1)(h))
        model.compile(optimizer="adam", loss="mse")
        return model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(batches * 32, 32)).astype("float32")
    y = x.sum(1, keepdims=True)
    # "plain-again" is a second plain arm: its ratio to "plain" is the noise floor of this machine
    per_batch = {"plain": [], "plain-again": [], "bnguard": []}
    arms = ["plain", "bnguard", "plain-again"]
    for r in range(repeats):
        for name in arms[r % 3:] + arms[:r % 3]:  # rotated: no arm always runs in the same slot
            timer = EpochTimer()
            timer.times = []
            callbacks = [timer] + ([BNGuardCallback(on_problem="raise")] if name == "bnguard" else [])
            build().fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=callbacks)
            per_batch[name].extend(t / batches for t in timer.times[1:])  # after the first epoch
    p, a, g = (statistics.median(per_batch[k]) for k in ("plain", "plain-again", "bnguard"))
    print(f"keras  plain fit, per batch (epochs 2-3)             {p * 1e6:8.1f} us")
    print(f"keras  fit + BNGuardCallback, per batch (epochs 2-3) {g * 1e6:8.1f} us")
    print(f"keras  ratio callback / plain                        {g / p:6.3f}x")
    print(f"keras  ratio plain-again / plain (noise floor)       {a / p:6.3f}x")

    # What the callback does per batch after the first, measured directly: one Python call that
    # returns at once (Keras calls on_train_batch_begin of every callback on every batch).
    cb = BNGuardCallback(on_problem="raise")
    build().fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    calls = 100_000
    start = time.process_time()
    for i in range(calls):
        cb.on_train_batch_begin(i)
    hook = (time.process_time() - start) / calls
    print(f"keras  callback work per batch after the first       {hook * 1e6:8.3f} us "
          f"({hook / p * 100:.4f}% of a plain batch)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--keras-batches", type=int, default=200)
    ap.add_argument("--keras-repeats", type=int, default=6)
    args = ap.parse_args()
    torch_part(args.repeats)
    keras_part(args.keras_batches, args.keras_repeats)


if __name__ == "__main__":
    main()
