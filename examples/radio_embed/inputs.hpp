// Turns the command line's inputs (files, folders, --input-list) into a flat list of work items,
// each with a unique output stem. Problems (a missing path, an empty folder, a clashing stem, a
// FIFO or device, a name that is not UTF-8 with --out) are returned as failures so that the run
// can go on with the other inputs. Also: escaping names for the tab-separated stdout lines.
#pragma once
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "options.hpp"
#include "vit/io/file.hpp"
#include "vit/io/image.hpp"
#include "vit/io/json.hpp"

namespace radio_embed {

struct InputItem {
  std::string path;
  std::string stem;  // output name: file name without extension
  bool is_npy = false;
};

struct Failure {
  std::string input;
  std::string message;
};

struct InputSet {
  std::vector<InputItem> items;
  std::vector<Failure> failures;
};

inline bool has_npy_extension(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  return e == ".npy";
}

// `s` for one field of a tab-separated stdout line: backslash, TAB, newline and carriage return
// as C escapes (\\ \t \n \r), other control bytes as \xNN; everything else as it is. With
// `backslash` false, a backslash stays as it is (stderr messages: one line, meant for people).
inline std::string escape_field(const std::string& s, bool backslash = true) {
  std::string r;
  r.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '\\') r += backslash ? "\\\\" : "\\";
    else if (ch == '\t') r += "\\t";
    else if (ch == '\n') r += "\\n";
    else if (ch == '\r') r += "\\r";
    else if (c < 0x20 || c == 0x7F) {
      const char hex[] = "0123456789abcdef";
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    } else r += ch;
  }
  return r;
}

// Reads the --input-list file: one path per line; blank lines, '#' comments and trailing blanks
// dropped. A regular file or a pipe (e.g. bash's <(...)); a list that names no input is an error.
inline std::vector<std::string> read_input_list(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) vit::fail(vit::ErrorKind::io, file + ": cannot open the --input-list file: " + vit::io::errno_text());
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    vit::fail(vit::ErrorKind::io, file + ": --input-list expects a text file, got " + vit::io::file_kind(st.st_mode));
  std::ifstream list(file);
  if (!list) vit::fail(vit::ErrorKind::io, file + ": cannot open the --input-list file");
  std::vector<std::string> paths;
  for (std::string line; std::getline(list, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty() && line[0] != '#') paths.push_back(line);
  }
  if (list.bad()) vit::fail(vit::ErrorKind::io, file + ": cannot read the --input-list file");
  if (paths.empty()) vit::fail(vit::ErrorKind::io, file + ": the --input-list file names no input (only blank lines and # comments)");
  return paths;
}

inline InputSet collect_inputs(const Options& opt) {
  namespace fs = std::filesystem;
  InputSet set;
  std::vector<std::string> paths = opt.inputs;
  if (!opt.input_list.empty()) {
    try {
      std::vector<std::string> listed = read_input_list(opt.input_list);
      paths.insert(paths.end(), listed.begin(), listed.end());
    } catch (const vit::Error& e) {
      set.failures.push_back({opt.input_list, e.what()});
    }
  }
  std::map<std::string, std::string> stems;  // stem -> first input that took it
  auto add = [&](const fs::path& p) {
    InputItem it{p.string(), p.stem().string(), has_npy_extension(p)};
    if (!opt.out.empty() && !vit::json::is_valid_utf8(it.stem)) {
      set.failures.push_back({it.path, it.path + ": the name '" + it.stem + "' is not valid UTF-8, which the --out file's tensor names must be (rename the file)"});
      return;
    }
    // Its per-input outputs must not name a FIFO or device: refused now rather than after the forward.
    for (const auto& [dir, suffix] : {std::pair{opt.out_dir, ".summary.npy"}, {opt.out_dir, ".features.npy"}, {opt.pca_dir, ".pca.png"}, {opt.dump_input, ".input.npy"}}) {
      if (dir.empty()) continue;
      try {
        vit::io::require_regular_file((fs::path(dir) / (it.stem + suffix)).string(), /*may_be_missing=*/true);
      } catch (const vit::Error& e) {
        set.failures.push_back({it.path, it.path + ": output " + e.what()});
        return;
      }
    }
    auto [pos, fresh] = stems.emplace(it.stem, it.path);
    if (!fresh) {
      set.failures.push_back({it.path, it.path + ": output name '" + it.stem + "' is already used by " + pos->second + " (rename one of them)"});
      return;
    }
    set.items.push_back(std::move(it));
  };
  for (const auto& s : paths) {
    std::error_code ec;
    fs::path p(s);
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (fs::recursive_directory_iterator d(p, fs::directory_options::skip_permission_denied, ec), end; !ec && d != end; d.increment(ec))
        if (d->is_regular_file(ec) && vit::io::has_image_extension(d->path())) found.push_back(d->path());
      if (ec) {
        set.failures.push_back({s, s + ": cannot read the folder: " + ec.message()});
        continue;
      }
      if (found.empty()) {
        set.failures.push_back({s, s + ": the folder holds no images (.png, .jpg, .jpeg, .bmp, .tga)"});
        continue;
      }
      std::sort(found.begin(), found.end());
      for (const auto& f : found) add(f);
    } else if (struct stat st {}; ::stat(s.c_str(), &st) != 0) {
      set.failures.push_back({s, s + (errno == ENOENT ? std::string(": no such file or folder") : ": cannot open: " + vit::io::errno_text())});
    } else if (!S_ISREG(st.st_mode)) {  // a FIFO would block the reader forever
      set.failures.push_back({s, s + ": is not a regular file (" + vit::io::file_kind(st.st_mode) + ")"});
    } else {
      add(p);
    }
  }
  return set;
}

}  // namespace radio_embed
