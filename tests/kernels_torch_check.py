"""kernels_torch_check.py DIR - recomputes, in PyTorch and double precision, the
logits, loss and gradients that kernels_torch_dump wrote into DIR, with the
model of bench/bench_step_torch.py (native Conv1d over the token grid), and
prints TAP. Checks loaa's token order, conv axes, centre tap of the CLS token
and backward against an independent formulation."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "bench"))
import bench_step_torch as B  # noqa: E402

out = sys.argv[1]


def ld(name):
    return torch.from_numpy(np.fromfile(os.path.join(out, name + ".bin"), dtype=np.float32).astype(np.float64))


class Args:
    model, method, bottleneck, kernel, scale = "vit-micro", "loaa-tf", 8, 3, 0.5
    mel, frames, fstride, tstride, classes = 32, 48, 8, 8, 5


m = B.ViT(Args()).double()
with torch.no_grad():
    m.cls.copy_(ld("cls_token").view_as(m.cls))
    m.pos.copy_(ld("pos_embed").view_as(m.pos))
    m.patch.weight.copy_(ld("patch_embed.proj.weight").view_as(m.patch.weight))
    m.patch.bias.copy_(ld("patch_embed.proj.bias"))
    for i, b in enumerate(m.blocks):
        p = f"blocks.{i}."
        for mod, nm in [(b.norm1, "norm1"), (b.qkv, "attn.qkv"), (b.proj, "attn.proj"), (b.norm2, "norm2"),
                        (b.fc1, "mlp.fc1"), (b.fc2, "mlp.fc2")]:
            mod.weight.copy_(ld(p + nm + ".weight").view_as(mod.weight))
            mod.bias.copy_(ld(p + nm + ".bias"))
        for ad, nm in [(b.ad_attn, "adapter_attn"), (b.ad_mlp, "adapter_mlp")]:
            r, d, k = ad.down.weight.shape
            ad.down.weight.copy_(ld(p + nm + ".down.weight").view(k, r, d).permute(1, 2, 0))  # loaa is tap-major
            ad.down.bias.copy_(ld(p + nm + ".down.bias"))
            ad.up.weight.copy_(ld(p + nm + ".up.weight").view_as(ad.up.weight))
            ad.up.bias.copy_(ld(p + nm + ".up.bias"))
    m.norm.weight.copy_(ld("norm.weight"))
    m.norm.bias.copy_(ld("norm.bias"))
    m.head.weight.copy_(ld("head.weight").view_as(m.head.weight))
    m.head.bias.copy_(ld("head.bias"))

x, y = ld("x").view(2, 32, 48), ld("y").view(2, 5)
z = m(x)
loss = -(y * F.log_softmax(z, -1)).sum(-1).mean()
loss.backward()
n = 0
failed = 0


def check(ok, what):
    global n, failed
    n += 1
    print(("ok" if ok else "not ok") + f" {n} - {what}")
    failed += not ok


dz = (z - ld("logits").view(2, 5)).abs().max().item()
check(dz < 1e-5, f"logits match PyTorch (max diff {dz:.2e})")
pairs = [("head.weight", m.head.weight), ("norm.weight", m.norm.weight)]
for i, b in enumerate(m.blocks):
    for ad, nm in [(b.ad_attn, "adapter_attn"), (b.ad_mlp, "adapter_mlp")]:
        pairs.append((f"blocks.{i}.{nm}.down.weight", ad.down.weight))
        pairs.append((f"blocks.{i}.{nm}.down.bias", ad.down.bias))
        pairs.append((f"blocks.{i}.{nm}.up.weight", ad.up.weight))
for name, t in pairs:
    g = ld("grad." + name)
    if t.dim() == 3:
        r, d, k = t.shape
        g = g.view(k, r, d).permute(1, 2, 0)
    g = g.reshape(t.shape)
    err = ((g - t.grad).abs().max() / t.grad.abs().max()).item()
    check(err < 1e-4, f"gradient of {name} matches PyTorch (rel err {err:.1e})")
print(f"1..{n}")
sys.exit(1 if failed else 0)
