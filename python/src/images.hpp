// Image helpers of the module, the CLI's own code (examples/radio_embed/preprocess.hpp and
// vit::io): decoding, the torch resize and the whole preprocessing of vit-embed. No Python here.
#pragma once
#include <optional>
#include <string>
#include <utility>

#include "any_model.hpp"

namespace vit::python {

struct PrepareOptions {
  std::optional<std::pair<int, int>> resolution;  // resize every image to this (H, W)
  bool preferred_resolution = false;              // resize to the model's preferred resolution
  std::string preprocess = "torch";               // torch | hf
  bool allow_large = false;                       // accept sizes beyond the model's max_resolution
};

// An image file (or a .npy [B,3,H,W]) -> the model's input [B, 3, H, W] in [0, 1], exactly as
// vit-embed prepares it for `model` with the same options.
HostTensor prepare_input(const ModelInfo& model, const std::string& path, const PrepareOptions& options);

// An image file -> [1, 3, H, W] in [0, 1] at its own size (decoded as vit-embed decodes).
HostTensor decode_image(const std::string& path);

// images [B, 3, H, W] -> [B, 3, height, width]: the CLI's torch resize (bilinear, align_corners
// False, no antialias).
HostTensor resize_images(const HostTensor& images, int height, int width);

}  // namespace vit::python
