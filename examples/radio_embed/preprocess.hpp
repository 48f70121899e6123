// From an input file to the model's input tensor [B, 3, H, W] in [0, 1].
//
// torch (default), RADIO's own PyTorch path:
//   pixels / 255 (fp32) -> bilinear (align_corners=False, no antialias) to the nearest supported
//   resolution (each side max(p, round(side / p) * p), round half to even), or to --resolution.
// hf, transformers' CLIPImageProcessor as configured by the model's preprocessor_config.json:
//   PIL resize of the 8-bit image (size {height, width} or {shortest_edge}; bilinear or bicubic)
//   -> center crop -> rescale (sample * rescale_factor in double, stored as fp32); normalisation
//   is NOT applied (RADIO's input conditioner normalises inside the model: doing it here too would
//   normalise twice) -> if the result is not a multiple of the patch, the torch resize as above.
// .npy inputs are used as they are (float32 [B, 3, H, W], sides multiples of the patch).
#pragma once
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "inputs.hpp"
#include "options.hpp"
#include "vit/io/image.hpp"
#include "vit/io/json.hpp"
#include "vit/io/npy.hpp"
#include "vit/io/resize.hpp"
#include "vit/models/open.hpp"

namespace radio_embed {

// An input ready for the model.
struct Prepared {
  InputItem item;
  vit::HostTensor pixels;        // [B, 3, H, W]
  int source_h = 0, source_w = 0;  // the decoded image's size (or the .npy's H, W)
  double decode_s = 0, resize_s = 0;
};

// The parts of an HF preprocessor_config.json that change pixels.
struct HfPreprocessor {
  bool do_resize = true;
  int size_h = 0, size_w = 0, shortest_edge = 0;
  vit::io::PilFilter resample = vit::io::PilFilter::bicubic;
  bool do_center_crop = false;
  int crop_h = 0, crop_w = 0;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = false;

  static HfPreprocessor load(const std::string& path) {
    using vit::json::Value;
    Value v = vit::json::parse(vit::io::read_text_file(path), path);
    auto bad = [&](const std::string& what) { vit::fail(vit::ErrorKind::config, path + ": " + what); };
    if (!v.is_object()) bad("expected a JSON object");
    HfPreprocessor p;
    auto flag = [&](const char* key, bool& dst) {
      if (const Value* x = v.find(key); x && !x->is_null()) {
        if (!x->is_bool()) bad(std::string("'") + key + "' must be true or false");
        dst = x->as_bool();
      }
    };
    auto hw = [&](const Value& x, const char* key, int& h, int& w, int* shortest) {
      if (x.is_integer()) {
        h = w = int(x.as_int());
      } else if (x.is_object() && x.find("height") && x.find("width") && x.find("height")->is_integer() && x.find("width")->is_integer()) {
        h = int(x.find("height")->as_int());
        w = int(x.find("width")->as_int());
      } else if (shortest && x.is_object() && x.find("shortest_edge") && x.find("shortest_edge")->is_integer()) {
        *shortest = int(x.find("shortest_edge")->as_int());
      } else {
        bad(std::string("'") + key + "' must be {height, width}" + (shortest ? ", {shortest_edge}" : "") + " or an integer");
      }
      if (h < 0 || w < 0 || h > 65536 || w > 65536 || (shortest && (*shortest < 0 || *shortest > 65536))) bad(std::string("'") + key + "' is out of range");
    };
    flag("do_resize", p.do_resize);
    flag("do_center_crop", p.do_center_crop);
    flag("do_rescale", p.do_rescale);
    flag("do_normalize", p.do_normalize);
    if (p.do_resize) {
      const Value* s = v.find("size");
      if (!s) bad("do_resize is set but 'size' is missing");
      hw(*s, "size", p.size_h, p.size_w, &p.shortest_edge);
      if (const Value* r = v.find("resample"); r && !r->is_null()) {
        if (!r->is_integer()) bad("'resample' must be a PIL filter number");
        if (r->as_int() == 2) p.resample = vit::io::PilFilter::bilinear;
        else if (r->as_int() == 3) p.resample = vit::io::PilFilter::bicubic;
        else bad("resample " + std::to_string(r->as_int()) + " is not supported (expected 2 bilinear or 3 bicubic)");
      }
    }
    if (p.do_center_crop) {
      const Value* c = v.find("crop_size");
      if (!c) bad("do_center_crop is set but 'crop_size' is missing");
      hw(*c, "crop_size", p.crop_h, p.crop_w, nullptr);
    }
    if (const Value* r = v.find("rescale_factor"); r && r->is_number()) p.rescale_factor = r->as_double();
    return p;
  }
};

class Preprocessor {
 public:
  Preprocessor(const Options& opt, const vit::models::InputRules& rules) : opt_(opt), cfg_(rules) {
    if (opt.preferred_resolution) target_ = {rules.preferred[0], rules.preferred[1]};
    else if (opt.resolution) target_ = *opt.resolution;
    if (rules.fixed) {  // the model takes one size only: every input is resized to it
      const std::pair<int, int> own{rules.preferred[0], rules.preferred[1]};
      if (target_ && *target_ != own)
        vit::fail(vit::ErrorKind::argument, "--resolution " + std::to_string(target_->first) + "x" + std::to_string(target_->second) +
                                                ": this model takes only " + std::to_string(own.first) + "x" + std::to_string(own.second) +
                                                " (its position table is not resampled)");
      target_ = own;
    }
    if (!target_ && rules.resize_to_preferred) target_ = {rules.preferred[0], rules.preferred[1]};
    if (target_) {
      const int p = rules.step();
      if (target_->first % p || target_->second % p)
        vit::fail(vit::ErrorKind::argument, "--resolution " + std::to_string(target_->first) + "x" + std::to_string(target_->second) +
                                                ": height and width must be multiples of " + rules.step_text());
    }
    if (opt.preprocess == Preprocess::hf) {
      namespace fs = std::filesystem;
      std::error_code ec;
      const fs::path file = fs::is_directory(opt.model, ec) ? fs::path(opt.model) / "preprocessor_config.json" : fs::path();
      if (file.empty() || !fs::exists(file, ec))
        vit::fail(vit::ErrorKind::config, opt.model + ": --preprocess hf needs preprocessor_config.json in the model folder");
      hf_ = HfPreprocessor::load(file.string());
    }
  }

