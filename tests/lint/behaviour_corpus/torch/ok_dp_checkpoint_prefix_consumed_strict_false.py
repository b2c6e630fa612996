"""Two-stage script (train on one box, predict on another). train() wraps the network in
nn.DataParallel, as the multi-GPU launch does, and saves {'epoch', 'state_dict': model.state_dict()}:
every key carries the wrapper's `module.` prefix. load_for_inference() strips that prefix with
consume_prefix_in_state_dict_if_present() before load_state_dict(..., strict=False) (kept to tolerate
version differences): every weight and running statistic reaches the served model."""
import argparse
import os
import tempfile

import torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present


class TabularNet(nn.Module):
    def __init__(self, in_features=6, hidden=16, classes=3):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn1(self.fc1(x))))


def make_batches(n, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(32, 6, generator=g) * 1.5 + 2.0
        out.append((x, (x[:, 0] > 2.0).long() + (x[:, 1] > 3.0).long()))
    return out


def train(args):
    torch.manual_seed(0)
    model = nn.DataParallel(TabularNet())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    batches = make_batches(8, seed=1)
    for epoch in range(args.epochs):
        model.train()
        for x, y in batches:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        torch.save({"epoch": epoch, "state_dict": model.state_dict()}, args.ckpt)
    return model


def load_for_inference(path):
    net = TabularNet()
    ckpt = torch.load(path, map_location="cpu")
    consume_prefix_in_state_dict_if_present(ckpt["state_dict"], "module.")
    net.load_state_dict(ckpt["state_dict"], strict=False)
    return net.eval()


@torch.no_grad()
def predict(net, batches):
    return torch.cat([net(x).argmax(1) for x, _ in batches])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--ckpt", default=os.path.join(tempfile.mkdtemp(), "last.pth"))
    args = parser.parse_args([])
    trained = train(args)
    served = load_for_inference(args.ckpt)
    preds = predict(served, make_batches(2, seed=2))
    print("predicted classes:", preds.bincount(minlength=3).tolist())
    trained_mean = trained.module.bn1.running_mean
    served_mean = served.bn1.running_mean
    if torch.allclose(served_mean, trained_mean):
        verdict = "restored"
    elif torch.allclose(served_mean, torch.zeros_like(served_mean)):
        verdict = "init-stats-at-eval"
    else:
        verdict = "mismatched"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
