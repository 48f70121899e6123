"""vit: Vision Transformers (C-RADIO, timm ViT/DeiT/DINOv2/SigLIP) in C++, from Python.

    import vit
    m = vit.load("C-RADIOv3-B", backend="cpu", threads=4)
    x = m.prepare("photo.jpg")          # float32 [1, 3, H, W] in [0, 1], resized as vit-embed does
    out = m(x)                           # out.summary [1, C], out.features [1, T, D] (NumPy)

Everything is implemented in the compiled module vit._vit; see docs/python.md.
"""

from typing import TYPE_CHECKING

from ._vit import (
    Error,
    Model,
    Output,
    __version__,
    backends,
    load,
    load_image,
    nearest_supported_resolution,
    resize,
)

if TYPE_CHECKING:
    import numpy
    import numpy.typing


def prepare(
    path: str,
    model: Model,
    *,
    resolution: "str | tuple[int, int] | None" = None,
    preprocess: str = "torch",
    allow_large: bool = False,
) -> "numpy.typing.NDArray[numpy.float32]":
    """Read an image file for `model` exactly as vit-embed does: model.prepare(path, ...).

    See Model.prepare for the arguments. Returns float32 [B, 3, H, W] in [0, 1].
    """
    return model.prepare(path, resolution=resolution, preprocess=preprocess, allow_large=allow_large)


__all__ = [
    "Error",
    "Model",
    "Output",
    "__version__",
    "backends",
    "load",
    "load_image",
    "nearest_supported_resolution",
    "prepare",
    "resize",
]
