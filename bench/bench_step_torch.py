#!/usr/bin/python3
"""bench_step_torch.py - the PyTorch side of `loaa bench step`: the same
AST-style ViT, the same method and the same training step (forward,
cross-entropy, backward for the trainable tensors only, clipping at global
norm 1.0, AdamW with decay on matrices only), on random data.
--precision bf16 runs forward and loss under torch.autocast('cpu',
dtype=torch.bfloat16) (PyTorch's own bf16 path: matmuls and convolutions in
bf16 with fp32 accumulation, master weights and AdamW in fp32), as loaa's
precision: bf16 does.

Run with Debian's /usr/bin/python3 (python3-torch), e.g.
    /usr/bin/python3 bench/bench_step_torch.py --model vit-tiny --method loaa-tf \
        --bottleneck 32 --batch 8 --mel 128 --frames 512 --fstride 16 --tstride 16 --threads 2
Prints a `result:` line in the format of `loaa bench step`.
"""
import argparse
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {"vit-micro": (64, 2, 2), "vit-tiny": (192, 12, 3), "vit-small": (384, 12, 6), "vit-base": (768, 12, 12)}


class TapAdapter(nn.Module):
    """Parallel adapter whose down-projection is a 1-D conv over the token grid ('time', 'freq') or k=1 linear."""

    def __init__(self, dim, r, k, axis, fp, tp, scale):
        super().__init__()
        self.k, self.axis, self.fp, self.tp, self.scale = k, axis, fp, tp, scale
        self.down = nn.Conv1d(dim, r, k, padding=k // 2)
        self.up = nn.Linear(r, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, u):  # u (B, N, D), special tokens first
        b, n, d = u.shape
        s = n - self.fp * self.tp
        special, grid = u[:, :s], u[:, s:].reshape(b, self.fp, self.tp, d)
        if self.axis == "time":
            seq = grid.reshape(b * self.fp, self.tp, d).transpose(1, 2)
        else:
            seq = grid.permute(0, 2, 3, 1).reshape(b * self.tp, d, self.fp)
        h = self.down(seq)  # (B*rows, r, L)
        r = h.shape[1]
        if self.axis == "time":
            h = h.transpose(1, 2).reshape(b, self.fp * self.tp, r)
        else:
            h = h.reshape(b, self.tp, r, self.fp).permute(0, 3, 1, 2).reshape(b, self.fp * self.tp, r)
        hs = F.linear(special, self.down.weight[:, :, self.k // 2], self.down.bias)  # centre tap only
        h = torch.cat([hs, h], dim=1)
        return self.scale * self.up(F.gelu(h))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, ad_attn, ad_mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.ad_attn, self.ad_mlp = ad_attn, ad_mlp

    def forward(self, x):
        b, n, d = x.shape
        u = self.norm1(x)
        qkv = self.qkv(u).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = (q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(y) + (self.ad_attn(u) if self.ad_attn is not None else 0)
        u = self.norm2(x)
        return x + self.fc2(F.gelu(self.fc1(u))) + (self.ad_mlp(u) if self.ad_mlp is not None else 0)


class ViT(nn.Module):
    def __init__(self, a):
        super().__init__()
        dim, depth, heads = PRESETS[a.model]
        fp, tp = (a.mel - 16) // a.fstride + 1, (a.frames - 16) // a.tstride + 1
        self.patch = nn.Conv2d(1, dim, 16, stride=(a.fstride, a.tstride))
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 1 + fp * tp, dim) * 0.02)
        axes = {"loaa-tf": ("time", "freq"), "loaa-time": ("time", "time"), "loaa-freq": ("freq", "freq"),
                "adapter": ("time", "time")}[a.method] if a.method in ("loaa-tf", "loaa-time", "loaa-freq", "adapter") else None
        k = 1 if a.method == "adapter" else a.kernel
        blocks = []
        for _ in range(depth):
            ad = [TapAdapter(dim, a.bottleneck, k, ax, fp, tp, a.scale) for ax in axes] if axes else [None, None]
            blocks.append(Block(dim, heads, 4 * dim, ad[0], ad[1]))
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, a.classes)
        if a.method != "full":
            for name, p in self.named_parameters():
                p.requires_grad = name.startswith("norm.") or name.startswith("head.") or ".ad_" in name

    def forward(self, x):  # x (B, M, T)
        t = self.patch(x.unsqueeze(1)).flatten(2).transpose(1, 2)  # (B, F'*T', D), frequency-major
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1) + self.pos
        for blk in self.blocks:
            t = blk(t)
        return self.head(self.norm(t)[:, 0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vit-tiny")
    ap.add_argument("--method", default="loaa-tf", choices=["loaa-tf", "loaa-time", "loaa-freq", "adapter", "linear", "full"])
    ap.add_argument("--bottleneck", type=int, default=32)
    ap.add_argument("--kernel", type=int, default=3)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--mel", type=int, default=128)
    ap.add_argument("--frames", type=int, default=512)
    ap.add_argument("--fstride", type=int, default=16)
    ap.add_argument("--tstride", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    a, _ = ap.parse_known_args()  # loaa-only flags (--peak-seconds, ...) are ignored
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = ViT(a)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2 and p is not model.cls and p is not model.pos]
    other = [p for p in params if not any(p is q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    x = torch.randn(a.batch, a.mel, a.frames)
    y = torch.arange(a.batch) % a.classes
    total = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.precision}; {a.model} {a.method}: "
          f"{total / 1e6:.3f}M total, {sum(p.numel() for p in params) / 1e6:.3f}M trainable")

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sps = a.steps * a.batch / secs
    print(f"steps: {a.steps} timed (+{a.warmup} warm-up), {secs / a.steps:.4f} s/step, {sps:.2f} samples/s, "
          f"last loss {loss:.4f}")
    print(f"peak RSS: {rss:.1f} MiB")
    print(f"result: samples_per_s={sps:.3f} rss_mib={rss:.1f}")


if __name__ == "__main__":
    main()
