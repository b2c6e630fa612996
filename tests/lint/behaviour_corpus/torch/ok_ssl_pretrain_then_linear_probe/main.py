"""python main.py - pretrain the encoder, then run the linear-probe evaluation."""
import torch

from linear_eval import fit_probe
from models import Autoencoder, LinearProbe
from pretrain import pretrain

if __name__ == "__main__":
    torch.manual_seed(0)
    auto = Autoencoder()
    unlabelled = [torch.randn(16, 10) + 2 for _ in range(3)]
    pretrain(auto, unlabelled, [torch.randn(16, 10) + 2])
    bn = auto.encoder[1]
    pretrained_ok = int(bn.num_batches_tracked) == 9
    after_pretrain = bn.running_mean.clone()
    probe = LinearProbe(auto.encoder, classes=3)
    fit_probe(probe, [(torch.randn(16, 10) - 3, torch.randint(0, 3, (16,))) for _ in range(3)])
    probe_kept = torch.equal(after_pretrain, bn.running_mean)
    print("BN-GROUND-TRUTH:", "updated" if pretrained_ok and probe_kept else "broken")
