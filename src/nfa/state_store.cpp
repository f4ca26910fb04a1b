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

uint64_t StateStore::HashOf(uint8_t slot, std::string_view key) { return Hash64(key, slot); }

StateStore::Entry* StateStore::Find(uint8_t slot, std::string_view key) { return Find(slot, key, HashOf(slot, key)); }

StateStore::Entry* StateStore::Find(uint8_t slot, std::string_view key, uint64_t hash) {
  Shard& shard = ShardOf(hash);
  if (shard.size == 0) return nullptr;
  const auto tag = static_cast<uint32_t>(hash >> 32);
  size_t mask = shard.slots.size() - 1;
  for (size_t i = Home(shard, hash);; i = (i + 1) & mask) {
    const Shard::Slot& s = shard.slots[i];
    if (s.handle == kNone) return nullptr;
    if (s.tag != tag) continue;
    Entry& e = At(s.handle);
    if (e.hash == hash && e.slot == slot && e.key == key) return &e;
  }
}

void StateStore::TableInsert(Handle h) {
  const Entry& e = At(h);
  Shard& shard = ShardOf(e.hash);
  if (2 * (shard.size + 1) > shard.slots.size()) {
    std::vector<Shard::Slot> old = std::move(shard.slots);
    shard.slots.assign(old.empty() ? 16 : 2 * old.size(), Shard::Slot{});
    shard.size = 0;
    for (const Shard::Slot& s : old) {
      if (s.handle != kNone) TableInsert(s.handle);
    }
  }
  size_t mask = shard.slots.size() - 1;
  size_t i = Home(shard, e.hash);
  while (shard.slots[i].handle != kNone) i = (i + 1) & mask;
  shard.slots[i] = {static_cast<uint32_t>(e.hash >> 32), h};
  ++shard.size;
}

// Backward-shift deletion: the entries after the hole that would be found through it move up.
void StateStore::TableErase(const Entry& e) {
  Shard& shard = ShardOf(e.hash);
  size_t mask = shard.slots.size() - 1;
  size_t i = Home(shard, e.hash);
  while (shard.slots[i].handle != e.self) i = (i + 1) & mask;
  for (size_t j = (i + 1) & mask; shard.slots[j].handle != kNone; j = (j + 1) & mask) {
    size_t home = Home(shard, At(shard.slots[j].handle).hash);
    // Slot j may fill the hole at i unless its home lies cyclically in (i, j].
    bool home_between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (home_between) continue;
    shard.slots[i] = shard.slots[j];
    i = j;
  }
  shard.slots[i] = Shard::Slot{};
  --shard.size;
}

StateStore::Entry& StateStore::Insert(uint8_t slot, std::string_view key, uint64_t entity,
                                      uint64_t deadline, bool count_superseded) {
  const uint64_t hash = HashOf(slot, key);
  if (Entry* old = Find(slot, key, hash)) {
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
  e.slot = slot;
  e.key.assign(key);
  e.hash = hash;
  TableInsert(h);
  // Insertion order, globally and per entity.
  e.prev = newest_;
  if (newest_ != kNone) At(newest_).next = h;
  newest_ = h;
  if (oldest_ == kNone) oldest_ = h;
  if (limits_.max_entries_per_entity != 0) {  // the lists serve only that quota
    EntityList& list = entities_[entity];
    e.entity_prev = list.newest;
    if (list.newest != kNone) At(list.newest).entity_next = h;
    list.newest = h;
    if (list.oldest == kNone) list.oldest = h;
    ++list.count;
  }
  if (deadline != UINT64_MAX) {
    deadlines_.push({deadline, h, generation});
    if (deadlines_.size() > 2 * stats_.entries + 1024) CompactDeadlines();
    NoteNextDeadline();
  }
  ++stats_.entries;
  stats_.peak_entries = std::max(stats_.peak_entries, stats_.entries);
  Account(e);
  return e;
}

void StateStore::Account(Entry& e) {
  // The entry, its table slots (at most half of a table is used), its key and vectors, and the
  // events it holds (counted in full by every holder: events shared between matches are counted
  // more than once, on the safe side).
  uint64_t event_bytes = EventBytes(e.match);
  uint64_t bytes = sizeof(Entry) + 2 * sizeof(Shard::Slot) + (e.key.capacity() > 15 ? e.key.capacity() : 0) +
                   e.match.events.capacity() * sizeof(EventRef) +
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
  NoteNextDeadline();
}

void StateStore::EvictOldest(EvictReason reason) {
  if (oldest_ == kNone) return;
  Erase(At(oldest_), &reason);
}

void StateStore::Unlink(Entry& e) {
  if (e.prev != kNone) At(e.prev).next = e.next; else oldest_ = e.next;
  if (e.next != kNone) At(e.next).prev = e.prev; else newest_ = e.prev;
  if (limits_.max_entries_per_entity == 0) return;
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
  TableErase(e);
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
  NoteNextDeadline();
}

std::vector<StateStore::Entry*> StateStore::EntriesOfSlot(uint8_t slot) {
  std::vector<Entry*> out;
  for (Handle h = oldest_; h != kNone; h = At(h).next) {
    if (At(h).slot == slot) out.push_back(&At(h));
  }
  return out;
}

}  // namespace kestrel::nfa
