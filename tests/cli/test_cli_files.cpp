// radio-embed's inputs and outputs under hostile conditions: non-finite values, FIFOs and device
// nodes, clashing output paths, empty input lists, odd file names, a full disk and signals.
// Runs the built binary (RADIO_EMBED_BIN) on the bundled fixture model A.
#include <catch2/catch.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vit/io/npy.hpp"
#include "vit/io/safetensors.hpp"

#ifndef RADIO_EMBED_BIN
#error "RADIO_EMBED_BIN must name the radio-embed executable"
#endif

extern char** environ;

using namespace vit;
namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(VIT_TEST_DATA_DIR) + "/radio/A";
const std::string kInput = kModel + "/input_sq128.npy";  // [1, 3, 128, 128]: 49152 values

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("vit_cli_files_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// `s` quoted for /bin/sh (any bytes, tabs and newlines included).
std::string q(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}
std::string q(const fs::path& p) { return q(p.string()); }

struct Result {
  int code;  // exit status; 124 when `timeout` stopped it (a hang)
  std::string err, out;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs radio-embed (at most 60 s) with `args`; captures stdout and stderr.
Result radio_embed(const std::string& args, const fs::path& dir) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = "timeout 60 " + std::string(RADIO_EMBED_BIN) + " --model " + q(kModel) + " " + args + " >" + q(out) + " 2>" + q(err);
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(err), slurp(out)};
}

std::size_t lines(const std::string& s) { return std::size_t(std::count(s.begin(), s.end(), '\n')); }

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Names of the files in `d` (not recursive).
std::vector<std::string> listing(const fs::path& d) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(d)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

bool any_temporary(const fs::path& d) {
  for (const auto& e : fs::recursive_directory_iterator(d))
    if (has(e.path().filename().string(), ".tmp-")) return true;
  return false;
}

}  // namespace

TEST_CASE("a non-finite input value is an error naming the input and the count, unless --allow-nonfinite") {
  fs::path d = scratch("nan_input");
  HostTensor x = io::read_npy(kInput);
  x.data[1234] = std::numeric_limits<float>::quiet_NaN();
  io::write_npy((d / "x.npy").string(), x);
  const std::string outs = " --summary " + q(d / "s.npy") + " --features " + q(d / "f.npy");

  Result r = radio_embed("--input " + q(d / "x.npy") + outs, d);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.err.rfind("radio-embed: error: ", 0) == 0);
  CHECK(has(r.err, "x.npy: 1 of 49152 input values are not finite (NaN/Inf)"));
  CHECK(has(r.err, "--allow-nonfinite"));
  CHECK(lines(r.err) == 1);
  CHECK_FALSE(fs::exists(d / "s.npy"));
  CHECK_FALSE(fs::exists(d / "f.npy"));

  // Let through on request: the outputs are written, with a note that they are not finite.
  Result a = radio_embed("--input " + q(d / "x.npy") + outs + " --allow-nonfinite", d);
  INFO(a.err);
  CHECK(a.code == 0);
  CHECK(has(a.err, "not finite"));
  CHECK(fs::exists(d / "s.npy"));

  Result h = radio_embed("--help", d);
  CHECK(has(h.out, "--allow-nonfinite"));
}

TEST_CASE("outputs that come out non-finite from finite inputs are a per-input failure, not written") {
  fs::path d = scratch("nan_output");
  HostTensor x = io::read_npy(kInput);
  for (float& v : x.data) v = 3e38f;  // finite, but the input conditioner overflows
  io::write_npy((d / "huge.npy").string(), x);
  io::write_npy((d / "ok.npy").string(), io::read_npy(kInput));
  Result r = radio_embed(q(d / "huge.npy") + " " + q(d / "ok.npy") + " --out-dir " + q(d / "out"), d);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "huge.npy: the outputs are not finite"));
  CHECK(has(r.err, "1 of 2 inputs failed"));
  CHECK(listing(d / "out") == std::vector<std::string>{"ok.features.npy", "ok.summary.npy"});
  CHECK(lines(r.out) == 1);  // only ok.npy is reported as done
}

TEST_CASE("an input that is not a regular file is an error, and does not hang") {
  fs::path d = scratch("fifo_input");
  REQUIRE(::mkfifo((d / "pipe.npy").c_str(), 0600) == 0);
  Result r = radio_embed("--input " + q(d / "pipe.npy") + " --summary " + q(d / "s.npy"), d);
  INFO(r.err);
  CHECK(r.code == 1);  // 124: timed out
  CHECK(has(r.err, "pipe.npy: is not a regular file (a FIFO)"));
  CHECK_FALSE(fs::exists(d / "s.npy"));
}

