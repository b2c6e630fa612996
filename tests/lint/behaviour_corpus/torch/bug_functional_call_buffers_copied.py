"""Functional training (weights kept outside the module, as for meta-learning or
weight-space ensembling): the step calls functional_call(model, (params,
buffers), x) with a dict of buffer COPIES made once before training. BatchNorm updates the running
statistics in the dict it is given, so the copies move while the module's own running_mean /
running_var - the ones evaluation and the saved state_dict use - stay at their initial 0 / 1."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call


def make_model():
    return nn.Sequential(nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3))


class FunctionalTrainer:
    def __init__(self, model, lr=0.05, clip=1.0):
        self.model = model
        self.params = {k: v.detach().clone().requires_grad_() for k, v in model.named_parameters()}
        self.buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
        self.lr = lr
        self.clip = clip

    def batch_loss(self, params, x, y):
        logits = functional_call(self.model, (params, self.buffers), (x,))
        return F.cross_entropy(logits, y)

    def step(self, x, y):
        loss = self.batch_loss(self.params, x, y)
        grads = torch.autograd.grad(loss, list(self.params.values()))
        with torch.no_grad():
            for p, g in zip(self.params.values(), grads):
                p.sub_(self.lr * g.clamp(-self.clip, self.clip))
        return loss.item()


def main(steps=4):
    torch.manual_seed(0)
    model = make_model()
    model.train()
    trainer = FunctionalTrainer(model)
    for _ in range(steps):
        trainer.step(torch.randn(16, 5) * 2 + 3, torch.randint(0, 3, (16,)))
    model.eval()
    with torch.no_grad():
        print("eval logits", functional_call(model, trainer.params, (torch.randn(4, 5) * 2 + 3,)).mean().item())
    module_mean = model[1].running_mean
    print("copied buffers moved:", trainer.buffers["1.running_mean"].abs().sum().item() > 0)
    print("BN-GROUND-TRUTH:", "frozen" if torch.all(module_mean == 0) else "updated")


if __name__ == "__main__":
    main()
