// C-RADIO: config, checkpoint import and the model, in one include.
#pragma once
#include "vit/models/radio/config.hpp"
#include "vit/models/radio/importer.hpp"
#include "vit/models/radio/model.hpp"
#include "vit/models/radio/weights.hpp"