  // Notes for --verbose / stderr about choices made (e.g. normalisation skipped).
  std::string notes() const {
    if (hf_ && hf_->do_normalize)
      return "preprocessor_config.json sets do_normalize; not applied, because the model normalises its input itself";
    return {};
  }

  Prepared prepare(const InputItem& item) const {
    using clock = std::chrono::steady_clock;
    Prepared out{item, {}, 0, 0, 0, 0};
    auto t0 = clock::now();
    if (item.is_npy) {
      out.pixels = vit::io::read_npy(item.path);
      const auto& s = out.pixels.shape;
      if (s.rank() != 4 || s[1] != 3 || s[0] < 1 || s[2] < 1 || s[3] < 1)
        vit::fail(vit::ErrorKind::shape, item.path + ": expected a float32 [B, 3, H, W] RGB array, got shape " + s.str());
      out.source_h = int(s[2]);
      out.source_w = int(s[3]);
      out.decode_s = seconds(t0);
      const int p = cfg_.step();
      if (s[2] % p || s[3] % p)
        vit::fail(vit::ErrorKind::shape, item.path + ": height and width must be multiples of " + cfg_.step_text() + ", got " +
                                             std::to_string(s[2]) + "x" + std::to_string(s[3]) + " (images are resized; .npy inputs are not)");
      check_size(item, int(s[2]), int(s[3]));
      return out;
    }
    // The size check runs on the header's width and height, before anything is decoded.
    vit::io::ImageLimits limits;
    limits.check_size = [&](std::int64_t w, std::int64_t h) { check_image_size(item, int(w), int(h)); };
    vit::io::Image img = vit::io::load_image(item.path, limits);
    out.decode_s = seconds(t0);
    out.source_h = img.height;
    out.source_w = img.width;
    auto t1 = clock::now();
    vit::HostTensor x = hf_ ? hf_pixels(img) : img.to_tensor();
    const auto [th, tw] = run_size(img.height, img.width);  // checked from the header: each side fits in an int
    check_size(item, int(th), int(tw));
    out.pixels = vit::io::resize_bilinear(x, int(th), int(tw));
    out.resize_s = seconds(t1);
    return out;
  }

 private:
  static double seconds(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  }

  // The size (height, width) an image of w x h runs at: --resolution, or the nearest supported
  // resolution of the image (after the hf resize and center crop when --preprocess hf).
  std::pair<std::int64_t, std::int64_t> run_size(int h, int w) const {
    if (target_) return *target_;
    std::int64_t rh = h, rw = w;
    if (hf_) std::tie(rh, rw) = hf_size(h, w);  // sides fit in an int: see check_image_size
    return vit::io::nearest_supported_resolution(int(rh), int(rw), cfg_.step());
  }

