"""CrossQ-style critic with a hand-written Batch Renormalization layer (Ioffe 2017) ported from a
JAX implementation. The running-statistics update is written as
`self.running_mean.mul(1 - m).add_(m * batch_mean)`: `mul` is out of place, so `add_` modifies a
temporary and the registered buffers never move; num_batches_tracked still counts up."""
import torch
from torch import nn


class BatchRenorm1d(nn.Module):
    def __init__(self, num_features, momentum=0.01, eps=1e-3, warmup_steps=4, r_max=3.0, d_max=5.0):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.warmup_steps, self.r_max, self.d_max = warmup_steps, r_max, d_max
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if self.training:
            batch_mean = x.mean(0)
            batch_var = x.var(0, unbiased=False)
            batch_std = (batch_var + self.eps).sqrt()
            if int(self.num_batches_tracked) < self.warmup_steps:
                custom_mean, custom_std = batch_mean, batch_std
            else:
                running_std = (self.running_var + self.eps).sqrt()
                r = (batch_std.detach() / running_std).clamp(1 / self.r_max, self.r_max)
                d = ((batch_mean.detach() - self.running_mean) / running_std).clamp(-self.d_max, self.d_max)
                custom_mean = batch_mean - d * batch_std / r
                custom_std = batch_std / r
            with torch.no_grad():
                self.running_mean.mul(1 - self.momentum).add_(self.momentum * batch_mean)
                self.running_var.mul(1 - self.momentum).add_(self.momentum * batch_var)
                self.num_batches_tracked += 1
        else:
            custom_mean, custom_std = self.running_mean, (self.running_var + self.eps).sqrt()
        return (x - custom_mean) / custom_std * self.weight + self.bias


class Critic(nn.Module):
    def __init__(self, obs_dim=6, act_dim=2, hidden=32):
        super().__init__()
        self.net = nn.Sequential(
            BatchRenorm1d(obs_dim + act_dim), nn.Linear(obs_dim + act_dim, hidden), nn.ReLU(),
            BatchRenorm1d(hidden), nn.Linear(hidden, 1))

    def forward(self, obs, act):
        return self.net(torch.cat([obs, act], dim=-1))


class ReplayBuffer:
    def __init__(self, size, obs_dim, act_dim, seed):
        g = torch.Generator().manual_seed(seed)
        self.obs = torch.randn(size, obs_dim, generator=g) * 2 + 1
        self.act = torch.rand(size, act_dim, generator=g) * 2 - 1
        self.rew = (self.obs[:, :2].sum(1, keepdim=True) - self.act.pow(2).sum(1, keepdim=True))
        self.g = g

    def sample(self, batch_size):
        idx = torch.randint(0, len(self.obs), (batch_size,), generator=self.g)
        return self.obs[idx], self.act[idx], self.rew[idx]


def main():
    torch.manual_seed(0)
    critic = Critic()
    optimizer = torch.optim.Adam(critic.parameters(), lr=3e-3, betas=(0.5, 0.999))
    buffer = ReplayBuffer(512, 6, 2, seed=3)
    critic.train()
    for update in range(10):
        obs, act, rew = buffer.sample(64)
        loss = nn.functional.mse_loss(critic(obs, act), rew)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    first = critic.net[0]
    critic.eval()
    with torch.no_grad():
        obs, act, rew = buffer.sample(256)
        eval_loss = nn.functional.mse_loss(critic(obs, act), rew).item()
    print(f"updates tracked {int(first.num_batches_tracked)}, eval TD loss {eval_loss:.3f}")
    untouched = torch.equal(first.running_mean, torch.zeros_like(first.running_mean)) and \
        torch.equal(first.running_var, torch.ones_like(first.running_var))
    print("BN-GROUND-TRUTH:", "frozen" if untouched else "updated")


if __name__ == "__main__":
    main()
