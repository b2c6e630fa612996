import torch
import torch.nn.functional as F
from torch import nn


class SetCriterion(nn.Module):
    """Classification loss plus a supervised-contrastive term computed on a learned projection."""

    def __init__(self, dim, weight_dict, proj_dim=8, temperature=0.5):
        super().__init__()
        self.weight_dict = weight_dict
        self.temperature = temperature
        self.projector = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(),
                                       nn.Linear(dim, proj_dim))

    def loss_con(self, feats, targets):
        z = F.normalize(self.projector(feats), dim=1)
        sim = z @ z.t() / self.temperature
        same = (targets[:, None] == targets[None, :]).float() - torch.eye(len(targets))
        log_prob = sim.log_softmax(dim=1)
        return -(log_prob * same).sum(1).div(same.sum(1).clamp(min=1)).mean()

    def forward(self, outputs, targets):
        return {"loss_ce": F.cross_entropy(outputs["logits"], targets),
                "loss_con": self.loss_con(outputs["feats"], targets)}
