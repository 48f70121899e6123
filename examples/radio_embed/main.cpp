// radio-embed: C-RADIO summary and spatial features of images or .npy tensors (see --help and
// docs/cli.md). This file parses the command line and picks the backend; the work is run<B>().
#include <algorithm>
#include <cstdio>
#include <exception>

#include "backends.hpp"
#include "options.hpp"
#include "run.hpp"
#include "signals.hpp"
#ifdef VIT_HAS_CPU_BACKEND
#include "vit/backends/cpu.hpp"
#endif
#include "vit/backends/reference.hpp"
#include "vit/version.hpp"
#ifdef VIT_RADIO_EMBED_CUDA
#include <dlfcn.h>

#include <filesystem>
#endif

namespace {

#ifdef VIT_RADIO_EMBED_CUDA
// --backend cuda: loads the CUDA part (the module beside this program in a build tree, in
// libexec/vit once installed) and runs it. Only now does the process load the CUDA libraries.
int run_cuda_module(const radio_embed::Options& opt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec || dir.empty())  // never look for the module relative to the working directory
    vit::fail(vit::ErrorKind::backend, "--backend cuda: cannot find this program's folder (/proc/self/exe: " + ec.message() + ")");
  std::string looked;
  for (const fs::path& where : {dir, dir / VIT_RADIO_EMBED_CUDA_INSTALLED}) {
    const fs::path path = (where / VIT_RADIO_EMBED_CUDA_MODULE).lexically_normal();
    if (!fs::exists(path, ec)) {
      looked += (looked.empty() ? "" : ", ") + path.string();
      continue;
    }
    void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module) vit::fail(vit::ErrorKind::backend, "--backend cuda: cannot load " + path.string() + ": " + dlerror());
    using Run = int (*)(const radio_embed::Options&);
    const auto run = reinterpret_cast<Run>(dlsym(module, "radio_embed_run_cuda"));
    if (!run) vit::fail(vit::ErrorKind::backend, "--backend cuda: " + path.string() + " has no radio_embed_run_cuda");
    return run(opt);
  }
  vit::fail(vit::ErrorKind::unsupported, std::string("--backend cuda: the program's CUDA module ") + VIT_RADIO_EMBED_CUDA_MODULE +
                                             " is missing (looked for " + looked + ")");
}
#endif

int dispatch(const radio_embed::Options& opt) {
  if (opt.backend == "reference") {
    const vit::reference::Options o{vit::parse_precision(opt.precision)};
    vit::reference::Backend b(o);
    return radio_embed::run<vit::reference::Backend>(b, opt, opt.precision, [o] { return vit::reference::Backend(o); });
  }
  if (opt.backend == "cpu") {
#ifdef VIT_HAS_CPU_BACKEND
    // --streams N splits the threads: each stream's backend gets threads / N (at least one).
    const int total = opt.threads > 0 ? opt.threads : vit::cpu::hardware_cores();
    vit::cpu::Options o;
    o.threads = std::max(1, total / opt.streams);
    o.precision = vit::parse_precision(opt.precision);
    vit::cpu::Backend b(o);
    return radio_embed::run<vit::cpu::Backend>(b, opt, opt.precision, [o] { return vit::cpu::Backend(o); });
#else
    vit::fail(vit::ErrorKind::unsupported, "this build has no cpu backend (configure with oneDNN and -DVIT_CPU=ON)");
#endif
  }
  if (opt.backend == "cuda") {
#ifdef VIT_RADIO_EMBED_CUDA
    return run_cuda_module(opt);
#else
    vit::fail(vit::ErrorKind::unsupported, "this build has no CUDA backend (configure with the CUDA toolkit and -DVIT_CUDA=ON)");
#endif
  }
  if (opt.backend == "vulkan") {
#ifdef VIT_RADIO_EMBED_VULKAN
    return radio_embed::run_vulkan(opt);
#else
    vit::fail(vit::ErrorKind::unsupported, "this build has no Vulkan backend (install libvulkan-dev and glslc, configure with -DVIT_VULKAN=ON)");
#endif
  }
  vit::fail(vit::ErrorKind::argument, "--backend: unknown backend '" + opt.backend + "' (expected reference, cpu, cuda or vulkan)");
}

}  // namespace

int main(int argc, char** argv) {
  radio_embed::set_program_name(argc > 0 ? argv[0] : nullptr);
  radio_embed::remove_temporaries_on_signals();  // before any thread or file exists
  try {
    const radio_embed::Options opt = radio_embed::parse_options(argc, argv);
    if (opt.help) {
      std::fputs(radio_embed::usage(), stdout);
      return 0;
    }
    if (opt.version) {
      std::printf("%s (vit) %s\n", radio_embed::program_name(), VIT_VERSION_STRING);
      return 0;
    }
    if (!opt.write_config.empty()) {
      auto snap = vit::models::open_model(opt.model);
      if (!snap.radio_config)
        vit::fail(vit::ErrorKind::argument, "--write-config: only C-RADIO models have a project config; " + opt.model + " is a " + snap.family + " model");
      snap.radio_config->save(opt.write_config);
      return 0;
    }
    return dispatch(opt);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    const std::string message = radio_embed::escape_field(radio_embed::describe(std::current_exception()), false);
    std::fprintf(stderr, "%s: error: %s\n", radio_embed::program_name(), message.c_str());
    return 1;
  }
}
