"""Semi-supervised mean teacher: the EMA teacher stays in eval mode, its buffers are copied from the student."""
import copy

import torch
from torch import nn


class MeanTeacher:
    def __init__(self, student, decay=0.9):
        self.student = student
        self.teacher = copy.deepcopy(student).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update_teacher(self):
        for t, s in zip(self.teacher.parameters(), self.student.parameters()):
            t.mul_(self.decay).add_(s, alpha=1 - self.decay)
        for t, s in zip(self.teacher.buffers(), self.student.buffers()):
            t.copy_(s)

    @torch.no_grad()
    def pseudo_label(self, x):
        return self.teacher(x).argmax(1)


def train(steps=6):
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    mt = MeanTeacher(student)
    opt = torch.optim.SGD(student.parameters(), lr=0.05)
    student.train()
    for _ in range(steps):
        labelled, labels = torch.randn(8, 4) + 2, torch.randint(0, 3, (8,))
        unlabelled = torch.randn(8, 4) + 2
        targets = mt.pseudo_label(unlabelled)
        loss = nn.functional.cross_entropy(student(labelled), labels) + \
            0.5 * nn.functional.cross_entropy(student(unlabelled), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mt.update_teacher()
    return mt


if __name__ == "__main__":
    mt = train()
    t_bn, s_bn = mt.teacher[1], mt.student[1]
    ok = torch.equal(t_bn.running_mean, s_bn.running_mean) and not torch.all(t_bn.running_mean == 0)
    print("BN-GROUND-TRUTH:", "tracks-live-model" if ok else "stale")
