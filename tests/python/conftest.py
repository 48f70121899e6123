"""Shared helpers of the Python tests: paths, the CLI, and a small PNG writer for generated images."""

import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
# The CMake build folder holding examples/radio-embed (scripts/test-python.sh sets it).
BUILD = Path(os.environ.get("VIT_BUILD_DIR", REPO / "build"))


def write_png(path, rgb: np.ndarray) -> None:
    """Writes uint8 [H, W, 3] as an 8-bit RGB PNG (no filter, zlib)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def make_images(folder: Path, count: int, sizes, seed: int = 0) -> list[Path]:
    """`count` PNGs of the given (h, w) sizes in turn: gradients plus noise, different per image."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy + 17 * i) % 256], -1)
        img = np.clip(base + rng.integers(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        p = folder / f"img_{i:03d}.png"
        write_png(p, img)
        paths.append(p)
    return paths


@pytest.fixture(scope="session")
def cli() -> Path:
    """The vit-embed CLI of the CMake build (the C++ API the bindings are compared with)."""
    exe = BUILD / "examples" / "radio-embed"
    if not exe.exists():
        pytest.skip(f"{exe} is not built (cmake --build {BUILD} --target radio-embed)")
    return exe


def run_cli(exe: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"radio-embed failed ({r.returncode}): {r.stderr}")
    return r
