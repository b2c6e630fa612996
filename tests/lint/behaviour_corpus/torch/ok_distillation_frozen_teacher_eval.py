"""Knowledge distillation: the pretrained teacher is put in eval() once and frozen (no gradients, not
in the optimizer); the student is switched to train() every epoch and to eval() for validation.
The teacher's BatchNorm keeps its pretrained statistics by design; the student's update."""
import torch
from torch import nn
import torch.nn.functional as F


def make_net(width):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 5))


def pretrain_teacher(teacher, loader, steps=3):
    opt = torch.optim.SGD(teacher.parameters(), lr=0.05)
    teacher.train()
    for x, y in loader[:steps]:
        opt.zero_grad()
        F.cross_entropy(teacher(x), y).backward()
        opt.step()
    return teacher


class Distiller:
    def __init__(self, teacher, student, temperature=2.0, alpha=0.7):
        self.teacher = teacher.eval()
        self.teacher.requires_grad_(False)
        self.student = student
        self.temperature = temperature
        self.alpha = alpha
        self.optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)

    def loss(self, x, y):
        with torch.no_grad():
            soft_targets = F.softmax(self.teacher(x) / self.temperature, dim=1)
        logits = self.student(x)
        kd = F.kl_div(F.log_softmax(logits / self.temperature, dim=1), soft_targets, reduction="batchmean")
        return self.alpha * kd * self.temperature ** 2 + (1 - self.alpha) * F.cross_entropy(logits, y)

    def train_epoch(self, loader):
        self.student.train()
        for x, y in loader:
            self.optimizer.zero_grad()
            self.loss(x, y).backward()
            self.optimizer.step()

    @torch.no_grad()
    def validate(self, loader):
        self.student.eval()
        return sum((self.student(x).argmax(1) == y).float().mean().item() for x, y in loader) / len(loader)


def main():
    torch.manual_seed(0)
    loader = [(torch.randn(8, 3, 6, 6) + 1, torch.randint(0, 5, (8,))) for _ in range(3)]
    teacher = pretrain_teacher(make_net(12), loader)
    teacher_stats = teacher[1].running_mean.clone()
    student = make_net(4)
    distiller = Distiller(teacher, student)
    tracked = []
    for epoch in range(3):
        distiller.train_epoch(loader)
        tracked.append(int(student[1].num_batches_tracked))
        print("epoch", epoch, "val acc", distiller.validate(loader[:1]))
    teacher_kept = torch.equal(teacher_stats, teacher[1].running_mean)
    print("BN-GROUND-TRUTH:", "updated" if tracked == [3, 6, 9] and teacher_kept else "broken")


if __name__ == "__main__":
    main()
