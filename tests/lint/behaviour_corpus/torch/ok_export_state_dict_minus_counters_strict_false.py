"""Two-stage script (train -> serve) in one file: export_weights() writes the full state_dict minus
the `num_batches_tracked` counters (not needed for serving, and absent from older checkpoints), and
the serving side loads it with load_state_dict(..., strict=False) so the missing counters do not
raise. Filter and strict=False look like a lossy export, but running_mean / running_var are kept:
the served model (eval mode) normalizes with the trained statistics."""
import argparse
import io

import torch
import torch.nn.functional as F
from torch import nn


class TabularNet(nn.Module):
    def __init__(self, n_in=6, width=16, n_out=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(),
                                  nn.Linear(width, width, bias=False), nn.BatchNorm1d(width), nn.ReLU())
        self.head = nn.Linear(width, n_out)

    def forward(self, x):
        return self.head(self.body(x))


def parse_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=32)
    return p.parse_args(argv)


def make_batches(gen, n, bs):
    return [(torch.randn(bs, 6, generator=gen) * 2 + 4, torch.randint(0, 3, (bs,), generator=gen)) for _ in range(n)]


def fit(model, batches, args):
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        model.train()
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch} loss {loss.item():.3f}")


def export_weights(model, fh):
    weights = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(weights, fh)


def load_for_serving(fh):
    net = TabularNet()
    result = net.load_state_dict(torch.load(fh), strict=False)
    print("ignored missing keys:", len(result.missing_keys))
    return net.eval()


def main():
    args = parse_args([])
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = TabularNet()
    fit(model, make_batches(gen, 6, args.batch_size), args)

    buf = io.BytesIO()
    export_weights(model, buf)
    buf.seek(0)
    served = load_for_serving(buf)
    with torch.no_grad():
        preds = served(torch.randn(8, 6, generator=gen) * 2 + 4).argmax(1)
    print("served predictions", preds.tolist())

    trained = model.body[1].running_mean
    got = served.body[1].running_mean
    if torch.allclose(got, trained):
        behaviour = "restored"
    elif torch.all(got == 0) and torch.all(served.body[1].running_var == 1):
        behaviour = "init-stats-at-eval"
    else:
        behaviour = "mismatched"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
