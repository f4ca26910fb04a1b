// Helpers for codec tests: temporary files and reading a whole input into memory.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "event/event_builder.h"
#include "event/event_reader.h"

namespace kestrel::testing {

class TempFile {
 public:
  explicit TempFile(const std::string& suffix = "") {
    std::string pattern = std::string(::testing::TempDir()) + "kestrel_XXXXXX" + suffix;
    int fd = ::mkstemps(pattern.data(), static_cast<int>(suffix.size()));
    if (fd >= 0) ::close(fd);
    path_ = pattern;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  void Write(const std::string& bytes) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << bytes;
  }
  std::string Read() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::string path_;
};

// All events of an input, deep-copied (a reader's events live only until its next batch).
struct ReadResult {
  std::unique_ptr<EventBatch> owner = std::make_unique<EventBatch>();
  std::vector<Event> events;
  size_t batches = 0;
  ReadStats stats;
};

inline Result<ReadResult> ReadAllEvents(const std::string& path, const ReadOptions& options,
                                        SchemaRegistry* registry) {
  KESTREL_ASSIGN_OR_RETURN(auto reader, OpenEventReader(path, options, registry));
  ReadResult result;
  EventBuilder copier(&result.owner->arena());
  EventBatch batch;
  for (;;) {
    KESTREL_ASSIGN_OR_RETURN(bool more, reader->Next(batch));
    if (!more) break;
    for (const Event& e : batch) {
      result.events.push_back(copier.Copy(e));
      result.owner->Add(result.events.back());
    }
    ++result.batches;
  }
  result.stats = reader->stats();
  return result;
}

}  // namespace kestrel::testing
