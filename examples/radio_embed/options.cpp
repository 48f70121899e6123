#include "options.hpp"

#include <charconv>
#include <filesystem>
#include <string_view>
#include <vector>

#include "vit/error.hpp"
#include "vit/io/file.hpp"

namespace radio_embed {

namespace {

[[noreturn]] void bad(const std::string& what) { vit::fail(vit::ErrorKind::argument, what); }

int parse_int(std::string_view flag, const std::string& s, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi)
    bad(std::string(flag) + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + s + "'");
  return v;
}

std::pair<int, int> parse_hxw(const std::string& s) {
  auto x = s.find_first_of("xX");
  if (x == std::string::npos) bad("--resolution: expected HxW (e.g. 512x512) or 'preferred', got '" + s + "'");
  return {parse_int("--resolution height", s.substr(0, x), 1, 1 << 16), parse_int("--resolution width", s.substr(x + 1), 1, 1 << 16)};
}

// "4,-1,10" -> {4, -1, 10}
std::vector<int> parse_int_list(std::string_view flag, const std::string& s) {
  std::vector<int> out;
  std::size_t at = 0;
  while (true) {
    const std::size_t comma = s.find(',', at);
    out.push_back(parse_int(flag, s.substr(at, comma == std::string::npos ? std::string::npos : comma - at), -4096, 4096));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

// The single-file outputs must be distinct (compared as weakly canonical paths: "d/../x.npy" is
// "x.npy") and must not name an existing FIFO, device node, socket or directory: they are
// written to a temporary file renamed over the path, which would replace such a node.
void check_output_files(const Options& o) {
  namespace fs = std::filesystem;
  const std::vector<std::pair<const char*, const std::string*>> outputs = {
      {"--summary", &o.summary}, {"--features", &o.features}, {"--out", &o.out}, {"--pca", &o.pca}, {"--pca-basis-save", &o.pca_basis_save},
      {"--adaptor-summary", &o.adaptor_summary}, {"--adaptor-features", &o.adaptor_features}};
  std::vector<std::pair<const char*, fs::path>> seen;
  for (const auto& [flag, path] : outputs) {
    if (path->empty()) continue;
    try {
      vit::io::require_regular_file(*path, /*may_be_missing=*/true);
    } catch (const vit::Error& e) {
      bad(std::string(flag) + " " + e.what() + "; outputs never replace anything but regular files");
    }
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(*path, ec);
    if (ec) canon = fs::absolute(*path).lexically_normal();
    for (const auto& [other, p] : seen)
      if (p == canon) bad(std::string(other) + " and " + flag + " name the same file '" + *path + "' (each output needs its own path)");
    seen.emplace_back(flag, canon);
  }
}

}  // namespace

const char* usage() {
  return R"(usage: vit-embed --model DIR [inputs...] [outputs] [options]
       (radio-embed is the same program)

Runs a Vision Transformer on images or .npy tensors and writes its summary and spatial features.
The model's family is read from its folder: C-RADIO (HF snapshot or project config) or timm
(a hub snapshot: ViT, DeiT, DINOv2, SigLIP).

model:
  --model DIR            HF C-RADIO snapshot (config.json + model.safetensors), a project JSON
                         config (random weights when it has no model.safetensors), or a timm hub
                         snapshot (config.json with "architecture" + model.safetensors)
  --write-config FILE    write the project's JSON config of --model and exit
inputs:
  --input FILE           an image (PNG, JPEG, BMP, TGA; 8/16-bit; gray/RGBA -> RGB) or a .npy
                         float32 [B,3,H,W] in [0,1]; a folder is walked for images (sorted)
  FILE...                more inputs (positional)
  --input-list FILE      one input path per line
outputs:
  --summary S.npy --features F.npy   (one input) exactly these files
  --out-dir DIR          <stem>.summary.npy and <stem>.features.npy per input
  --out FILE.safetensors all inputs in one file ("<stem>/summary", "<stem>/features", metadata)
  --layout nlc|nchw      features as [B,T,D] (default) or [B,D,h,w]
  --pca FILE.png         (one input) RADIO's robust-PCA picture of the features
  --pca-dir DIR          <stem>.pca.png per input
  --pca-basis-save FILE  store the PCA basis of the first input; --pca-basis-load FILE reuses one
preprocessing (images):
  --resolution HxW|preferred   resize to this size instead of the default: C-RADIO the nearest
                         supported resolution, timm the model's input size (a fixed-size timm
                         model takes only that)
  --preprocess torch|hf  torch (default): /255, bilinear align_corners=False to the size above;
                         hf: follow the model's preprocessor_config.json
  --allow-large          allow sizes beyond the model's max_resolution
  --allow-nonfinite      run inputs holding NaN/Inf values and write outputs that are not finite
                         (otherwise both are per-input errors)
  --batch N              run up to N images of the same resized shape in one forward
  --streams N            N forwards at once over one copy of the weights (cpu: the threads are
                         split among them; reference); outputs in completion order
extras (C-RADIO; see docs/radio-extras.md):
  --vitdet W             ViTDet windowed attention, W x W patch windows (sizes become multiples
                         of patch x W; C-RADIOv4)
  --adaptor NAME         also run this teacher head (repeatable); its outputs go to --out-dir as
                         <stem>.<NAME>.summary.npy / .features.npy and into --out bundles
  --adaptor-summary S.npy --adaptor-features F.npy   (one input, one --adaptor) exactly these files
  --intermediates K1,K2,...   also return the tokens after these blocks (negative: from the end)
  --aggregation sparse|dense  sparse (default): block k's output; dense: the mean since the
                         previous chosen block
  --intermediates-dir DIR     DIR/intermediates_<k>.npy [B,T,D] and _<k>_summary.npy [B,n*D]
                         (one input; with several, DIR/<stem>/...)
backend:
  --backend reference|cpu|cuda|vulkan   (default reference)
  --threads N            cpu backend threads (0 = all)
  --device N             cuda / vulkan device
  --precision fp32|tf32|bf16|fp16       cuda: all; vulkan: fp32|fp16; reference: fp32|bf16|fp16; cpu: fp32 (default fp32)
  --bench N              time N more forwards of the first batch; last stderr line:
                         "forward: median X ms, min Y ms over N runs"
  --dump-input DIR       also write <stem>.input.npy, the preprocessed [B,3,H,W] model input
other:
  --quiet  --verbose  --version  --help
)";
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_inline = true;
      }
    }
    auto next = [&]() -> std::string {
      if (has_inline) return value;
      if (i + 1 >= argc) bad(a + ": missing value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") o.help = true;
    else if (a == "--version") o.version = true;
    else if (a == "--quiet" || a == "-q") o.quiet = true;
    else if (a == "--verbose" || a == "-v") o.verbose = true;
    else if (a == "--allow-large") o.allow_large = true;
    else if (a == "--allow-nonfinite") o.allow_nonfinite = true;
    else if (a == "--model") o.model = next();
    else if (a == "--input") o.inputs.push_back(next());
    else if (a == "--input-list") o.input_list = next();
    else if (a == "--summary") o.summary = next();
    else if (a == "--features") o.features = next();
    else if (a == "--out-dir") o.out_dir = next();
    else if (a == "--out") o.out = next();
    else if (a == "--backend") o.backend = next();
    else if (a == "--layout") o.layout = next();
    else if (a == "--precision") o.precision = next();
    else if (a == "--threads") o.threads = parse_int(a, next(), 0, 4096);
    else if (a == "--device") o.device = parse_int(a, next(), 0, 1024);
    else if (a == "--bench") o.bench = parse_int(a, next(), 0, 1000000);
    else if (a == "--batch") o.batch = parse_int(a, next(), 1, 4096);
    else if (a == "--streams") o.streams = parse_int(a, next(), 1, 256);
    else if (a == "--resolution") {
      std::string v = next();
      if (v == "preferred") o.preferred_resolution = true;
      else o.resolution = parse_hxw(v);
    } else if (a == "--preprocess") {
      std::string v = next();
      if (v == "torch") o.preprocess = Preprocess::torch;
      else if (v == "hf") o.preprocess = Preprocess::hf;
      else bad("--preprocess: expected torch or hf, got '" + v + "'");
    } else if (a == "--pca") o.pca = next();
    else if (a == "--pca-dir") o.pca_dir = next();
    else if (a == "--pca-basis-save") o.pca_basis_save = next();
    else if (a == "--pca-basis-load") o.pca_basis_load = next();
    else if (a == "--write-config") o.write_config = next();
    else if (a == "--dump-input") o.dump_input = next();
    else if (a == "--vitdet") o.vitdet = parse_int(a, next(), 1, 1024);
    else if (a == "--adaptor") o.adaptors.push_back(next());
    else if (a == "--adaptor-summary") o.adaptor_summary = next();
    else if (a == "--adaptor-features") o.adaptor_features = next();
    else if (a == "--intermediates") o.intermediates = parse_int_list(a, next());
    else if (a == "--aggregation") o.aggregation = next();
    else if (a == "--intermediates-dir") o.intermediates_dir = next();
    else if (a.size() > 1 && a[0] == '-') bad("unknown option '" + a + "' (see --help)");
    else o.inputs.push_back(a);
  }
  if (o.help || o.version) return o;
  if (o.model.empty()) bad("--model DIR is required (see --help)");
  if (o.layout != "nlc" && o.layout != "nchw") bad("--layout: expected nlc or nchw, got '" + o.layout + "'");
  if (o.precision != "fp32" && o.precision != "tf32" && o.precision != "bf16" && o.precision != "fp16")
    bad("--precision: expected fp32, tf32, bf16 or fp16, got '" + o.precision + "'");
  // Whether the backend computes in it is the backend's own check (vit::check_precision), when it is made.
  if (o.aggregation != "sparse" && o.aggregation != "dense") bad("--aggregation: expected sparse or dense, got '" + o.aggregation + "'");
  if (!o.write_config.empty()) return o;
  const bool adaptor_files = !o.adaptor_summary.empty() || !o.adaptor_features.empty();
  if (adaptor_files && o.adaptors.size() != 1)
    bad("--adaptor-summary/--adaptor-features write one head's outputs: give exactly one --adaptor (got " + std::to_string(o.adaptors.size()) + ")");
  if (!o.intermediates.empty() && o.vitdet > 0)
    bad("--intermediates cannot be combined with --vitdet (the official model returns empty tensors there)");
  if (!o.intermediates.empty() && o.intermediates_dir.empty() && o.out.empty()) bad("--intermediates needs --intermediates-dir DIR or --out FILE");
  if (o.intermediates.empty() && (!o.intermediates_dir.empty() || o.aggregation != "sparse"))
    bad("--intermediates-dir/--aggregation need --intermediates K1,K2,...");
  if (o.inputs.empty() && o.input_list.empty()) bad("no input: give --input FILE, positional files or --input-list FILE");
  const bool single = !o.summary.empty() || !o.features.empty();
  if (single && (!o.out_dir.empty() || !o.out.empty())) bad("--summary/--features cannot be combined with --out-dir or --out");
  if (!o.out.empty() && !o.out_dir.empty()) bad("--out and --out-dir are exclusive");
  if (!o.pca.empty() && !o.pca_dir.empty()) bad("--pca and --pca-dir are exclusive");
  if (!o.pca_basis_save.empty() && !o.pca_basis_load.empty()) bad("--pca-basis-save and --pca-basis-load are exclusive");
  if ((!o.pca_basis_save.empty() || !o.pca_basis_load.empty()) && o.pca.empty() && o.pca_dir.empty())
    bad("--pca-basis-save/--pca-basis-load need --pca or --pca-dir");
  if (adaptor_files && (!o.out_dir.empty() || !o.out.empty())) bad("--adaptor-summary/--adaptor-features cannot be combined with --out-dir or --out");
  if (!single && !adaptor_files && o.intermediates_dir.empty() && o.out_dir.empty() && o.out.empty() && o.pca.empty() && o.pca_dir.empty() &&
      o.dump_input.empty() && o.bench == 0)
    bad("no output: give --summary/--features, --out-dir, --out, --pca, --pca-dir or --bench N");
  if (o.resolution && o.preferred_resolution) bad("--resolution given twice");
  check_output_files(o);
  return o;
}

}  // namespace radio_embed
