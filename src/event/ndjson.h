// ECS NDJSON: one JSON object per line (or, for convenience, one JSON array of objects).
// See docs/events.md for the mapping between JSON documents and events.
#pragma once

#include <memory>
#include <span>

#include "event/event_reader.h"
#include "event/event_writer.h"
#include "event/file_io.h"

namespace kestrel {

Result<std::unique_ptr<EventReader>> OpenNdjsonReader(std::unique_ptr<InputFile> input,
                                                      const ReadOptions& options,
                                                      SchemaRegistry* registry);

Result<std::unique_ptr<EventWriter>> OpenNdjsonWriter(std::unique_ptr<OutputFile> output,
                                                      const SchemaRegistry* registry);

// Appends `s` as a JSON string literal (escaped; invalid UTF-8 bytes become U+FFFD).
void AppendJsonString(std::string& out, std::string_view s);

// Appends one value in its JSON form.
void AppendValueJson(std::string& out, const Value& value);

// Renders one event as a JSON object (no newline) into `out`, appending.
void AppendEventJson(std::string& out, const Event& event, const SchemaRegistry& registry);

// `fields` (sorted by id) as one JSON object of nested keys, without the `kestrel` header.
void AppendFieldsJson(std::string& out, std::span<const Field> fields, const SchemaRegistry& registry);

}  // namespace kestrel
