from torch import nn

MODELS = {}


def register(name):
    def wrap(cls):
        MODELS[name] = cls
        return cls
    return wrap


@register("mlp_bn")
class MLPBN(nn.Module):
    def __init__(self, n_in=8, hidden=32, n_out=3):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.out = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.out(self.bn1(self.fc1(x)).relu())


def build_model(cfg):
    return MODELS[cfg["arch"]](**cfg.get("model_kwargs", {}))
