#include "nfa/state_store.h"

#include <algorithm>

#include "common/hash.h"

namespace kestrel::nfa {

std::string_view EvictReasonName(EvictReason reason) {
  switch (reason) {
    case EvictReason::kExpired: return "expired";
    case EvictReason::kTerminated: return "terminated";
    case EvictReason::kLru: return "lru";
    case EvictReason::kQuota: return "quota";
    case EvictReason::kSuperseded: return "superseded";
  }
  return "unknown";
}

namespace {

size_t EventBytes(const PendingMatch& m) {
  size_t n = 0;
  for (const EventRef& e : m.events) n += e.stored_bytes();
  return n;
}

}  // namespace

StateStore::Entry* StateStore::Find(uint8_t slot, std::string_view key) {
  scratch_.assign(1, static_cast<char>(slot));
  scratch_.append(key);
  uint64_t hash = Hash64(scratch_);
  Shard& shard = shards_[hash % kShards];
  auto it = shard.table.find(scratch_);
  return it == shard.table.end() ? nullptr : &At(it->second);
}

StateStore::Entry& StateStore::Insert(uint8_t slot, std::string_view key, uint64_t entity,
                                      uint64_t deadline, bool count_superseded) {
  if (Entry* old = Find(slot, key)) {
    EvictReason superseded = EvictReason::kSuperseded;
    Erase(*old, count_superseded ? &superseded : nullptr);
  }
  // Make room first, so the new entry is never the one evicted.
  if (limits_.max_entries_per_entity != 0) {
    auto it = entities_.find(entity);
    while (it != entities_.end() && it->second.count >= limits_.max_entries_per_entity) {
      EvictReason quota = EvictReason::kQuota;
      Erase(At(it->second.oldest), &quota);
      it = entities_.find(entity);
    }
  }
  while (limits_.max_entries != 0 && stats_.entries >= limits_.max_entries) {
    EvictOldest(EvictReason::kQuota);
  }
  Handle h;
  if (!free_.empty()) {
    h = free_.back();
    free_.pop_back();
  } else {
    h = static_cast<Handle>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = At(h);
  uint32_t generation = e.generation + 1;
  e = Entry{};
  e.self = h;
  e.generation = generation;
  e.live = true;
  e.entity = entity;
  e.deadline = deadline;
  scratch_.assign(1, static_cast<char>(slot));
  scratch_.append(key);
  e.hash = Hash64(scratch_);
  auto [it, inserted] = shards_[e.hash % kShards].table.emplace(scratch_, h);
  e.key = &it->first;
  // Insertion order, globally and per entity.
  e.prev = newest_;
  if (newest_ != kNone) At(newest_).next = h;
  newest_ = h;
  if (oldest_ == kNone) oldest_ = h;
  EntityList& list = entities_[entity];
  e.entity_prev = list.newest;
  if (list.newest != kNone) At(list.newest).entity_next = h;
  list.newest = h;
  if (list.oldest == kNone) list.oldest = h;
  ++list.count;
  if (deadline != UINT64_MAX) {
    deadlines_.push({deadline, h, generation});
    if (deadlines_.size() > 2 * stats_.entries + 1024) CompactDeadlines();
  }
  ++stats_.entries;
  stats_.peak_entries = std::max(stats_.peak_entries, stats_.entries);
  Account(e);
  return e;
}

void StateStore::Account(Entry& e) {
  // The entry, its table node and key, its vectors, and the events it holds (counted in full
  // by every holder: events shared between matches are counted more than once, on the safe side).
  uint64_t event_bytes = EventBytes(e.match);
  uint64_t bytes = sizeof(Entry) + sizeof(std::pair<const std::string, Handle>) + 2 * sizeof(void*) +
                   (e.key->capacity() > 15 ? e.key->capacity() : 0) + e.match.events.capacity() * sizeof(EventRef) +
                   e.waiting.capacity() * sizeof(PendingMatch);
  for (const PendingMatch& w : e.waiting) {
    event_bytes += EventBytes(w);
    bytes += w.events.capacity() * sizeof(EventRef);
  }
  bytes += event_bytes;
  stats_.bytes = stats_.bytes - e.bytes + bytes;
  stats_.event_bytes = stats_.event_bytes - e.event_bytes + event_bytes;
  e.bytes = bytes;
  e.event_bytes = event_bytes;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes);
  while (limits_.max_bytes != 0 && stats_.bytes > limits_.max_bytes && oldest_ != kNone &&
         oldest_ != e.self) {
    EvictOldest(EvictReason::kLru);
  }
}

void StateStore::Reschedule(Entry& e, uint64_t deadline) {
  e.deadline = deadline;
  if (deadline != UINT64_MAX) deadlines_.push({deadline, e.self, e.generation});
}

void StateStore::EvictOldest(EvictReason reason) {
  if (oldest_ == kNone) return;
  Erase(At(oldest_), &reason);
}

void StateStore::Unlink(Entry& e) {
  if (e.prev != kNone) At(e.prev).next = e.next; else oldest_ = e.next;
  if (e.next != kNone) At(e.next).prev = e.prev; else newest_ = e.prev;
  auto it = entities_.find(e.entity);
  EntityList& list = it->second;
  if (e.entity_prev != kNone) At(e.entity_prev).entity_next = e.entity_next; else list.oldest = e.entity_next;
  if (e.entity_next != kNone) At(e.entity_next).entity_prev = e.entity_prev; else list.newest = e.entity_prev;
  if (--list.count == 0) entities_.erase(it);
}

void StateStore::Erase(Entry& e, const EvictReason* reason) {
  if (!e.live) return;
  if (reason != nullptr) Count(*reason);
  Unlink(e);
  shards_[e.hash % kShards].table.erase(*e.key);
  stats_.bytes -= e.bytes;
  stats_.event_bytes -= e.event_bytes;
  --stats_.entries;
  uint32_t generation = e.generation;
  Handle self = e.self;
  e = Entry{};  // releases the events it held
  e.self = self;
  e.generation = generation;
  free_.push_back(self);
}

void StateStore::CompactDeadlines() {
  std::vector<Deadline> live;
  live.reserve(stats_.entries);
  for (Entry& e : entries_) {
    if (e.live && e.deadline != UINT64_MAX) live.push_back({e.deadline, e.self, e.generation});
  }
  deadlines_ = decltype(deadlines_)(std::greater<>(), std::move(live));
}

std::vector<StateStore::Entry*> StateStore::EntriesOfSlot(uint8_t slot) {
  std::vector<Entry*> out;
  for (Handle h = oldest_; h != kNone; h = At(h).next) {
    if (static_cast<uint8_t>((*At(h).key)[0]) == slot) out.push_back(&At(h));
  }
  return out;
}

}  // namespace kestrel::nfa