TEST_CASE("an output path that names a FIFO or device node is refused, never replaced") {
  fs::path d = scratch("special_output");
  REQUIRE(::mkfifo((d / "pipe.npy").c_str(), 0600) == 0);
  Result r = radio_embed("--input " + q(kInput) + " --summary " + q(d / "pipe.npy") + " --features " + q(d / "f.npy"), d);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "pipe.npy: is not a regular file (a FIFO)"));
  CHECK(fs::is_fifo(d / "pipe.npy"));
  CHECK_FALSE(fs::exists(d / "f.npy"));
  // A character device of our own (the null device's numbers), where mknod is allowed (root).
  if (::mknod((d / "null").c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0) {
    Result n = radio_embed("--input " + q(kInput) + " --features " + q(d / "f.npy") + " --summary " + q(d / "null"), d);
    INFO(n.err);
    CHECK(n.code == 1);
    CHECK(has(n.err, "null: is not a regular file (a character device)"));
    CHECK(fs::is_character_file(d / "null"));
    CHECK_FALSE(fs::exists(d / "f.npy"));
  }
  // Per-input outputs in --out-dir: a FIFO in the way fails that input only.
  fs::create_directories(d / "out");
  REQUIRE(::mkfifo((d / "out" / "input_sq128.summary.npy").c_str(), 0600) == 0);
  Result o = radio_embed(q(kInput) + " " + q(kModel + "/input_rect48x80.npy") + " --out-dir " + q(d / "out"), d);
  INFO(o.err);
  CHECK(o.code == 1);
  CHECK(has(o.err, "input_sq128.npy: output " + (d / "out" / "input_sq128.summary.npy").string() + ": is not a regular file (a FIFO)"));  // up front
  CHECK(fs::is_fifo(d / "out" / "input_sq128.summary.npy"));
  CHECK(fs::exists(d / "out" / "input_rect48x80.summary.npy"));
  CHECK_FALSE(any_temporary(d));
}

TEST_CASE("two outputs naming the same file are refused when the options are read") {
  fs::path d = scratch("same_output");
  for (const std::string& args : {" --summary " + q(d / "x.npy") + " --features " + q(d / "x.npy"),
                                  " --summary " + q(d / "x.npy") + " --features " + q(d / "sub" / ".." / "x.npy"),
                                  " --summary " + q(d / "s.npy") + " --pca " + q(d / "s.npy")}) {
    fs::create_directories(d / "sub");
    Result r = radio_embed("--input " + q(kInput) + args, d);
    INFO(args << "\n" << r.err);
    CHECK(r.code == 1);
    CHECK(has(r.err, "name the same file"));
    CHECK(lines(r.err) == 1);
    CHECK_FALSE(fs::exists(d / "x.npy"));
    CHECK_FALSE(fs::exists(d / "s.npy"));
  }
}

TEST_CASE("an --input-list that names no input is an error: empty, only comments, a folder") {
  fs::path d = scratch("empty_list");
  { std::ofstream(d / "empty.txt"); }
  { std::ofstream(d / "comments.txt") << "# nothing here\n\n   \n# still nothing\n"; }
  fs::create_directories(d / "folder");
  struct Case {
    fs::path list;
    std::string expect;
  };
  for (const Case& c : {Case{d / "empty.txt", "empty.txt: the --input-list file names no input"},
                        Case{d / "comments.txt", "comments.txt: the --input-list file names no input"},
                        Case{d / "folder", "folder: --input-list expects a text file, got a directory"}}) {
    Result r = radio_embed("--input-list " + q(c.list) + " --out-dir " + q(d / "out"), d);
    INFO(c.list << "\n" << r.err);
    CHECK(r.code == 1);
    CHECK(has(r.err, "radio-embed: error: "));
    CHECK(has(r.err, c.expect));
  }
}

