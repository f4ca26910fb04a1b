// libFuzzer target: the JSON event decoder (both profiles) on arbitrary bytes.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "event/event_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::string path = [] {
    char name[] = "/tmp/kestrel_fuzz_ndjson_XXXXXX";
    int fd = mkstemp(name);
    if (fd >= 0) close(fd);
    return std::string(name);
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  for (auto profile : {kestrel::InputProfile::kEcs, kestrel::InputProfile::kEndgame}) {
    kestrel::SchemaRegistry registry = kestrel::SchemaRegistry::WithEcs();
    kestrel::ReadOptions options;
    options.profile = profile;
    options.skip_bad = (size % 2) == 0;
    options.max_record_bytes = 1 << 16;
    auto reader = kestrel::OpenEventReader(path, options, &registry);
    if (!reader) continue;
    kestrel::EventBatch batch;
    for (int i = 0; i < 1000; ++i) {
      auto more = (*reader)->Next(batch);
      if (!more || !*more) break;
    }
  }
  return 0;
}
