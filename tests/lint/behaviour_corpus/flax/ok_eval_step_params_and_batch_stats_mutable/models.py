"""Model definitions (linen)."""
import flax.linen as nn


class TabularNet(nn.Module):
    hidden: int = 32
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.8)(x)
        x = nn.relu(x)
        return nn.Dense(self.num_classes)(x)


def create_model(config):
    return TabularNet(hidden=config["hidden"], num_classes=config["num_classes"])
