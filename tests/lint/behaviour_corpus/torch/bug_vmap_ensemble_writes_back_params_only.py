"""Deep ensemble trained in one pass with torch.func (the "model ensembling" recipe): the members'
weights and buffers are stacked with stack_module_state, a meta-device template is run with
vmap(functional_call) and one optimizer steps the stacked parameters. After training,
unstack_into_members() copies every member's slice of the stacked parameters back into its
nn.Module so the members can be saved and evaluated one by one - but only the parameters: the
BatchNorm running statistics were updated in the stacked buffer tensors, and each member module
keeps its initial 0 / 1 running_mean / running_var for evaluation."""
import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state

CONFIG = {"members": 4, "width": 12, "steps": 8, "lr": 5e-3, "batch": 32}


def build_member(width):
    return nn.Sequential(nn.Linear(5, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, 2))


class Ensemble:
    def __init__(self, cfg):
        self.members = [build_member(cfg["width"]) for _ in range(cfg["members"])]
        self.params, self.buffers = stack_module_state(self.members)
        self.template = copy.deepcopy(self.members[0]).to("meta")

    def _one(self, params, buffers, x):
        return functional_call(self.template, (params, buffers), (x,))

    def __call__(self, x):
        return torch.vmap(self._one, in_dims=(0, 0, None))(self.params, self.buffers, x)

    def unstack_into_members(self):
        with torch.no_grad():
            for i, member in enumerate(self.members):
                for name, p in member.named_parameters():
                    p.copy_(self.params[name][i])


def train(ensemble, cfg, gen):
    opt = torch.optim.Adam(list(ensemble.params.values()), lr=cfg["lr"])
    for step in range(cfg["steps"]):
        x = torch.randn(cfg["batch"], 5, generator=gen) * 3 + 2
        y = (x[:, 0] > 2).long()
        logits = ensemble(x)
        loss = sum(F.cross_entropy(l, y) for l in logits)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def evaluate_members(members, gen):
    x = torch.randn(64, 5, generator=gen) * 3 + 2
    y = (x[:, 0] > 2).long()
    accs = []
    for m in members:
        m.eval()
        with torch.no_grad():
            accs.append((m(x).argmax(1) == y).float().mean().item())
    return accs


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    ens = Ensemble(CONFIG)
    print("final loss", train(ens, CONFIG, gen))
    ens.unstack_into_members()
    print("member accuracies", evaluate_members(ens.members, gen))
    member_means = torch.stack([m[1].running_mean for m in ens.members])
    stacked_means = ens.buffers["1.running_mean"]
    if torch.allclose(member_means, stacked_means) and not torch.all(stacked_means == 0):
        behaviour = "updated"
    elif torch.all(member_means == 0):
        behaviour = "init-stats-at-eval"
    else:
        behaviour = "mismatched"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
