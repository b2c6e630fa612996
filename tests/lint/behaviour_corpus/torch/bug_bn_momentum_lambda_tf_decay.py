"""Point-cloud classifier ported from a TF1 PointNet repository. The TF code computed a BN *decay*
(bn_decay = min(BN_DECAY_CLIP, 1 - BN_INIT_DECAY * rate ** (step // decay_step))) and the port hands
that value, unchanged, to a PointNet++-style BNMomentumScheduler that writes it into PyTorch's
`momentum`. PyTorch weighs the NEW batch by momentum, so from the second epoch on the running
statistics are essentially the last batch's."""
import torch
import torch.nn.functional as F
from torch import nn

CFG = dict(
    epochs=4,
    lr=1e-3,
    bn_init_decay=0.5,
    bn_decay_decay_rate=0.5,
    bn_decay_decay_step=1,
    bn_decay_clip=0.99,
)


def set_bn_momentum_default(bn_momentum):
    def fn(m):
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.momentum = bn_momentum
    return fn


class BNMomentumScheduler:
    def __init__(self, model, bn_lambda, last_epoch=-1, setter=set_bn_momentum_default):
        self.model = model
        self.setter = setter
        self.lmbd = bn_lambda
        self.step(last_epoch + 1)
        self.last_epoch = last_epoch

    def step(self, epoch=None):
        if epoch is None:
            epoch = self.last_epoch + 1
        self.last_epoch = epoch
        self.model.apply(self.setter(self.lmbd(epoch)))


class PointNetCls(nn.Module):
    def __init__(self, k=4):
        super().__init__()
        self.conv1 = nn.Conv1d(3, 16, 1)
        self.bn1 = nn.BatchNorm1d(16)
        self.conv2 = nn.Conv1d(16, 32, 1)
        self.bn2 = nn.BatchNorm1d(32)
        self.fc = nn.Linear(32, k)

    def forward(self, pts):
        x = F.relu(self.bn1(self.conv1(pts)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.max(x, 2)[0])


def bn_decay_lambda(cfg):
    def fn(epoch):
        momentum = cfg["bn_init_decay"] * cfg["bn_decay_decay_rate"] ** (epoch // cfg["bn_decay_decay_step"])
        return min(cfg["bn_decay_clip"], 1 - momentum)
    return fn


def main():
    torch.manual_seed(0)
    batches = [(torch.randn(8, 3, 64) + torch.randn(1, 3, 1) * 2, torch.randint(0, 4, (8,))) for _ in range(6)]
    model = PointNetCls()
    optimizer = torch.optim.Adam(model.parameters(), lr=CFG["lr"])
    bnm_scheduler = BNMomentumScheduler(model, bn_lambda=bn_decay_lambda(CFG))
    seen = {}
    model.bn1.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0].detach()))
    weight_of_last_batch = None
    for epoch in range(CFG["epochs"]):
        model.train()
        for pts, labels in batches:
            before = model.bn1.running_mean.clone()
            optimizer.zero_grad()
            F.cross_entropy(model(pts), labels).backward()
            optimizer.step()
            batch_mean = seen["x"].mean(dim=(0, 2))
            # solve running = (1 - w) * before + w * batch_mean for w, from the real buffers
            delta = batch_mean - before
            weight_of_last_batch = float(((model.bn1.running_mean - before) * delta).sum() / (delta * delta).sum())
        bnm_scheduler.step()
    print(f"effective weight of the newest batch in running_mean: {weight_of_last_batch:.3f}")
    behaviour = "jumped" if weight_of_last_batch > 0.5 else "updated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
