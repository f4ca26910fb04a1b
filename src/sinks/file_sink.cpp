// The file sink: appends alert lines to a file with one write(2) each (a crash loses no alert
// already written), rotating by size: path -> path.1 -> ... -> path.N, the oldest removed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "sinks/alert_sink.h"
#include "sinks/sink_util.h"

namespace kestrel::sinks {
namespace {

constexpr uint32_t kMaxFiles = 1000;  // a rotation renames every kept file

class FileSink final : public AlertSink {
 public:
  explicit FileSink(FileSinkOptions options)
      : options_(std::move(options)), label_("file " + options_.path) {}
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  std::string_view name() const override { return "file"; }

  Status Open() {
    fd_ = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) return Fail(ErrorCode::kIo, "cannot open: " + ErrnoText(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return Fail(ErrorCode::kIo, "cannot stat: " + ErrnoText(errno));
    rotatable_ = S_ISREG(st.st_mode);  // a FIFO or a device is written, never rotated
    size_ = rotatable_ ? static_cast<uint64_t>(st.st_size) : 0;
    return Ok();
  }

  Status Write(std::string_view line) override {
    if (fd_ < 0) return Fail(ErrorCode::kInvalidArgument, closed_ ? "write after close" : "not open");
    auto payload = AlertPayload(line);
    if (!payload) {
      stats_.dropped.fetch_add(1, std::memory_order_relaxed);
      return tl::unexpected(std::move(payload).error().At(label_));
    }
    buffer_.assign(payload->data(), payload->size());
    buffer_ += '\n';
    // A line longer than max_bytes still goes into a file of its own.
    if (rotatable_ && options_.max_bytes != 0 && size_ != 0 && size_ + buffer_.size() > options_.max_bytes) {
      Status rotated = Rotate();
      if (!rotated) {
        stats_.Failed();
        return rotated;
      }
    }
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        size_ += done;
        stats_.Failed();
        return Fail(ErrorCode::kIo, "cannot write: " + ErrnoText(err));
      }
      done += static_cast<size_t>(n);
    }
    size_ += done;
    stats_.written.fetch_add(1, std::memory_order_relaxed);
    return Ok();
  }

  Status Close() override {
    closed_ = true;
    if (fd_ < 0) return Ok();
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Fail(ErrorCode::kIo, "cannot close: " + ErrnoText(errno));
    return Ok();
  }

  SinkStats stats() const override { return stats_.Snapshot(); }

 private:
  tl::unexpected<Error> Fail(ErrorCode code, std::string message) const {
    return MakeErrorAt(label_, code, std::move(message));
  }

  std::string Numbered(uint32_t n) const { return fmt::format("{}.{}", options_.path, n); }

  // Closes the file, shifts the numbered files up by one and starts an empty file. When a rename
  // fails the sink keeps appending to the file it has, if it still can.
  Status Rotate() {
    ::close(fd_);
    fd_ = -1;
    const std::string& path = options_.path;
    if (options_.max_files == 0) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return Fail(ErrorCode::kIo, "cannot remove for rotation: " + ErrnoText(errno));
      }
    } else {
      std::string oldest = Numbered(options_.max_files);
      if (::unlink(oldest.c_str()) != 0 && errno != ENOENT) {
        int err = errno;
        KESTREL_TRY(Open());
        return Fail(ErrorCode::kIo, fmt::format("cannot remove {}: {}", oldest, ErrnoText(err)));
      }
      for (uint32_t i = options_.max_files - 1; i >= 1; --i) {
        std::string from = Numbered(i);
        if (::rename(from.c_str(), Numbered(i + 1).c_str()) != 0 && errno != ENOENT) {
          int err = errno;
          KESTREL_TRY(Open());
          return Fail(ErrorCode::kIo, fmt::format("cannot rename {}: {}", from, ErrnoText(err)));
        }
      }
      if (::rename(path.c_str(), Numbered(1).c_str()) != 0 && errno != ENOENT) {
        int err = errno;
        KESTREL_TRY(Open());
        return Fail(ErrorCode::kIo, "cannot rename for rotation: " + ErrnoText(err));
      }
    }
    stats_.rotations.fetch_add(1, std::memory_order_relaxed);
    return Open();
  }

  FileSinkOptions options_;
  std::string label_;  // "file /var/log/kestrel/alerts.json": the location of every error
  int fd_ = -1;
  bool closed_ = false;
  bool rotatable_ = true;
  uint64_t size_ = 0;
  std::string buffer_;  // the line being written, with its '\n'
  AtomicSinkStats stats_;
};

}  // namespace

Result<std::unique_ptr<AlertSink>> OpenFileSink(const FileSinkOptions& options) {
  if (options.path.empty()) {
    return MakeErrorAt("file", ErrorCode::kInvalidArgument, "no path given");
  }
  if (options.max_files > kMaxFiles) {
    return MakeErrorAt("file " + options.path, ErrorCode::kInvalidArgument,
                       fmt::format("max_files {} is more than {}", options.max_files, kMaxFiles));
  }
  auto sink = std::make_unique<FileSink>(options);
  KESTREL_TRY(sink->Open());
  return std::unique_ptr<AlertSink>(std::move(sink));
}

}  // namespace kestrel::sinks
