// Format detection and the shared parts of readers and writers.
#include <cstring>

#include "event/event_reader.h"
#include "event/event_writer.h"
#include "event/klog.h"
#include "event/ndjson.h"

namespace kestrel {

namespace {
constexpr size_t kMaxSkippedErrorsKept = 10;
}  // namespace

void EventReader::NoteSkipped(Error error) {
  ++stats_.skipped;
  if (stats_.skipped_errors.size() < kMaxSkippedErrorsKept) stats_.skipped_errors.push_back(std::move(error));
}

Result<std::unique_ptr<EventReader>> OpenEventReader(const std::string& path, const ReadOptions& options,
                                                     SchemaRegistry* registry) {
  KESTREL_ASSIGN_OR_RETURN(auto input, InputFile::Open(path));
  KESTREL_ASSIGN_OR_RETURN(auto head, input->Peek(sizeof(kKlogMagic)));
  if (head.size() == sizeof(kKlogMagic) && std::memcmp(head.data(), kKlogMagic, sizeof(kKlogMagic)) == 0) {
    return OpenKlogReader(std::move(input), options, registry);
  }
  return OpenNdjsonReader(std::move(input), options, registry);
}

Result<std::unique_ptr<EventWriter>> OpenEventWriter(const std::string& path, FileFormat format,
                                                     const WriteOptions& options,
                                                     const SchemaRegistry* registry) {
  KESTREL_ASSIGN_OR_RETURN(auto output, OutputFile::Open(path));
  if (format == FileFormat::kKlog) return OpenKlogWriter(std::move(output), options, registry);
  return OpenNdjsonWriter(std::move(output), registry);
}

Status ConvertToKlog(const std::string& input, const std::string& output, const WriteOptions& options) {
  SchemaRegistry registry = SchemaRegistry::WithEcs();
  KESTREL_ASSIGN_OR_RETURN(auto reader, OpenEventReader(input, {}, &registry));
  KESTREL_ASSIGN_OR_RETURN(auto writer, OpenEventWriter(output, FileFormat::kKlog, options, &registry));
  EventBatch batch;
  for (;;) {
    KESTREL_ASSIGN_OR_RETURN(bool more, reader->Next(batch));
    if (!more) break;
    for (const Event& e : batch) KESTREL_TRY(writer->Write(e));
  }
  return writer->Close();
}

}  // namespace kestrel
