// Turns the command line's inputs (files, folders, --input-list) into a flat list of work items,
// each with a unique output stem. Problems (a missing path, an empty folder, a clashing stem) are
// returned as failures so that the run can go on with the other inputs.
#pragma once
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "options.hpp"
#include "vit/io/image.hpp"

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

inline InputSet collect_inputs(const Options& opt) {
  namespace fs = std::filesystem;
  InputSet set;
  std::vector<std::string> paths = opt.inputs;
  if (!opt.input_list.empty()) {
    std::ifstream list(opt.input_list);
    if (!list) {
      set.failures.push_back({opt.input_list, opt.input_list + ": cannot open the --input-list file"});
    } else {
      for (std::string line; std::getline(list, line);) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
        if (!line.empty() && line[0] != '#') paths.push_back(line);
      }
    }
  }
  std::map<std::string, std::string> stems;  // stem -> first input that took it
  auto add = [&](const fs::path& p) {
    InputItem it{p.string(), p.stem().string(), has_npy_extension(p)};
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
    } else if (!fs::exists(p, ec)) {
      set.failures.push_back({s, s + ": no such file or folder"});
    } else {
      add(p);
    }
  }
  return set;
}

}  // namespace radio_embed
