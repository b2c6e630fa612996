"""Channels-last + bfloat16 autocast training loop (CPU autocast). The model is converted with
.to(memory_format=torch.channels_last); validation runs under eval() + inference_mode at the end
of each epoch and the next epoch starts with model.train(). BatchNorm statistics update in float32."""
import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Net(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(3, 8), conv_bn_relu(8, 8, 2))
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.body(x), 1), 1))


def train_one_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()


@torch.inference_mode()
def evaluate(model, loader):
    model.eval()
    hits = 0
    for x, y in loader:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            hits += (model(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y).sum().item()
    return hits / sum(len(y) for _, y in loader)


def main(epochs=2):
    torch.manual_seed(0)
    model = Net().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_loader = [(torch.randn(8, 3, 8, 8) + 1, torch.randint(0, 3, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 3, 8, 8), torch.randint(0, 3, (8,)))]
    for epoch in range(epochs):
        train_one_epoch(model, train_loader, optimizer)
        print(f"epoch {epoch} acc {evaluate(model, val_loader):.2f}")
    bn = model.body[0][1]
    ok = int(bn.num_batches_tracked) == epochs * len(train_loader) and bn.running_mean.dtype == torch.float32
    print("BN-GROUND-TRUTH:", "updated" if ok else "stale")


if __name__ == "__main__":
    main()
