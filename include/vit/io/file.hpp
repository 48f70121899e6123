// Files: a read-only memory map (MappedFile), whole-file reads, and AtomicFile, which writes to a
// temporary name and renames on commit so that a failed run never leaves a half-written output.
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>

#include "vit/error.hpp"

namespace vit::io {

inline std::string errno_text() { return std::strerror(errno); }

// A whole file mapped read-only into memory; the mapping lives as long as the object.
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(ErrorKind::io, path + ": cannot open: " + errno_text());
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(ErrorKind::io, path + ": not a regular file");
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
// the object is destroyed without commit() (an error happened on the way).
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    tmp_ = path_ + ".tmp-" + std::to_string(::getpid());
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail(ErrorKind::io, path_ + ": cannot create: " + errno_text());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
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
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail(ErrorKind::io, path_ + ": cannot rename into place: " + errno_text());
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

}  // namespace vit::io
