"""The C-RADIO ViT forward in plain PyTorch, the shapes of vit's Model<B> (docs radio-spec §3):
input conditioner (mean/std), patch embedding as a linear layer on unfolded 16x16 patches, the CPE
position embedding (bilinear resize of the 128x128 grid to a max(gh, gw) square, top-left crop),
prefix tokens (cls + registers) in front, pre-norm blocks with fused qkv and GELU(erf) MLP.
Random weights N(0, 0.02), LayerNorms identity, biases zero, as vit's RandomWeights.

attn="sdpa" uses F.scaled_dot_product_attention (as timm's fused_attn); attn="eager" writes
softmax(q k^T / sqrt(d)) v out, as plain eager PyTorch would.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

VARIANTS = {  # tag: (config file, embed_dim, depth, heads)
    "tiny": (None, 192, 2, 3),
    "B16": ("c-radio-v3-b.json", 768, 12, 12),
    "L16": ("c-radio-v3-l.json", 1024, 24, 16),
    "H16": ("c-radio-v3-h.json", 1280, 32, 16),
    "SO400M": ("c-radio-v4-so400m.json", 1152, 27, 16),  # C-RADIOv4: head dim 72, MLP 4304, 3 cls + 7 registers
}


def load_config(tag, config_dir):
    """The variant's numbers from models/radio/configs/<file>.json (vit's own config format)."""
    file, d, depth, heads = VARIANTS[tag]
    cfg = dict(embed_dim=d, depth=depth, num_heads=heads, mlp_hidden=4 * d, patch_size=16, pos_grid=128,
               num_cls_tokens=4, num_registers=4, summary_idxs=[0, 1, 2])
    path = os.path.join(config_dir, file) if file else None
    if path and os.path.exists(path):
        with open(path) as f:
            cfg.update({k: v for k, v in json.load(f).items() if k in cfg})
    return cfg


class Block(nn.Module):
    def __init__(self, d, heads, hidden, attn):
        super().__init__()
        self.heads, self.attn_kind = heads, attn
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def attention(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.attn_kind == "sdpa":
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            a = (q * (1.0 / math.sqrt(d // self.heads))) @ k.transpose(-2, -1)
            o = a.softmax(dim=-1) @ v
        return self.proj(o.transpose(1, 2).reshape(b, n, d))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class RadioViT(nn.Module):
    def __init__(self, cfg, attn="sdpa"):
        super().__init__()
        d, p, r = cfg["embed_dim"], cfg["patch_size"], cfg["pos_grid"]
        self.p, self.r, self.d = p, r, d
        self.summary_idxs = cfg["summary_idxs"]
        self.num_prefix = cfg["num_cls_tokens"] + cfg["num_registers"]
        self.register_buffer("mean", torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1))
        self.embedder = nn.Linear(3 * p * p, d, bias=False)
        self.pos_embed = nn.Parameter(torch.empty(1, r * r, d))
        self.prefix = nn.Parameter(torch.empty(self.num_prefix, d))
        self.blocks = nn.ModuleList(Block(d, cfg["num_heads"], cfg["mlp_hidden"], attn) for _ in range(cfg["depth"]))
        g = torch.Generator().manual_seed(0)
        for name, t in self.named_parameters():
            with torch.no_grad():
                if name.endswith("bias"):
                    t.zero_()
                elif "norm" in name:
                    t.fill_(1.0)
                else:
                    t.normal_(0.0, 0.02, generator=g)
        self._pos = {}

    def position(self, gh, gw):
        # Computed once per grid, as vit computes it once per input shape (its workspace).
        if (gh, gw) not in self._pos:
            m = max(gh, gw)
            grid = self.pos_embed.reshape(1, self.r, self.r, self.d).permute(0, 3, 1, 2)
            pos = F.interpolate(grid, size=(m, m), mode="bilinear", align_corners=False)[:, :, :gh, :gw]
            self._pos[(gh, gw)] = pos.flatten(2).transpose(1, 2).detach()
        return self._pos[(gh, gw)]

    def forward(self, img):
        b, _, h, w = img.shape
        gh, gw, p = h // self.p, w // self.p, self.p
        x = (img - self.mean) / self.std
        x = x.reshape(b, 3, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, 3 * p * p)
        x = self.embedder(x) + self.position(gh, gw).to(x.dtype)
        x = torch.cat([self.prefix.unsqueeze(0).expand(b, -1, -1).to(x.dtype), x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        summary = x[:, self.summary_idxs].reshape(b, -1)
        return summary, x[:, self.num_prefix:]
