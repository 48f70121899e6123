// radio-embed's command line, parsed into one plain struct (parse_options in options.cpp).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace radio_embed {

// The program's name in its messages: "vit-embed" when called so, else "radio-embed" (one program
// under two names: any model family; radio-embed is the name it first had).
inline const char*& program_name() {
  static const char* name = "radio-embed";
  return name;
}
inline void set_program_name(const char* argv0) {
  const std::string_view a = argv0 ? argv0 : "";
  const std::string_view base = a.substr(a.rfind('/') == std::string_view::npos ? 0 : a.rfind('/') + 1);
  if (base == "vit-embed") program_name() = "vit-embed";
}

enum class Preprocess { torch, hf };

struct Options {
  std::string model;                 // --model DIR (HF snapshot folder or project JSON config)
  std::vector<std::string> inputs;   // --input, positional arguments, --input-list entries
  std::string input_list;            // --input-list FILE
  std::string summary, features;     // --summary / --features: single-input .npy outputs
  std::string out_dir;               // --out-dir DIR: <stem>.summary.npy / <stem>.features.npy
  std::string out;                   // --out FILE.safetensors: everything in one file
  std::string backend = "reference";
  std::string layout = "nlc";        // nlc | nchw
  std::string precision = "fp32";    // fp32 | tf32 | bf16 | fp16, as far as the backend computes in it (its `precisions`)
  int threads = 0;                   // cpu backend: 0 = all cores
  int device = 0;                    // cuda / vulkan device index
  int bench = 0;                     // extra timed forwards
  int batch = 1;                     // images of one resized shape per forward
  int streams = 1;                   // --streams N: concurrent forwards over one set of weights (cpu, reference)
  std::optional<std::pair<int, int>> resolution;  // --resolution HxW
  bool preferred_resolution = false;              // --resolution preferred
  Preprocess preprocess = Preprocess::torch;
  bool allow_large = false;
  bool allow_nonfinite = false;      // --allow-nonfinite: run NaN/Inf inputs, write NaN/Inf outputs
  std::string pca, pca_dir, pca_basis_save, pca_basis_load;
  std::string write_config;
  std::string dump_input;            // --dump-input DIR: <stem>.input.npy, the model's input tensor
  int vitdet = 0;                    // --vitdet W: ViTDet windowed attention with w×w windows (0: off)
  std::vector<std::string> adaptors; // --adaptor NAME (repeatable): teacher heads to run
  std::string adaptor_summary, adaptor_features;  // --adaptor-summary / --adaptor-features: one input, one head
  std::vector<int> intermediates;    // --intermediates K1,K2,...: blocks (negative: from the end)
  std::string aggregation = "sparse";  // --aggregation sparse|dense
  std::string intermediates_dir;     // --intermediates-dir DIR
  bool quiet = false, verbose = false;
  bool help = false, version = false;
};

// Throws vit::Error(argument) with a one-line message on a bad command line.
Options parse_options(int argc, char** argv);

const char* usage();

}  // namespace radio_embed
