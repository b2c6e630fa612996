"""MAML with torch.func.functional_call: support and query both in train mode (transductive BN, deliberate)."""
import torch
from torch import nn
from torch.func import functional_call


def make_learner():
    return nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))


def inner_adapt(model, params, buffers, x, y, lr=0.1, steps=1):
    for _ in range(steps):
        pred = functional_call(model, (params, buffers), (x,))
        grads = torch.autograd.grad(nn.functional.mse_loss(pred, y), list(params.values()), create_graph=True)
        params = {k: p - lr * g for (k, p), g in zip(params.items(), grads)}
    return params


def meta_train(model, tasks, meta_opt):
    model.train()
    for xs, ys, xq, yq in tasks:
        params = dict(model.named_parameters())
        buffers = dict(model.named_buffers())
        fast = inner_adapt(model, params, buffers, xs, ys)
        query_loss = nn.functional.mse_loss(functional_call(model, (fast, buffers), (xq,)), yq)
        meta_opt.zero_grad()
        query_loss.backward()
        meta_opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    learner = make_learner()
    meta_opt = torch.optim.Adam(learner.parameters(), 1e-3)
    tasks = [(torch.randn(5, 2), torch.randn(5, 1), torch.randn(10, 2), torch.randn(10, 1)) for _ in range(3)]
    start = learner[1].num_batches_tracked.item()
    meta_train(learner, tasks, meta_opt)
    print("BN-GROUND-TRUTH:", "updated" if learner[1].num_batches_tracked.item() > start else "frozen")
