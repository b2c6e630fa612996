"""Memory-saving training of a deep residual MLP: with cfg.grad_checkpointing every trunk block runs
through torch.utils.checkpoint.checkpoint (non-reentrant). Each block is run again during backward
with BatchNorm in train mode; the checkpoint's context_fn gives the RECOMPUTATION a context that sets
the block's BatchNorm momentum to 0 for its duration (fairscale patch_batchnorm idea), so the second
pass leaves running_mean / running_var untouched. num_batches_tracked still counts twice, but the
running statistics equal those of the same run without checkpointing."""
import contextlib
import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint


@dataclass
class Config:
    depth: int = 4
    width: int = 16
    steps: int = 6
    lr: float = 1e-2
    grad_checkpointing: bool = True


class ResBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width, bias=False)
        self.norm = nn.BatchNorm1d(width)

    def forward(self, x):
        return x + F.relu(self.norm(self.fc(x)))


@contextlib.contextmanager
def _hold_running_stats(module):
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum


def checkpoint_kwargs(block):
    return {"use_reentrant": False,
            "context_fn": lambda: (contextlib.nullcontext(), _hold_running_stats(block))}


class DeepMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Linear(8, cfg.width)
        self.trunk = nn.ModuleList(ResBlock(cfg.width) for _ in range(cfg.depth))
        self.head = nn.Linear(cfg.width, 1)

    def forward(self, x):
        h = self.stem(x)
        for block in self.trunk:
            if self.cfg.grad_checkpointing and self.training:
                h = checkpoint(block, h, **checkpoint_kwargs(block))
            else:
                h = block(h)
        return self.head(h)


def train(model, batches, cfg):
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    model.train()
    for x, y in batches:
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def main():
    cfg = Config()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(32, 8, generator=gen) * 2 + 1, torch.randn(32, 1, generator=gen))
               for _ in range(cfg.steps)]
    model = DeepMLP(cfg)
    reference = copy.deepcopy(model)
    reference.cfg = Config(grad_checkpointing=False)
    print("loss (checkpointed)", train(model, batches, cfg))
    print("loss (reference)", train(reference, batches, reference.cfg))

    bn, ref_bn = model.trunk[0].norm, reference.trunk[0].norm
    counted = int(bn.num_batches_tracked)
    print("optimizer steps", cfg.steps, "num_batches_tracked", counted)
    if torch.allclose(bn.running_mean, ref_bn.running_mean, atol=1e-5) and \
            torch.allclose(bn.running_var, ref_bn.running_var, atol=1e-5):
        behaviour = "updated"
    elif counted == 2 * cfg.steps:
        behaviour = "double-updated"
    else:
        behaviour = "mismatched"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
