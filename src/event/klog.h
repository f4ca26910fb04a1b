// .klog, Kestrel's binary event log (format version 2; see docs/klog-format.md).
#pragma once

#include <memory>
#include <string>

#include "event/event_reader.h"
#include "event/event_writer.h"
#include "event/file_io.h"

namespace kestrel {

inline constexpr char kKlogMagic[8] = {'K', 'E', 'S', 'T', 'R', 'L', 'O', 'G'};
inline constexpr uint16_t kKlogVersion = 2;

// Reads a .klog. Strings of uncompressed blocks point into the mapped file (no copies).
Result<std::unique_ptr<EventReader>> OpenKlogReader(std::unique_ptr<InputFile> input,
                                                    const ReadOptions& options,
                                                    SchemaRegistry* registry);

Result<std::unique_ptr<EventWriter>> OpenKlogWriter(std::unique_ptr<OutputFile> output,
                                                    const WriteOptions& options,
                                                    const SchemaRegistry* registry);

}  // namespace kestrel
