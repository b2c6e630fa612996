"""Fine-tuning script that puts the model in eval mode while setting up and never back."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 16)
        self.bn1 = nn.BatchNorm1d(16)
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        return self.out(F.relu(self.bn1(self.fc1(x))))


def load_pretrained():
    net = SmallNet()
    net.eval()  # "inference mode" left over from a sanity check
    with torch.no_grad():
        net(torch.randn(4, 10))
    return net


def train(net, steps=5):
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        x = torch.randn(16, 10) * 2 + 3
        y = torch.randint(0, 2, (16,))
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    net = load_pretrained()
    start = net.bn1.running_mean.clone()
    train(net)
    print("BN-GROUND-TRUTH:", "frozen" if torch.equal(start, net.bn1.running_mean) else "updated")
