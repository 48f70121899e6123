// Progress line on stderr for multi-input runs: "done/total, images/s, ETA", redrawn in place.
// Off when stderr is not a terminal, with --quiet, or for a single input.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace radio_embed {

class Progress {
 public:
  Progress(std::size_t total, bool quiet) : total_(total), on_(!quiet && total > 1 && ::isatty(STDERR_FILENO)) {}

  void update(std::size_t done) {
    if (!on_) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = s > 0 ? double(done) / s : 0.0;
    const double eta = rate > 0 ? double(total_ - done) / rate : 0.0;
    std::fprintf(stderr, "\r%zu/%zu  %.2f images/s  ETA %.0f s   ", done, total_, rate, eta);
    std::fflush(stderr);
    shown_ = true;
  }

  // Ends the progress line so that later messages start on a fresh line.
  void clear() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
  }

 private:
  std::size_t total_;
  bool on_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace radio_embed
