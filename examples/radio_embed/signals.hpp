// SIGINT, SIGTERM, SIGHUP and SIGPIPE: remove the temporary files of the writes in progress
// (vit::io::live_temporaries, filled by AtomicFile), then end by the same signal with its default
// action, so that the caller still sees "killed by SIGTERM" and no "*.tmp-PID" file is left.
// SIGKILL cannot be caught: it can leave one "<output>.tmp-<pid>" per write in progress.
#pragma once
#include <signal.h>
#include <unistd.h>

#include <cstring>

#include "options.hpp"
#include "vit/io/file.hpp"

namespace radio_embed {

namespace detail {

// The handler: only async-signal-safe calls (unlink, write, signal, raise).
inline void on_fatal_signal(int sig) {
  vit::io::live_temporaries().unlink_all();
  const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGPIPE";
  if (sig != SIGPIPE) {  // stderr may be the closed pipe itself
    const char* program = program_name();  // a string literal, set before the handler was installed
    const char head[] = ": error: stopped by ";
    const char tail[] = "; temporary files removed\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, program, std::strlen(program));
    n = ::write(STDERR_FILENO, head, sizeof(head) - 1);
    n = ::write(STDERR_FILENO, name, std::strlen(name));
    n = ::write(STDERR_FILENO, tail, sizeof(tail) - 1);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);  // blocked while this handler runs; delivered (default action) when it returns
}

}  // namespace detail

// Installs the handler for SIGINT, SIGTERM, SIGHUP and SIGPIPE, except where the signal is
// ignored already (e.g. SIGHUP under nohup), which stays so.
inline void remove_temporaries_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = detail::on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&sa.sa_mask, s);  // one handler at a time per thread
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    struct sigaction old {};
    if (::sigaction(s, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::sigaction(s, &sa, nullptr);
  }
}

}  // namespace radio_embed
