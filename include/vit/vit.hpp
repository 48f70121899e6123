// The core library in one include: tensors, the Backend concept, layers and file I/O.
#pragma once
#include "vit/backend.hpp"
#include "vit/dtype.hpp"
#include "vit/error.hpp"
#include "vit/io/file.hpp"
#include "vit/io/json.hpp"
#include "vit/io/npy.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/nn/layers.hpp"
#include "vit/op_checks.hpp"
#include "vit/shape.hpp"
#include "vit/tensor.hpp"
#include "vit/version.hpp"
