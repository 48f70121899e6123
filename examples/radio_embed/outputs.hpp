// Writing results: exact --summary/--features paths, per-input .npy files in --out-dir, one
// --out .safetensors for everything, and the PCA pictures. Every file is written atomically, and
// only after its forward succeeded; when a later file of the same input fails, the earlier ones
// are removed again, so a failed input leaves nothing behind.
#pragma once
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "inputs.hpp"
#include "options.hpp"
#include "vit/io/image.hpp"
#include "vit/io/npy.hpp"
#include "vit/io/pca.hpp"
#include "vit/io/resize.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/model.hpp"
#include "vit/version.hpp"

namespace radio_embed {

// One input's results on the host.
struct ItemResult {
  InputItem item;
  vit::HostTensor summary;   // [b, C]
  vit::HostTensor features;  // [b, T, D] (always NLC here; the writer applies --layout)
  int height = 0, width = 0;       // the model's input size
  int source_h = 0, source_w = 0;  // the decoded image's size
  int grid_h = 0, grid_w = 0;
  std::vector<vit::HostHeadOutput> adaptors;         // --adaptor heads (features NLC)
  std::vector<vit::HostIntermediate> intermediates;  // --intermediates (features NLC)
};

// The features' sample `i` as [T, D] rows.
inline const float* sample_rows(const vit::HostTensor& f, std::int64_t i) { return f.data.data() + i * f.shape[1] * f.shape[2]; }

// Writes the robust-PCA picture of sample `i` of r's features, upsampled (bicubic, as RADIO's
// get_pca_map) to the source image size.
inline void write_pca_png(const std::string& path, const ItemResult& r, std::int64_t i, const vit::io::PcaBasis& basis) {
  const std::int64_t t = r.features.shape[1], d = r.features.shape[2];
  std::vector<float> colors = vit::io::pca_colors(sample_rows(r.features, i), t, d, basis);
  vit::HostTensor grid(vit::Shape{1, 3, r.grid_h, r.grid_w}, std::move(colors));
  vit::HostTensor up = vit::io::resize_bicubic(grid, r.source_h, r.source_w);
  const std::size_t plane = std::size_t(r.source_h) * std::size_t(r.source_w);
  std::vector<std::uint8_t> rgb(plane * 3);
  for (std::size_t p = 0; p < plane; ++p)
    for (std::size_t c = 0; c < 3; ++c) rgb[p * 3 + c] = std::uint8_t(std::lround(std::clamp(up.data[c * plane + p], 0.0f, 1.0f) * 255.0f));
  vit::io::write_png(path, r.source_w, r.source_h, rgb.data());
}

class OutputWriter {
 public:
  OutputWriter(const Options& opt, std::string model_version, std::string backend, std::string precision, std::size_t total_inputs)
      : opt_(opt), version_(std::move(model_version)), backend_(std::move(backend)), precision_(std::move(precision)), total_(total_inputs) {
    if (!opt.pca_basis_load.empty()) basis_ = vit::io::load_pca_basis(opt.pca_basis_load);
    for (const std::string& dir : {opt.out_dir, opt.pca_dir, opt.dump_input, opt.intermediates_dir}) {
      if (dir.empty()) continue;
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (!std::filesystem::is_directory(dir, ec))
        vit::fail(vit::ErrorKind::io, dir + ": cannot create the output folder" + (ec ? ": " + ec.message() : std::string()));
    }
  }

