#include "event/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kestrel {
namespace {

constexpr size_t kOutputBuffer = 1 << 20;

tl::unexpected<Error> IoError(const std::string& path, std::string_view what) {
  return MakeErrorAt(path, ErrorCode::kIo, fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace

Result<std::unique_ptr<InputFile>> InputFile::Open(const std::string& path) {
  int fd = STDIN_FILENO;
  bool owns = false;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError(path, "cannot open");
    owns = true;
  }
  std::unique_ptr<InputFile> file(new InputFile(path == "-" ? "<stdin>" : path, fd, owns));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return IoError(file->path_, "cannot stat");
  if (S_ISDIR(st.st_mode)) return MakeErrorAt(file->path_, ErrorCode::kIo, "is a directory");
  file->is_regular_ = S_ISREG(st.st_mode);
  if (file->is_regular_) file->size_ = static_cast<uint64_t>(st.st_size);
  return file;
}

Result<std::unique_ptr<InputFile>> InputFile::FromBytes(std::string name, std::string_view bytes) {
  int fd = ::memfd_create("kestrel-input", MFD_CLOEXEC);
  if (fd < 0) return IoError(name, "cannot create a memory file");
  std::unique_ptr<InputFile> file(new InputFile(std::move(name), fd, true));
  for (size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError(file->path_, "cannot write a memory file");
    done += static_cast<size_t>(n);
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) return IoError(file->path_, "cannot rewind a memory file");
  file->is_regular_ = true;
  file->size_ = bytes.size();
  return file;
}

InputFile::~InputFile() {
  if (owns_fd_) ::close(fd_);
}

Result<std::span<const uint8_t>> InputFile::Peek(size_t n) {
  while (peeked_.size() - peeked_pos_ < n) {
    uint8_t buf[4096];
    size_t want = std::min(sizeof(buf), n - (peeked_.size() - peeked_pos_));
    ssize_t got = ::read(fd_, buf, want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return IoError(path_, "read failed");
    if (got == 0) break;
    peeked_.insert(peeked_.end(), buf, buf + got);
  }
  size_t avail = std::min(n, peeked_.size() - peeked_pos_);
  return std::span<const uint8_t>(peeked_.data() + peeked_pos_, avail);
}

Result<size_t> InputFile::Read(void* buf, size_t n) {
  if (peeked_pos_ < peeked_.size()) {
    size_t k = std::min(n, peeked_.size() - peeked_pos_);
    std::memcpy(buf, peeked_.data() + peeked_pos_, k);
    peeked_pos_ += k;
    return k;
  }
  for (;;) {
    ssize_t got = ::read(fd_, buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return IoError(path_, "read failed");
  }
}

Result<size_t> InputFile::ReadAt(uint64_t offset, void* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd_, static_cast<uint8_t*>(buf) + done, n - done,
                          static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return IoError(path_, "read failed");
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

Result<std::span<const uint8_t>> InputFile::ReadAll() {
  slurped_.assign(peeked_.begin() + static_cast<ptrdiff_t>(peeked_pos_), peeked_.end());
  peeked_pos_ = peeked_.size();
  uint8_t buf[1 << 16];
  for (;;) {
    KESTREL_ASSIGN_OR_RETURN(size_t got, Read(buf, sizeof(buf)));
    if (got == 0) break;
    slurped_.insert(slurped_.end(), buf, buf + got);
  }
  return std::span<const uint8_t>(slurped_.data(), slurped_.size());
}

Result<std::unique_ptr<OutputFile>> OutputFile::Open(const std::string& path) {
  int fd = STDOUT_FILENO;
  bool owns = false;
  if (path != "-") {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return IoError(path, "cannot create");
    owns = true;
  }
  std::unique_ptr<OutputFile> file(new OutputFile(path == "-" ? "<stdout>" : path, fd, owns));
  file->buffer_.reserve(kOutputBuffer);
  return file;
}

Status OutputFile::WriteAll(const std::string& path, std::string_view bytes) {
  KESTREL_ASSIGN_OR_RETURN(auto file, Open(path));
  KESTREL_TRY(file->Write(bytes));
  return file->Close();
}

OutputFile::~OutputFile() {
  (void)Flush();
  if (owns_fd_) ::close(fd_);
}

Status OutputFile::Write(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (buffer_.size() + n > kOutputBuffer) {
    KESTREL_TRY(Flush());
    if (n >= kOutputBuffer) {
      buffer_.assign(p, p + n);
      bytes_written_ += n;
      return Flush();
    }
  }
  buffer_.insert(buffer_.end(), p, p + n);
  bytes_written_ += n;
  return Ok();
}

Status OutputFile::Flush() {
  size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t w = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      buffer_.clear();
      return IoError(path_, "write failed");
    }
    done += static_cast<size_t>(w);
  }
  buffer_.clear();
  return Ok();
}

Status OutputFile::Close() {
  KESTREL_TRY(Flush());
  if (owns_fd_) {
    owns_fd_ = false;
    if (::close(fd_) != 0) return IoError(path_, "close failed");
  }
  return Ok();
}

}  // namespace kestrel
