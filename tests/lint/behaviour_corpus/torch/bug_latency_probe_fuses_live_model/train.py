"""python train.py -- trains the classifier and logs accuracy + deployment latency per epoch."""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmark import measure_latency  # noqa: E402
from engine import evaluate, train_one_epoch  # noqa: E402
from models import build_model  # noqa: E402

CFG = {"in_ch": 3, "width": 8, "num_classes": 4, "epochs": 4, "lr": 0.05, "batch_size": 16,
       "log_latency": True}


def make_loader(gen, n_batches, shift):
    batches = []
    for _ in range(n_batches):
        x = torch.randn(CFG["batch_size"], CFG["in_ch"], 8, 8, generator=gen) * 2.0 + shift
        y = torch.randint(0, CFG["num_classes"], (CFG["batch_size"],), generator=gen)
        batches.append((x, y))
    return batches


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    train_loader = make_loader(gen, 4, 1.5)
    val_loader = make_loader(gen, 2, 1.5)
    model = build_model(CFG)
    optimizer = torch.optim.SGD(model.parameters(), lr=CFG["lr"], momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    bn = model.bn1  # the framework's own BN object, kept to read its buffers
    steps = 0
    for epoch in range(CFG["epochs"]):
        train_one_epoch(model, train_loader, optimizer, criterion)
        steps += len(train_loader)
        acc = evaluate(model, val_loader)
        msg = f"epoch {epoch} val acc {acc:.3f}"
        if CFG["log_latency"] and epoch == 0:  # deployment latency logged once, after the first epoch
            msg += f" latency {measure_latency(model, val_loader[0][0][:1]):.2f} ms"
        print(msg)
    tracked = int(bn.num_batches_tracked)
    in_model = any(m is bn for m in model.modules())
    print(f"optimizer steps {steps}, bn1.num_batches_tracked {tracked}, bn1 still in model: {in_model}")
    if in_model and tracked == steps:
        verdict = "updated"
    elif 0 < tracked < steps:
        verdict = "stale"  # statistics folded away after the first epochs, later epochs train without BN
    else:
        verdict = "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
