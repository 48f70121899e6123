// The image helpers through the CLI's own preprocessing (radio_embed::Preprocessor), so that the
// bindings give the model exactly the tensor vit-embed gives it.
#include "images.hpp"

#include "preprocess.hpp"
#include "vit/io/image.hpp"
#include "vit/io/resize.hpp"

namespace vit::python {

HostTensor prepare_input(const ModelInfo& model, const std::string& path, const PrepareOptions& options) {
  check(options.preprocess == "torch" || options.preprocess == "hf", ErrorKind::argument,
        "preprocess: expected 'torch' or 'hf', got '" + options.preprocess + "'");
  check(!(options.resolution && options.preferred_resolution), ErrorKind::argument, "resolution: give a size or 'preferred', not both");
  radio_embed::Options cli;  // the CLI's options that change the preprocessing
  cli.model = model.load.path;
  cli.resolution = options.resolution;
  cli.preferred_resolution = options.preferred_resolution;
  cli.preprocess = options.preprocess == "hf" ? radio_embed::Preprocess::hf : radio_embed::Preprocess::torch;
  cli.allow_large = options.allow_large;
  const radio_embed::Preprocessor prep(cli, model.input);
  const std::filesystem::path p(path);
  radio_embed::InputItem item{path, p.stem().string(), radio_embed::has_npy_extension(p)};
  return prep.prepare(item).pixels;
}

HostTensor decode_image(const std::string& path) { return io::load_image(path).to_tensor(); }

HostTensor resize_images(const HostTensor& images, int height, int width) { return io::resize_bilinear(images, height, width); }

}  // namespace vit::python