TEST_CASE("--out: an input whose name is not valid UTF-8 fails alone; the others go into the bundle") {
  fs::path d = scratch("utf8");
  const std::string bad = std::string("bad\xff\xfe") + ".npy";
  fs::copy_file(kInput, d / bad);
  fs::copy_file(kModel + "/input_rect48x80.npy", d / "good.npy");
  fs::copy_file(kModel + "/input_rect48x80.npy", d / "gr\xc3\xbc\xc3\x9f.npy");  // valid UTF-8: "grüß"
  Result r = radio_embed(q(d / bad) + " " + q(d / "good.npy") + " " + q(d / "gr\xc3\xbc\xc3\x9f.npy") + " --out " + q(d / "all.safetensors"), d);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "is not valid UTF-8"));
  CHECK(has(r.err, "1 of 3 inputs failed"));
  REQUIRE(fs::exists(d / "all.safetensors"));
  io::SafeTensors st((d / "all.safetensors").string());
  std::vector<std::string> names;
  for (const auto& t : st.tensors()) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"good/features", "good/summary", "gr\xc3\xbc\xc3\x9f/features", "gr\xc3\xbc\xc3\x9f/summary"});
}

TEST_CASE("file names with a TAB, a newline or a backslash are escaped in the stdout lines") {
  fs::path d = scratch("escape");
  fs::copy_file(kInput, d / "a\tb.npy");
  fs::copy_file(kInput, d / "c\nd.npy");
  fs::copy_file(kInput, d / "e\\f.npy");
  Result r = radio_embed(q(d / "a\tb.npy") + " " + q(d / "c\nd.npy") + " " + q(d / "e\\f.npy") + " --out-dir " + q(d / "out"), d);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(lines(r.out) == 3);
  std::istringstream s(r.out);
  for (std::string line; std::getline(s, line);) CHECK(std::count(line.begin(), line.end(), '\t') == 3);  // input, HxW, 2 outputs
  CHECK(has(r.out, "a\\tb.npy\t128x128\t"));
  CHECK(has(r.out, "c\\nd.npy\t128x128\t"));
  CHECK(has(r.out, "e\\\\f.npy\t128x128\t"));
  CHECK(has(r.out, "out/c\\nd.summary.npy"));
}

TEST_CASE("--out on a full disk: no input is reported as done, nothing is left behind") {
  fs::path d = scratch("full");
  fs::create_directories(d / "disk");
  if (::mount("tmpfs", (d / "disk").c_str(), "tmpfs", 0, "size=64k") != 0) {
    WARN("mount of a small tmpfs not permitted here: the full-disk test is skipped");
    return;
  }
  std::string inputs;
  for (int i = 0; i < 6; ++i) {  // 6 x (192 + 64 x 64) floats: ~100 KiB, more than the 64 KiB disk
    fs::copy_file(kInput, d / ("in" + std::to_string(i) + ".npy"));
    inputs += " " + q(d / ("in" + std::to_string(i) + ".npy"));
  }
  Result r = radio_embed(inputs + " --out " + q(d / "disk" / "all.safetensors"), d);
  const std::vector<std::string> left = listing(d / "disk");
  ::umount((d / "disk").c_str());
  INFO(r.err << "\nstdout:\n" << r.out);
  CHECK(r.code == 1);
  CHECK(r.out.empty());  // nothing claims success
  CHECK(has(r.err, "all.safetensors"));
  CHECK(has(r.err, "6 of 6 inputs failed"));
  CHECK(left.empty());
}

namespace {

// Starts radio-embed with VIT_TEST_WRITE_DELAY_MS (each output's write pauses before its rename),
// waits for a temporary file in `out`, sends `sig`; returns the wait status.
int interrupt_mid_write(const fs::path& d, const fs::path& out, int sig) {
  std::vector<std::string> args = {RADIO_EMBED_BIN, "--model", kModel, kInput, kModel + "/input_rect48x80.npy", "--out-dir", out.string(), "--quiet"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = {"VIT_TEST_WRITE_DELAY_MS=20000"};
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, (d / "stdout.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, (d / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&fa);
  bool seen = false;
  for (int i = 0; i < 600 && !seen; ++i) {  // up to 60 s (a loaded machine)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    seen = fs::is_directory(out, ec) && any_temporary(out);
  }
  CHECK(seen);
  ::kill(pid, sig);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("SIGTERM and SIGINT during a write remove the temporary files and end by the signal") {
  for (int sig : {SIGTERM, SIGINT}) {
    fs::path d = scratch("signal_" + std::to_string(sig));
    const int status = interrupt_mid_write(d, d / "out", sig);
    INFO("signal " << sig << "; stderr: " << slurp(d / "stderr.txt"));
    CHECK(WIFSIGNALED(status));
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == sig);
    CHECK_FALSE(any_temporary(d / "out"));
  }
}
