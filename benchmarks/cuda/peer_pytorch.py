#!/usr/bin/env python3
"""Peer for vit-cuda-bench: the same C-RADIO-shaped ViT forwards in plain PyTorch (no timm).

Times, with CUDA events (median of repeats after warm-up):
  - B/16 224x224 batch 1: fp32 eager (TF32 off), bf16 autocast eager attention, bf16 autocast SDPA
  - H/16 512x512 batch 32: bf16 autocast eager attention, bf16 autocast SDPA
Prints a Markdown table; --json PATH writes the numbers. Random weights (N(0, 0.02)), like
RandomWeights on our side; the position embedding is already at the input's grid size.
"""
import argparse
import json
import math
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """timm-style pre-norm block: x += proj(attn(LN1 x)); x += fc2(GELU(fc1(LN2 x)))."""

    def __init__(self, d, heads, hidden, sdpa):
        super().__init__()
        self.heads, self.sdpa = heads, sdpa
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        b, n, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4).unbind(0)
        if self.sdpa:
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            o = ((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))).softmax(-1) @ v
        x = x + self.proj(o.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    """C-RADIO-shaped ViT: normalise, patch embed (no bias), + pos, 8 prefix tokens, blocks."""

    def __init__(self, d, depth, heads, hidden, patch, grid_tokens, prefix=8, sdpa=True):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, patch, bias=False)
        self.prefix = nn.Parameter(torch.randn(prefix, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(grid_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, heads, hidden, sdpa) for _ in range(depth))
        self.register_buffer("mean", torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, img):
        x = self.patch((img - self.mean) / self.std).flatten(2).transpose(1, 2) + self.pos
        x = torch.cat([self.prefix.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return x[:, :3].flatten(1), x[:, 8:]


def time_forward(model, img, dtype, warmup, repeats):
    ctx = torch.autocast("cuda", dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast("cuda", enabled=False)
    with torch.inference_mode(), ctx:
        for _ in range(warmup):
            model(img)
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            model(img)
            e.record()
            e.synchronize()
            times.append(s.elapsed_time(e))
    return statistics.median(times), min(times)


def flops(d, depth, hidden, patch, batch, res):
    t = (res // patch) ** 2
    n = t + 8
    rows = batch * n
    per_block = 2 * rows * (4 * d * d + 2 * d * hidden) + 4 * batch * n * n * d
    return 2 * batch * t * 3 * patch * patch * d + depth * per_block


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="B/16 only")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.cuda.get_device_name(0)
    print("# peer: plain PyTorch ViT\n")
    print(f"- device: {dev}, torch {torch.__version__}, CUDA {torch.version.cuda}, TF32 off for fp32\n")
    cases = [("C-RADIOv3-B 224x224", 768, 12, 12, 3072, 1, 224, v) for v in [("fp32", True), ("bf16", False), ("bf16", True)]]
    if not args.quick:
        cases += [("C-RADIOv3-H 512x512", 1280, 32, 16, 5120, 32, 512, v) for v in [("bf16", False), ("bf16", True)]]
    results = []
    for name, d, depth, heads, hidden, batch, res, (dtype, sdpa) in cases:
        model = ViT(d, depth, heads, hidden, 16, (res // 16) ** 2, sdpa=sdpa).cuda().eval()
        img = torch.rand(batch, 3, res, res, device="cuda")
        reps = args.repeats * 3 if batch == 1 else max(3, args.repeats // 3)
        med, mn = time_forward(model, img, dtype, 10 if batch == 1 else 2, reps)
        r = {"case": name, "precision": dtype, "attention": "sdpa" if sdpa else "eager", "batch": batch, "median_ms": med, "min_ms": mn,
             "images_per_s": batch / (med / 1e3), "tflops": flops(d, depth, hidden, 16, batch, res) / (med / 1e3) / 1e12, "repeats": reps}
        results.append(r)
        print(f"  {name} {dtype} {r['attention']} batch {batch}: {med:.3f} ms", flush=True)
        del model, img
        torch.cuda.empty_cache()
    print("\n| case | precision | attention | batch | median ms | min ms | img/s | TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['precision']} | {r['attention']} | {r['batch']} | {r['median_ms']:.3f} | {r['min_ms']:.3f} | "
              f"{r['images_per_s']:.0f} | {r['tflops']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": dev, "torch": torch.__version__, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
