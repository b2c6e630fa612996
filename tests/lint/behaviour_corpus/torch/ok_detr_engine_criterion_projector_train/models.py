from torch import nn

from losses import SetCriterion


class Encoder(nn.Module):
    def __init__(self, n_in=12, dim=16, num_classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, dim), nn.BatchNorm1d(dim), nn.ReLU())
        self.cls = nn.Linear(dim, num_classes)

    def forward(self, x):
        feats = self.body(x)
        return {"logits": self.cls(feats), "feats": feats}


def build(args):
    model = Encoder(args.n_in, args.dim, args.num_classes)
    criterion = SetCriterion(args.dim, weight_dict={"loss_ce": 1.0, "loss_con": args.con_coef})
    return model, criterion
