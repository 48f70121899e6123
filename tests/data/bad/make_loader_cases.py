#!/usr/bin/env python3
"""Writes the loader error cases under tests/data/bad/ (issue 16); standard library only.

nan-weights/     a tiny project-format model (depth 0, embed_dim 4) whose embedder holds a NaN, +Inf, -Inf
zero-std/        the same model with input_conditioner.norm_std = [0.27, 0, 0.27]
typed-config/    a project config (random weights) with "max_resolution": "128"
huge-config/     a project config of 206 G parameters (each field within its own limit)
"""
import json, math, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = {"format_version": 1, "name": "tiny", "patch_size": 16, "embed_dim": 4, "depth": 0, "num_heads": 1, "mlp_hidden": 4,
          "pos_grid": 1, "num_cls_tokens": 1, "num_registers": 0, "summary_idxs": [0]}


def write_safetensors(path, tensors):
    header, data = {}, b""
    for name, shape, values in tensors:
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def tiny_model(folder, std, embedder):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    p = "radio_model."
    write_safetensors(os.path.join(folder, "model.safetensors"), [
        (p + "input_conditioner.norm_mean", [3, 1, 1], [0.48, 0.46, 0.41]),
        (p + "input_conditioner.norm_std", [3, 1, 1], std),
        (p + "model.patch_generator.embedder.weight", [4, 768], embedder),
        (p + "model.patch_generator.pos_embed", [1, 1, 4], [0.0] * 4),
        (p + "model.patch_generator.cls_token.token", [1, 4], [0.1] * 4),
    ])


emb = [((i * 37) % 101 - 50) / 1000.0 for i in range(4 * 768)]
bad = list(emb)
bad[0], bad[1000], bad[3071] = math.nan, math.inf, -math.inf
tiny_model(os.path.join(HERE, "nan-weights"), [0.27, 0.26, 0.28], bad)
tiny_model(os.path.join(HERE, "zero-std"), [0.27, 0.0, 0.28], emb)
for name, extra in [("typed-config", {"max_resolution": "128"}),
                    ("huge-config", {"embed_dim": 4096, "depth": 1024, "num_heads": 32, "mlp_hidden": 16384, "pos_grid": 128})]:
    os.makedirs(os.path.join(HERE, name), exist_ok=True)
    with open(os.path.join(HERE, name, "config.json"), "w") as f:
        json.dump({**CONFIG, **extra}, f, indent=2)
