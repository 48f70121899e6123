#!/usr/bin/env python3
"""Makes the timm golden fixtures in tests/data/timm/ with a pinned PyPI timm.

Each fixture is a tiny timm VisionTransformer with random weights, saved as a timm hub snapshot
is published (config.json with "architecture", "model_args" and "pretrained_cfg", plus
model.safetensors), and the outputs of timm's own forward on a few inputs:
  input_<case>.npy          float32 [B, 3, H, W] RGB in [0, 1]
  <case>/summary.npy        forward_head(forward_features(x), pre_logits=True)   [B, C]
  <case>/features.npy       forward_features(x)[:, num_prefix_tokens:]          [B, T, D]
The snapshot's mean/std are applied to the input first, as timm's data config does.

    python3 -m venv .venv-timm && .venv-timm/bin/pip install torch==2.15.0 timm==1.0.31 safetensors numpy
    .venv-timm/bin/python scripts/make_timm_fixtures.py [--out tests/data/timm]

Every weight is drawn at random (not timm's init, which leaves biases and layer scales at zero
or 1e-5) so that a wrong bias, scale or position row shows in the outputs.
"""
import argparse
import json
import os

import numpy as np
import safetensors.torch
import timm
import torch

# name: (architecture, model_args, pretrained_cfg mean/std, cases {name: (B, H, W)})
FIXTURES = {
    # plain ViT: cls token with its own position row, token pooling, fixed input size
    "vit": ("vit_base_patch16_224", dict(img_size=64, embed_dim=48, depth=2, num_heads=3),
            ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), {"sq64": (2, 64, 64)}),
    # DeiT with dynamic size: the 4x4 grid is resampled (bicubic, antialias) to other grids
    "deit": ("deit_small_patch16_224", dict(img_size=64, embed_dim=48, depth=2, num_heads=4, dynamic_img_size=True),
             ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), {"sq64": (1, 64, 64), "rect48x96": (2, 48, 96), "sq128": (1, 128, 128)}),
    # DINOv2: patch 14, layer scale, cls row in the position table, dynamic size
    "dinov2": ("vit_small_patch14_dinov2", dict(img_size=70, embed_dim=48, depth=2, num_heads=3, dynamic_img_size=True),
               ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), {"sq70": (1, 70, 70), "rect42x84": (2, 42, 84)}),
    # DINOv2 with registers: 4 register tokens without position rows (no_embed_class)
    "dinov2_reg": ("vit_small_patch14_reg4_dinov2", dict(img_size=56, embed_dim=48, depth=2, num_heads=3, dynamic_img_size=True),
                   ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), {"sq56": (1, 56, 56), "rect70x42": (2, 70, 42)}),
    # DINOv2 giant's MLP: SwiGLU (packed fc1, SiLU gate)
    "dinov2_swiglu": ("vit_giant_patch14_dinov2", dict(img_size=42, embed_dim=48, depth=2, num_heads=3, dynamic_img_size=True),
                      ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), {"sq42": (1, 42, 42)}),
    # SigLIP: no cls token, MAP attention pooling head, tanh GELU
    "siglip": ("vit_base_patch16_siglip_224", dict(img_size=64, embed_dim=48, depth=2, num_heads=3, act_layer="gelu_tanh"),
               ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), {"sq64": (2, 64, 64)}),
}


def randomize(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".norm" in name and name.endswith(".weight") or "norm1.weight" in name or "norm2.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("gamma"):
                p.copy_(0.5 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif "pos_embed" in name or "cls_token" in name or "reg_token" in name or "latent" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p.shape[-1] if p.dim() == 2 else int(np.prod(p.shape[1:])) if p.dim() > 1 else 1
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(max(fan_in, 1)))


def make(out_root, name, arch, model_args, mean_std, cases, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = timm.create_model(arch, pretrained=False, num_classes=0, **model_args).eval()
    randomize(model, gen)
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    mean, std = mean_std
    size = model_args["img_size"]
    config = {
        "architecture": arch,
        "num_classes": 0,
        "num_features": model.num_features,
        "global_pool": model.global_pool,
        "model_args": model_args,
        "pretrained_cfg": {"tag": "vit-fixture", "input_size": [3, size, size], "fixed_input_size": not model_args.get("dynamic_img_size", False),
                           "interpolation": "bicubic", "crop_pct": 1.0, "mean": mean, "std": std, "num_classes": 0,
                           "first_conv": "patch_embed.proj", "classifier": "head"},
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(state, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    for case, (b, h, w) in cases.items():
        x = torch.rand((b, 3, h, w), generator=gen)
        with torch.no_grad():
            feats = model.forward_features((x - m) / s)
            summary = model.forward_head(feats, pre_logits=True)
        np.save(os.path.join(out, f"input_{case}.npy"), x.numpy().astype(np.float32))
        os.makedirs(os.path.join(out, case), exist_ok=True)
        np.save(os.path.join(out, case, "summary.npy"), summary.numpy().astype(np.float32))
        np.save(os.path.join(out, case, "features.npy"), feats[:, model.num_prefix_tokens:].numpy().astype(np.float32))
    print(f"{name}: {arch} {model_args} prefix {model.num_prefix_tokens} pool {model.global_pool} cases {list(cases)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "timm"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    for i, (name, (arch, model_args, mean_std, cases)) in enumerate(FIXTURES.items()):
        make(args.out, name, arch, model_args, mean_std, cases, seed=1000 + i)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("# timm fixtures\n\nMade by `scripts/make_timm_fixtures.py` with timm "
                f"{timm.__version__} and torch {torch.__version__} (CPU, fp32, eval mode). "
                "Tiny random-weight models in timm's hub snapshot layout; see the script's docstring for what each file holds.\n\n"
                "| fixture | architecture | model_args | cases (B, H, W) |\n|---|---|---|---|\n")
        for name, (arch, model_args, _, cases) in FIXTURES.items():
            f.write(f"| {name} | {arch} | `{json.dumps(model_args)}` | {', '.join(f'{c} {v}' for c, v in cases.items())} |\n")


if __name__ == "__main__":
    main()
