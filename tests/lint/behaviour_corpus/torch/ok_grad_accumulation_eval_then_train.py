"""Gradient accumulation: the optimizer steps every `accum_steps` micro-batches; every `eval_every`
optimizer steps the model is evaluated (eval()) and put straight back into train() before the next
micro-batch."""
from types import SimpleNamespace

import torch
from torch import nn

CONFIG = SimpleNamespace(accum_steps=2, eval_every=2, micro_batches=12, lr=5e-3)


class TextCNN(nn.Module):
    def __init__(self, vocab=50, dim=8, classes=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, dim, 3, padding=1)
        self.bn = nn.BatchNorm1d(dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, tokens):
        h = self.embed(tokens).transpose(1, 2)
        return self.fc(torch.relu(self.bn(self.conv(h))).max(dim=2).values)


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    correct = sum((model(t).argmax(1) == y).sum().item() for t, y in batches)
    return correct / sum(len(y) for _, y in batches)


def train(model, micro_batches, val_batches, cfg=CONFIG):
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    optimizer_steps = 0
    model.train()
    optimizer.zero_grad()
    for i, (tokens, labels) in enumerate(micro_batches, start=1):
        loss = nn.functional.cross_entropy(model(tokens), labels) / cfg.accum_steps
        loss.backward()
        if i % cfg.accum_steps:
            continue
        optimizer.step()
        optimizer.zero_grad()
        optimizer_steps += 1
        if optimizer_steps % cfg.eval_every == 0:
            print(f"optimizer step {optimizer_steps} val acc {evaluate(model, val_batches):.2f}")
            model.train()


def main():
    torch.manual_seed(0)
    model = TextCNN()
    micro = [(torch.randint(0, 50, (8, 12)), torch.randint(0, 2, (8,))) for _ in range(CONFIG.micro_batches)]
    val = [(torch.randint(0, 50, (8, 12)), torch.randint(0, 2, (8,)))]
    train(model, micro, val)
    tracked = int(model.bn.num_batches_tracked)
    print("BN-GROUND-TRUTH:", "updated" if tracked == CONFIG.micro_batches else "stale")


if __name__ == "__main__":
    main()
