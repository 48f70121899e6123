#!/usr/bin/env python3
"""Compares radio-embed's image preprocessing with PyTorch's (the model itself is not run in
PyTorch here: step 3 compares radio-embed with radio-embed).

For each image: PIL decode + convert('RGB') -> /255 (fp32) -> F.interpolate(bilinear,
align_corners=False, antialias=False) to RADIO's nearest supported resolution. Checks
  1. decode: radio-embed's pixels (no resize case) vs PIL's, exact for PNG/BMP/TGA;
  2. resize: radio-embed --dump-input vs torch, max |diff| and how many values are bit-identical;
  3. model: features of radio-embed on the image vs radio-embed on the torch-preprocessed .npy,
     i.e. how much the preprocessing difference moves the features. That the CLI's .npy path
     gives PyTorch's outputs is checked separately, on the bundled fixture inputs only, by ctest's
     cli_goldens_<backend> tests (tests/cli/test_cli_goldens.cpp).
Needs numpy, torch, PIL (Debian: python3-numpy python3-torch python3-pil).

usage: check_preprocess_torch.py BUILD_DIR MODEL_DIR IMAGE...
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def nearest_supported(side, patch):
    return max(patch, round(side / patch) * patch)


def main():
    build, model, images = sys.argv[1], sys.argv[2], sys.argv[3:]
    cli = os.path.join(build, "examples", "radio-embed")
    patch = 16
    worst_resize, worst_feat = 0.0, 0.0
    print(f"torch {torch.__version__}, model {model}")
    print(f"{'image':28} {'size':>9} {'resized':>9} {'resize max|d|':>14} {'bit-equal':>10} {'features max|d|':>16}")
    for path in images:
        stem = os.path.splitext(os.path.basename(path))[0]
        with tempfile.TemporaryDirectory() as tmp:
            pil = np.asarray(Image.open(path).convert("RGB"))
            x = torch.from_numpy(pil.copy()).permute(2, 0, 1)[None].float().div(255.0)
            h, w = x.shape[2:]
            oh, ow = nearest_supported(h, patch), nearest_supported(w, patch)
            want = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False) if (oh, ow) != (h, w) else x
            np.save(f"{tmp}/torch.npy", want.numpy().astype(np.float32))
            subprocess.run([cli, "--model", model, "--input", path, "--allow-large", "--quiet", "--dump-input", tmp,
                            "--out-dir", f"{tmp}/img"], check=True, stdout=subprocess.DEVNULL)
            subprocess.run([cli, "--model", model, "--input", f"{tmp}/torch.npy", "--allow-large", "--quiet",
                            "--out-dir", f"{tmp}/npy"], check=True, stdout=subprocess.DEVNULL)
            ours = np.load(f"{tmp}/{stem}.input.npy")
            d = np.abs(ours - want.numpy())
            equal = np.mean(ours == want.numpy())
            fa = np.load(f"{tmp}/img/{stem}.features.npy")
            fb = np.load(f"{tmp}/npy/torch.features.npy")
            df = float(np.abs(fa - fb).max())
            worst_resize, worst_feat = max(worst_resize, float(d.max())), max(worst_feat, df)
            print(f"{os.path.basename(path):28} {w:>4}x{h:<4} {ow:>4}x{oh:<4} {d.max():14.3e} {equal:10.4%} {df:16.3e}")
    print(f"worst: resize {worst_resize:.3e}, features {worst_feat:.3e}")
    return 0 if worst_resize <= 1e-4 and worst_feat <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
