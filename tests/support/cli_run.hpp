// Running the built radio-embed from a test: a scratch folder per test and the exit status,
// stdout and stderr of one run.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#ifndef RADIO_EMBED_BIN
#error "RADIO_EMBED_BIN must name the radio-embed executable"
#endif

namespace vit::testing {

struct CliResult {
  int code;
  std::string out, err;
};

// An empty folder <tmp>/vit_<prefix>_<pid>/<name>.
inline std::filesystem::path cli_scratch(const std::string& prefix, const std::string& name) {
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / ("vit_" + prefix + "_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// `radio-embed <args>` (or, with `program` "vit-embed", the same program by its other name, the
// link beside it); stdout and stderr go through files in `dir`.
inline CliResult run_radio_embed(const std::string& args, const std::filesystem::path& dir, const std::string& program = "radio-embed") {
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::filesystem::path bin = std::filesystem::path(RADIO_EMBED_BIN).parent_path() / program;
  const std::string cmd = bin.string() + " " + args + " >" + out.string() + " 2>" + err.string();
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(out), slurp(err)};
}

}  // namespace vit::testing