  // Writes all outputs of one input; returns the paths written (for stdout). Throws on failure,
  // having removed whatever it wrote for this input.
  std::vector<std::string> write(const ItemResult& r) {
    std::vector<std::string> written;
    try {
      const vit::HostTensor features = layout_features(r);
      auto npy = [&](const std::string& path, const vit::HostTensor& t) {
        vit::io::write_npy(path, t);
        written.push_back(path);
      };
      if (!opt_.summary.empty()) npy(opt_.summary, r.summary);
      if (!opt_.features.empty()) npy(opt_.features, features);
      if (!opt_.out_dir.empty()) {
        const std::filesystem::path dir(opt_.out_dir);
        npy((dir / (r.item.stem + ".summary.npy")).string(), r.summary);
        npy((dir / (r.item.stem + ".features.npy")).string(), features);
      }
      if (!opt_.pca.empty() || !opt_.pca_dir.empty()) write_pca(r, written);
      if (!opt_.adaptor_summary.empty()) npy(opt_.adaptor_summary, r.adaptors.at(0).summary);
      if (!opt_.adaptor_features.empty()) npy(opt_.adaptor_features, head_features(r.adaptors.at(0)));
      if (!opt_.out_dir.empty())
        for (const auto& h : r.adaptors) {
          const std::filesystem::path dir(opt_.out_dir);
          npy((dir / (r.item.stem + "." + h.name + ".summary.npy")).string(), h.summary);
          npy((dir / (r.item.stem + "." + h.name + ".features.npy")).string(), head_features(h));
        }
      if (!opt_.intermediates_dir.empty() && !r.intermediates.empty()) {
        std::filesystem::path dir(opt_.intermediates_dir);
        if (total_ > 1) {  // one folder per input
          dir /= r.item.stem;
          std::error_code ec;
          std::filesystem::create_directories(dir, ec);
          if (!std::filesystem::is_directory(dir, ec)) vit::fail(vit::ErrorKind::io, dir.string() + ": cannot create the output folder");
        }
        for (const auto& e : r.intermediates) {
          const std::string k = std::to_string(e.block);
          npy((dir / ("intermediates_" + k + ".npy")).string(), layout_tokens(e.features, r.grid_h, r.grid_w));
          npy((dir / ("intermediates_" + k + "_summary.npy")).string(), e.summary);
        }
      }
      if (!opt_.out.empty()) {
        auto add = [&](const std::string& name, const vit::HostTensor& t) { bundle_.push_back({r.item.stem + "/" + name, t.shape, t.data, {}, false}); };
        add("summary", r.summary);
        add("features", features);
        for (const auto& h : r.adaptors) {
          add(h.name + "/summary", h.summary);
          add(h.name + "/features", head_features(h));
        }
        for (const auto& e : r.intermediates) {
          add("intermediates_" + std::to_string(e.block), layout_tokens(e.features, r.grid_h, r.grid_w));
          add("intermediates_" + std::to_string(e.block) + "_summary", e.summary);
        }
        resolutions_[r.item.stem] = std::to_string(r.height) + "x" + std::to_string(r.width);
      }
    } catch (...) {
      for (const auto& p : written) std::remove(p.c_str());
      throw;
    }
    return written;
  }

  // Writes the --out bundle (if any input made it). Returns its path, or "" when none.
  std::string finish() {
    if (opt_.out.empty() || bundle_.empty()) return {};
    std::map<std::string, std::string> meta{{"model", opt_.model},
                                            {"version", version_},
                                            {"backend", backend_},
                                            {"precision", precision_},
                                            {"layout", opt_.layout},
                                            {"library", std::string("vit ") + VIT_VERSION_STRING}};
    std::string res;
    bool uniform = true;
    for (const auto& [stem, hw] : resolutions_) {
      uniform = uniform && hw == resolutions_.begin()->second;
      res += (res.empty() ? "" : ",") + stem + ":" + hw;
    }
    meta["resolution"] = uniform ? resolutions_.begin()->second : res;
    vit::io::write_safetensors(opt_.out, bundle_, meta);
    return opt_.out;
  }

 private:
  vit::HostTensor layout_features(const ItemResult& r) const { return layout_tokens(r.features, r.grid_h, r.grid_w); }
  vit::HostTensor head_features(const vit::HostHeadOutput& h) const { return layout_tokens(h.features, h.grid_h, h.grid_w); }
  vit::HostTensor layout_tokens(const vit::HostTensor& nlc, int gh, int gw) const {
    if (opt_.layout == "nchw") return vit::to_nchw(nlc, gh, gw);
    return nlc;
  }

  void write_pca(const ItemResult& r, std::vector<std::string>& written) {
    const std::int64_t samples = opt_.pca.empty() ? r.features.shape[0] : 1;
    for (std::int64_t i = 0; i < samples; ++i) {
      vit::io::PcaBasis basis;
      if (basis_) {
        basis = *basis_;
      } else {
        basis = vit::io::fit_robust_pca(sample_rows(r.features, i), r.features.shape[1], r.features.shape[2]);
        if (!opt_.pca_basis_save.empty()) {  // the first input's basis colours all the others
          vit::io::save_pca_basis(opt_.pca_basis_save, basis);
          basis_ = basis;
        }
      }
      std::string path = opt_.pca;
      if (path.empty()) {
        const std::string name = r.item.stem + (r.features.shape[0] > 1 ? "." + std::to_string(i) : "") + ".pca.png";
        path = (std::filesystem::path(opt_.pca_dir) / name).string();
      }
      write_pca_png(path, r, i, basis);
      written.push_back(path);
    }
  }

  const Options& opt_;
  std::string version_, backend_, precision_;
  std::size_t total_ = 1;
  std::optional<vit::io::PcaBasis> basis_;
  std::vector<vit::io::TensorToWrite> bundle_;
  std::map<std::string, std::string> resolutions_;
};

}  // namespace radio_embed
