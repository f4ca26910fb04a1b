// The ECS fields a Linux host produces (ECS 8.x, plus the Elastic Endpoint `Ext` fields and the
// auditd fields that Elastic's Linux detection rules read). Types follow the ECS definitions:
// keyword/text -> string, long -> i64, date -> timestamp, ip -> ip; ECS arrays are marked [].
#include <array>
#include <string_view>

#include "schema/schema_registry.h"

namespace kestrel {
namespace {

struct CatalogEntry {
  std::string_view name;
  std::string_view type;
};

// Fields that appear under every process-like object (process, process.parent, leaders...).
constexpr CatalogEntry kProcessFields[] = {
    {"pid", "i64"},
    {"entity_id", "string"},
    {"name", "string"},
    {"executable", "string"},
    {"command_line", "string"},
    {"args", "string[]"},
    {"args_count", "i64"},
    {"working_directory", "string"},
    {"title", "string"},
    {"exit_code", "i64"},
    {"start", "timestamp"},
    {"end", "timestamp"},
    {"pgid", "i64"},
    {"interactive", "bool"},
    {"same_as_process", "bool"},
    {"thread.id", "i64"},
    {"thread.capabilities.effective", "string[]"},
    {"thread.capabilities.permitted", "string[]"},
    {"hash.md5", "string"},
    {"hash.sha1", "string"},
    {"hash.sha256", "string"},
    {"user.id", "string"},
    {"user.name", "string"},
    {"group.id", "string"},
    {"group.name", "string"},
    {"real_user.id", "string"},
    {"real_user.name", "string"},
    {"real_group.id", "string"},
    {"real_group.name", "string"},
    {"saved_user.id", "string"},
    {"saved_group.id", "string"},
    {"tty.char_device.major", "i64"},
};

constexpr std::string_view kProcessPrefixes[] = {
    "process",
    "process.parent",
    "process.parent.parent",
    "process.session_leader",
    "process.group_leader",
    "process.entry_leader",
    "process.previous",
};

constexpr CatalogEntry kFields[] = {
    {"@timestamp", "timestamp"},
    {"message", "string"},
    {"tags", "string[]"},
    {"labels", "string"},
    // event.*
    {"event.category", "string[]"},
    {"event.type", "string[]"},
    {"event.kind", "string"},
    {"event.action", "string"},
    {"event.outcome", "string"},
    {"event.module", "string"},
    {"event.dataset", "string"},
    {"event.provider", "string"},
    {"event.id", "string"},
    {"event.code", "string"},
    {"event.sequence", "i64"},
    {"event.severity", "i64"},
    {"event.risk_score", "f64"},
    {"event.duration", "i64"},
    {"event.created", "timestamp"},
    {"event.ingested", "timestamp"},
    {"event.start", "timestamp"},
    {"event.end", "timestamp"},
    {"event.original", "string"},
    {"event.hash", "string"},
    {"data_stream.dataset", "string"},
    {"data_stream.namespace", "string"},
    {"data_stream.type", "string"},
    // process extras that are not shared with parent/leaders
    {"process.env_vars", "string[]"},
    {"process.Ext.load_module.taint_flags", "string[]"},
    {"process.Ext.ancestry", "string[]"},
    {"process.entry_leader.entry_meta.type", "string"},
    {"process.entry_leader.entry_meta.source.ip", "ip"},
    {"process.io.text", "string"},
    // user.* / group.*
    {"user.id", "string"},
    {"user.name", "string"},
    {"user.domain", "string"},
    {"user.full_name", "string"},
    {"user.roles", "string[]"},
    {"user.effective.id", "string"},
    {"user.effective.name", "string"},
    {"user.target.id", "string"},
    {"user.target.name", "string"},
    {"user.changes.id", "string"},
    {"user.changes.name", "string"},
    {"user.Ext.real.id", "string"},
    {"user.Ext.real.name", "string"},
    {"group.id", "string"},
    {"group.name", "string"},
    {"group.changes.id", "string"},  // setgid / setresgid: the group asked for (the live source)
    {"group.changes.name", "string"},
    {"group.Ext.real.id", "string"},
    {"group.Ext.real.name", "string"},
    // file.*
    {"file.path", "string"},
    {"file.name", "string"},
    {"file.extension", "string"},
    {"file.directory", "string"},
    {"file.target_path", "string"},
    {"file.type", "string"},
    {"file.size", "i64"},
    {"file.inode", "string"},
    {"file.device", "string"},
    {"file.mode", "string"},
    {"file.uid", "string"},
    {"file.gid", "string"},
    {"file.owner", "string"},
    {"file.group", "string"},
    {"file.mime_type", "string"},
    {"file.attributes", "string[]"},
    {"file.created", "timestamp"},
    {"file.ctime", "timestamp"},
    {"file.mtime", "timestamp"},
    {"file.accessed", "timestamp"},
    {"file.hash.md5", "string"},
    {"file.hash.sha1", "string"},
    {"file.hash.sha256", "string"},
    {"file.Ext.original.path", "string"},
    {"file.Ext.original.name", "string"},
    {"file.Ext.original.extension", "string"},
    {"file.Ext.header_bytes", "string"},
    // network endpoints
    {"source.ip", "ip"},
    {"source.port", "i64"},
    {"source.address", "string"},
    {"source.domain", "string"},
    {"source.bytes", "i64"},
    {"source.packets", "i64"},
    {"destination.ip", "ip"},
    {"destination.port", "i64"},
    {"destination.address", "string"},
    {"destination.domain", "string"},
    {"destination.bytes", "i64"},
    {"destination.packets", "i64"},
    {"network.transport", "string"},
    {"network.protocol", "string"},
    {"network.direction", "string"},
    {"network.type", "string"},
    {"network.iana_number", "string"},
    {"network.bytes", "i64"},
    {"network.packets", "i64"},
    {"network.community_id", "string"},
    {"dns.question.name", "string"},
    {"dns.question.type", "string"},
    {"dns.resolved_ip", "ip[]"},
    {"url.full", "string"},
    {"url.original", "string"},
    {"url.domain", "string"},
    {"url.path", "string"},
    {"url.scheme", "string"},
    {"http.request.method", "string"},
    {"http.request.body.content", "string"},
    {"http.response.status_code", "i64"},
    // host.* / agent.* / cloud / container
    {"host.id", "string"},
    {"host.name", "string"},
    {"host.hostname", "string"},
    {"host.architecture", "string"},
    {"host.ip", "ip[]"},
    {"host.mac", "string[]"},
    {"host.boot.id", "string"},
    {"host.os.type", "string"},
    {"host.os.family", "string"},
    {"host.os.name", "string"},
    {"host.os.kernel", "string"},
    {"host.os.platform", "string"},
    {"host.os.version", "string"},
    {"agent.id", "string"},
    {"agent.name", "string"},
    {"agent.type", "string"},
    {"agent.version", "string"},
    {"cloud.provider", "string"},
    {"cloud.instance.id", "string"},
    {"container.id", "string"},
    {"container.name", "string"},
    {"container.image.name", "string"},
    {"orchestrator.namespace", "string"},
    {"service.name", "string"},
    // auditd (Auditbeat) fields read by Elastic's Linux rules
    {"auditd.result", "string"},
    {"auditd.data.syscall", "string"},
    {"auditd.data.a0", "string"},
    {"auditd.data.a1", "string"},
    {"auditd.data.a2", "string"},
    {"auditd.data.a3", "string"},
    {"auditd.data.class", "string"},
    {"auditd.data.socket.family", "string"},
    {"auditd.summary.actor.primary", "string"},
    {"auditd.summary.object.primary", "string"},
    {"auditd.message_type", "string"},
};

// ECS event.category values; Endgame and other sources add theirs dynamically.
constexpr std::string_view kEventCategories[] = {
    "process", "file",    "network", "authentication", "configuration", "database", "driver",
    "email",   "host",    "iam",     "intrusion_detection", "library", "malware", "package",
    "registry", "session", "threat", "vulnerability", "web", "api",
};

void DeclareOrDie(SchemaRegistry& registry, std::string_view name, std::string_view type) {
  auto parsed = ParseFieldType(type);
  // The catalog is compiled in: a bad entry is a bug, caught by the schema tests.
  if (!parsed || !registry.Declare(name, *parsed)) __builtin_trap();
}

}  // namespace

// Fields with a handful of values on any host: what kind of event, which OS, which agent.
constexpr std::string_view kLowCardinality[] = {
    "event.category", "event.type", "event.kind", "event.action", "event.outcome", "event.module",
    "event.dataset", "event.provider", "data_stream.dataset", "data_stream.namespace", "data_stream.type",
    "host.os.type", "host.os.family", "host.os.name", "host.os.platform", "host.os.kernel", "host.os.version",
    "network.transport", "network.protocol", "network.direction", "network.type", "network.iana_number",
    "agent.type", "agent.name", "agent.version", "cloud.provider", "auditd.result", "auditd.message_type",
};

SchemaRegistry SchemaRegistry::WithEcs(SchemaLimits limits) {
  SchemaRegistry registry(limits);
  for (const CatalogEntry& e : kFields) DeclareOrDie(registry, e.name, e.type);
  std::string name;
  for (std::string_view prefix : kProcessPrefixes) {
    for (const CatalogEntry& e : kProcessFields) {
      name.assign(prefix).append(".").append(e.name);
      DeclareOrDie(registry, name, e.type);
    }
  }
  for (std::string_view low : kLowCardinality) {
    auto id = registry.Find(low);
    if (!id) __builtin_trap();  // a name not in the catalog: a bug, caught by the schema tests
    registry.MarkLowCardinality(*id);
  }
  for (std::string_view category : kEventCategories) {
    if (!registry.InternEventType(category)) __builtin_trap();
  }
  return registry;
}

}  // namespace kestrel
