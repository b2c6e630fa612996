"""TENT: adapt BN affine parameters and statistics on unlabeled test batches (deliberate train mode)."""
import copy

import torch
import torch.nn as nn


def configure_model(model):
    model.train()
    model.requires_grad_(False)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.requires_grad_(True)
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
    return model


def softmax_entropy(logits):
    return -(logits.softmax(1) * logits.log_softmax(1)).sum(1)


class Tent(nn.Module):
    def __init__(self, model, optimizer, steps=1):
        super().__init__()
        self.model, self.optimizer, self.steps = model, optimizer, steps

    def forward(self, x):
        for _ in range(self.steps):
            outputs = self.model(x)
            loss = softmax_entropy(outputs).mean()
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad()
        return outputs


if __name__ == "__main__":
    torch.manual_seed(0)
    source = nn.Sequential(nn.Linear(6, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 3))
    source.eval()
    model = configure_model(copy.deepcopy(source))
    params = [p for m in model.modules() if isinstance(m, nn.BatchNorm1d) for p in m.parameters()]
    tented = Tent(model, torch.optim.SGD(params, lr=1e-3))
    shifted_test = torch.randn(32, 6) * 3 + 4
    with torch.no_grad():
        src_out = source(shifted_test)
    out = tented(shifted_test)
    uses_test_stats = not torch.allclose(src_out, out.detach())
    print("BN-GROUND-TRUTH:", "adapted-to-test-batch" if uses_test_stats else "unchanged")