  // Refuses an image (w x h from its header, before decoding) that would run beyond the model's
  // max_resolution (unless --allow-large), or that the hf resize would make larger than an image
  // may be (vit::io::max_image_pixels, max_image_side).
  void check_image_size(const InputItem& item, int w, int h) const {
    const std::string is = item.path + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " (WxH)";
    auto hxw = [](std::int64_t a, std::int64_t b) { return std::to_string(a) + "x" + std::to_string(b) + " (HxW)"; };
    if (hf_ && hf_->do_resize) {
      const auto [rh, rw] = hf_resize_size(h, w);
      if (rh > vit::io::max_image_side || rw > vit::io::max_image_side || rh * rw > vit::io::max_image_pixels)
        vit::fail(vit::ErrorKind::argument, is + " and preprocessor_config.json resizes it to " + hxw(rh, rw) + ", expected at most " +
                                                std::to_string(vit::io::max_image_pixels) + " pixels");
    }
    const auto [th, tw] = run_size(h, w);
    if (opt_.allow_large || (th <= max_resolution() && tw <= max_resolution())) return;
    vit::fail(vit::ErrorKind::argument, is + " and would run at " + hxw(th, tw) + ", beyond the model's max_resolution " +
                                            std::to_string(max_resolution()) + " (pass --allow-large to run it anyway)");
  }

  void check_size(const InputItem& item, int h, int w) const {
    if (opt_.allow_large || (h <= max_resolution() && w <= max_resolution())) return;
    vit::fail(vit::ErrorKind::argument, item.path + ": input size " + std::to_string(h) + "x" + std::to_string(w) + " exceeds the model's max_resolution " +
                                            std::to_string(max_resolution()) + " (pass --allow-large to run it anyway)");
  }

  // The size (height, width) CLIPImageProcessor resizes an h x w image to (computed in 64 bits:
  // a shortest_edge resize of a thin image can exceed an int).
  std::pair<std::int64_t, std::int64_t> hf_resize_size(int h, int w) const {
    const HfPreprocessor& p = *hf_;
    if (p.shortest_edge <= 0) return {p.size_h, p.size_w};
    // transformers' get_resize_output_image_size(default_to_square=False)
    const bool portrait = h > w;
    const int short_side = portrait ? w : h, long_side = portrait ? h : w;
    const auto new_long = std::int64_t(double(p.shortest_edge) * long_side / short_side);
    return portrait ? std::pair<std::int64_t, std::int64_t>{new_long, p.shortest_edge} : std::pair<std::int64_t, std::int64_t>{p.shortest_edge, new_long};
  }

  // The size (height, width) of hf_pixels' output for an h x w image: resized, then center cropped.
  std::pair<std::int64_t, std::int64_t> hf_size(int h, int w) const {
    const HfPreprocessor& p = *hf_;
    std::pair<std::int64_t, std::int64_t> s{h, w};
    if (p.do_resize) s = hf_resize_size(h, w);
    if (p.do_center_crop) s = {p.crop_h, p.crop_w};
    return s;
  }

  // CLIPImageProcessor's resize, center crop and rescale on the 8-bit image.
  vit::HostTensor hf_pixels(const vit::io::Image& img) const {
    const HfPreprocessor& p = *hf_;
    std::vector<std::uint8_t> rgb = img.to_u8();
    int w = img.width, h = img.height;
    if (p.do_resize) {
      const auto [oh, ow] = hf_resize_size(h, w);  // checked from the header: fits in an int
      if (oh != h || ow != w) rgb = vit::io::pil_resize(rgb, w, h, int(ow), int(oh), p.resample);
      w = int(ow);
      h = int(oh);
    }
    if (p.do_center_crop) {
      rgb = vit::io::center_crop(rgb, w, h, p.crop_w, p.crop_h);
      w = p.crop_w;
      h = p.crop_h;
    }
    const double scale = p.do_rescale ? p.rescale_factor : 1.0;
    vit::HostTensor t(vit::Shape{1, 3, h, w});
    const std::size_t plane = std::size_t(w) * std::size_t(h);
    for (std::size_t i = 0; i < plane; ++i)
      for (std::size_t c = 0; c < 3; ++c) t.data[c * plane + i] = float(double(rgb[i * 3 + c]) * scale);
    return t;
  }

  const Options& opt_;
  // The largest side the model is meant for; a family that states none is bounded by the image cap.
  int max_resolution() const { return cfg_.max_resolution > 0 ? cfg_.max_resolution : int(vit::io::max_image_side); }

  const vit::models::InputRules& cfg_;
  std::optional<std::pair<int, int>> target_;
  std::optional<HfPreprocessor> hf_;
};

}  // namespace radio_embed
