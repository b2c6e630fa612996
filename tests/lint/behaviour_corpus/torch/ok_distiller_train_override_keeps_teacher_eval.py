"""Knowledge distillation packed in one nn.Module. Distiller overrides train(mode) so that the
frozen teacher always stays in eval mode, however often the loop calls distiller.train(): the
teacher keeps its pretrained BatchNorm statistics, the student's statistics update."""
import torch
import torch.nn.functional as F
from torch import nn


def make_net(width, classes=4):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes))


class Distiller(nn.Module):
    def __init__(self, teacher, student, temperature=3.0, alpha=0.5):
        super().__init__()
        self.teacher = teacher.eval()
        self.teacher.requires_grad_(False)
        self.student = student
        self.temperature = temperature
        self.alpha = alpha

    def train(self, mode=True):
        super().train(mode)
        self.teacher.eval()  # the teacher is a fixed target: never re-estimate its statistics
        return self

    def forward(self, x, y):
        with torch.no_grad():
            soft = F.softmax(self.teacher(x) / self.temperature, dim=1)
        logits = self.student(x)
        kd = F.kl_div(F.log_softmax(logits / self.temperature, dim=1), soft, reduction="batchmean")
        return self.alpha * kd * self.temperature ** 2 + (1 - self.alpha) * F.cross_entropy(logits, y)


@torch.no_grad()
def evaluate(student, loader):
    student.eval()
    return sum((student(x).argmax(1) == y).float().mean().item() for x, y in loader) / len(loader)


def main(epochs=2):
    torch.manual_seed(0)
    teacher = make_net(8)
    teacher[1].running_mean.fill_(0.5)  # stands in for pretrained statistics
    teacher[1].running_var.fill_(2.0)
    pretrained_mean = teacher[1].running_mean.clone()
    distiller = Distiller(teacher, make_net(4))
    student_bn = distiller.student[1]
    optimizer = torch.optim.Adam(distiller.student.parameters(), lr=1e-3)
    train_loader = [(torch.randn(8, 3, 6, 6) * 2 + 1, torch.randint(0, 4, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 3, 6, 6), torch.randint(0, 4, (8,)))]
    for epoch in range(epochs):
        distiller.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            distiller(x, y).backward()
            optimizer.step()
        print("epoch", epoch, "val acc", evaluate(distiller.student, val_loader))
    teacher_kept = torch.allclose(teacher[1].running_mean, pretrained_mean)
    student_tracked = int(student_bn.num_batches_tracked) == epochs * len(train_loader)
    print("BN-GROUND-TRUTH:", "teacher-frozen-by-design-student-updated" if teacher_kept and student_tracked
          else "wrong")


if __name__ == "__main__":
    main()
