// Files: a read-only memory map (MappedFile), whole-file reads, and AtomicFile, which writes to a
// temporary name and renames on commit so that a failed run never leaves a half-written output.
// Both accept regular files only: reading a FIFO would block, and renaming onto a device node
// (/dev/null) or FIFO would replace it. AtomicFile's live temporaries are listed in
// live_temporaries() so that a signal handler can remove them (see TemporaryRegistry).
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>

#include "vit/error.hpp"

namespace vit::io {

inline std::string errno_text() { return std::strerror(errno); }

// What a stat mode is, in words: "a FIFO", "a directory", "a character device", ...
inline const char* file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a file";
}

// Fails with "<path>: is not a regular file (a FIFO)" unless `path` (links followed) is a regular
// file. With `may_be_missing` (an output still to be created), a path that cannot be looked up
// passes: creating it reports why.
inline void require_regular_file(const std::string& path, bool may_be_missing = false) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (may_be_missing) return;
    fail(ErrorKind::io, path + ": cannot open: " + errno_text());
  }
  if (!S_ISREG(st.st_mode)) fail(ErrorKind::io, path + ": is not a regular file (" + file_kind(st.st_mode) + ")");
}

// The temporary files being written now, for removal from a signal handler: a fixed table of
// path buffers whose states are lock-free atomics, so that unlink_all() is async-signal-safe.
// A path that does not fit (too long, table full) is simply not listed.
class TemporaryRegistry {
 public:
  static constexpr int kSlots = 16;  // radio-embed has at most a few writes in flight
  static constexpr std::size_t kPathMax = 4096;

  // Lists `path`; returns its slot for remove(), or -1 when it was not listed.
  int add(const std::string& path) {
    if (path.size() >= kPathMax) return -1;
    for (int i = 0; i < kSlots; ++i) {
      int expected = kFree;
      if (slots_[i].state.compare_exchange_strong(expected, kFilling)) {
        std::memcpy(slots_[i].path, path.c_str(), path.size() + 1);
        slots_[i].state.store(kLive);
        return i;
      }
    }
    return -1;
  }

  // Unlists slot `i` (after the temporary was renamed into place or removed).
  void remove(int i) {
    if (i < 0) return;
    int expected = kLive;
    if (slots_[i].state.compare_exchange_strong(expected, kFilling)) slots_[i].state.store(kFree);
    // else a signal handler has it (kUnlinked): the process is ending, the slot stays taken
  }

  // Unlinks every listed temporary (async-signal-safe: atomics and unlink only).
  void unlink_all() noexcept {
    for (auto& s : slots_) {
      int expected = kLive;
      if (s.state.compare_exchange_strong(expected, kUnlinked)) ::unlink(s.path);
    }
  }

 private:
  static_assert(std::atomic<int>::is_always_lock_free, "the registry must be usable from a signal handler");
  enum : int { kFree, kFilling, kLive, kUnlinked };
  struct Slot {
    std::atomic<int> state{kFree};
    char path[kPathMax]{};
  };
  Slot slots_[kSlots];
};

namespace detail {
constinit inline TemporaryRegistry live_temporaries{};  // no lazy init: a signal handler may come first
}  // namespace detail

// The process's registry of AtomicFile temporaries.
inline TemporaryRegistry& live_temporaries() { return detail::live_temporaries; }

// A whole file mapped read-only into memory; the mapping lives as long as the object.
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path) : path_(path) {
    require_regular_file(path);  // before open(): opening a FIFO blocks until a writer comes
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // in case it was swapped since
    if (fd < 0) fail(ErrorKind::io, path + ": cannot open: " + errno_text());
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(ErrorKind::io, path + ": is not a regular file (" + file_kind(st.st_mode) + ")");
    }
    size_ = std::size_t(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        fail(ErrorKind::io, path + ": cannot map: " + errno_text());
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept { *this = std::move(o); }
  MappedFile& operator=(MappedFile&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(path_, o.path_);
    return *this;
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
  }

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::string path_;
};

inline std::string read_text_file(const std::string& path, std::size_t max_bytes = 64u << 20) {
  MappedFile f(path);
  check(f.size() <= max_bytes, ErrorKind::format,
        path + ": file is " + std::to_string(f.size()) + " bytes, more than the " + std::to_string(max_bytes) + " allowed");
  return std::string(reinterpret_cast<const char*>(f.bytes().data()), f.size());
}

// Writes to "<path>.tmp-<pid>" and renames onto `path` in commit(); the temporary is removed if
// the object is destroyed without commit() (an error happened on the way). `path` must be a
// regular file or not exist: a FIFO, device node, socket or directory there is refused, never
// replaced. While it exists, the temporary is listed in live_temporaries().
// Test hook (tests only): VIT_TEST_WRITE_DELAY_MS=N pauses N ms in commit() before the rename.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    require_regular_file(path_, /*may_be_missing=*/true);
    tmp_ = path_ + ".tmp-" + std::to_string(::getpid());
    slot_ = live_temporaries().add(tmp_);  // before creating it: a signal may come at any time
    int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
    struct stat st {};
    if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {  // a FIFO squatting the name
      ::close(fd);
      live_temporaries().remove(slot_);
      fail(ErrorKind::io, tmp_ + ": is not a regular file (" + file_kind(st.st_mode) + ")");
    }
    if (fd >= 0) f_ = ::fdopen(fd, "wb");
    if (!f_) {
      const std::string why = errno_text();
      if (fd >= 0) ::close(fd);
      ::unlink(tmp_.c_str());
      live_temporaries().remove(slot_);
      fail(ErrorKind::io, path_ + ": cannot create: " + why);
    }
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
    live_temporaries().remove(slot_);
  }
  void write(const void* data, std::size_t n) {
    if (n && std::fwrite(data, 1, n, f_) != n) fail(ErrorKind::io, path_ + ": write failed: " + errno_text());
  }
  void commit() {
    int rc = std::fflush(f_);
    rc |= ::fsync(::fileno(f_));
    rc |= std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) fail(ErrorKind::io, path_ + ": write failed: " + errno_text());
    test_delay();
    require_regular_file(path_, /*may_be_missing=*/true);  // again: it may have appeared since
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail(ErrorKind::io, path_ + ": cannot rename into place: " + errno_text());
    committed_ = true;
  }

 private:
  // VIT_TEST_WRITE_DELAY_MS (tests only): lets a test interrupt a write while its temporary exists.
  static void test_delay() {
    static const long ms = [] {
      const char* v = std::getenv("VIT_TEST_WRITE_DELAY_MS");
      return v ? std::strtol(v, nullptr, 10) : 0L;
    }();
    if (ms <= 0) return;
    timespec t{ms / 1000, (ms % 1000) * 1000000L};
    while (::nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
  }

  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  int slot_ = -1;
  bool committed_ = false;
};

}  // namespace vit::io
