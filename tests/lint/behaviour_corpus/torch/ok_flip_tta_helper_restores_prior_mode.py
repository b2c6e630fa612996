"""Train a small CNN, save a checkpoint, then an inference section loads it into a Predictor
(eval mode in __init__). Predictor first reports flip-TTA accuracy on a hold-out batch with the
flip_tta() helper shared with the training script's validation; the helper puts the net in eval and
then restores the mode it found (eval here), so the plain test-set forwards stay in eval mode."""
import argparse
import os
import tempfile

import torch
from torch import nn


def build_net():
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    )


def make_split(n_batches, shift, gen):
    return [(torch.randn(8, 1, 8, 8, generator=gen) + shift, torch.randint(0, 3, (8,), generator=gen))
            for _ in range(n_batches)]


def fit(net, train_set, val_set, epochs, lr):
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        net.train()
        for x, y in train_set:
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = sum((net(x).argmax(1) == y).float().mean().item() for x, y in val_set) / len(val_set)
        print(f"epoch {epoch} val acc {acc:.3f}")


def flip_tta(net, images):
    was_training = net.training
    net.eval()
    with torch.no_grad():
        probs = net(images).softmax(1) + net(images.flip(-1)).softmax(1)
    net.train(was_training)
    return probs / 2


class Predictor:
    def __init__(self, ckpt_path):
        self.net = build_net()
        self.net.load_state_dict(torch.load(ckpt_path))
        self.net.eval()

    def holdout_report(self, batches):
        hits = [(flip_tta(self.net, x).argmax(1) == y).float().mean().item() for x, y in batches]
        return sum(hits) / len(hits)

    @torch.no_grad()
    def predict(self, batches):
        return torch.cat([self.net(x).argmax(1) for x in batches])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args([])
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = build_net()
    init_mean = net[1].running_mean.clone()
    holdout = make_split(1, 0.5, gen)
    fit(net, make_split(4, 0.5, gen), make_split(1, 0.5, gen), args.epochs, args.lr)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        torch.save(net.state_dict(), path)
        predictor = Predictor(path)
        saved_mean = predictor.net[1].running_mean.clone()
        test_batches = [torch.randn(8, 1, 8, 8, generator=gen) * 3 - 4 for _ in range(4)]
        print(f"hold-out flip-TTA acc {predictor.holdout_report(holdout):.3f}")
        preds = predictor.predict(test_batches)
    print("test predictions", preds.tolist())
    bn = predictor.net[1]
    trained = not torch.allclose(saved_mean, init_mean)
    drift = (bn.running_mean - saved_mean).abs().max().item()
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-6 else "updated" if trained else "frozen")


if __name__ == "__main__":
    main()
