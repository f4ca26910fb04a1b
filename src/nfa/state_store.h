// StateStore: the bounded state of one sequence rule (docs/sequences.md, "State and bounds").
//
// Entries are keyed by (slot, join key): a slot is a positive stage's pending partial matches,
// a missing-event stage's latest hits, or the completed matches waiting on trailing missing
// stages. The store enforces, for its rule:
// - a deadline per entry in event time (ts_mono_ns): maxspan, or a TTL when the rule has none.
//   Deadlines sit in a min-heap (lazy deletion), so expiry costs O(log n) per expired entry and
//   nothing per event otherwise — never a scan of all entries;
// - a quota of entries per entity (the entity_key of the event that created the entry): the
//   entity's oldest entry makes room;
// - a quota of entries for the rule, and a budget of bytes: the least recently inserted entry
//   makes room (entries are never updated in place — advancing a match re-inserts it — so
//   insertion order is recency order).
// Every entry that leaves other than by advancing or completing is counted by reason.
// Entries live in 16 shards by key hash: each shard's table grows on its own, so a rehash moves
// a sixteenth of the state at a time. A shard's table is open addressing with linear probing
// over 8-byte slots (part of the key's hash and the entry's handle; deletion shifts back, no
// tombstones); the key itself is kept once, in the entry.
#pragma once

#include <array>
#include <deque>
#include <cstdint>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "event/stored_event.h"

namespace kestrel::nfa {

struct StateLimits {
  uint64_t max_entries = 0;             // per rule; 0: unbounded
  uint64_t max_entries_per_entity = 0;  // per rule and entity; 0: unbounded
  uint64_t max_bytes = 0;               // per rule (entries and the events they hold); 0: unbounded
  uint64_t ttl_ns = 0;                  // deadline of a rule without maxspan; 0: none

  bool unbounded() const { return max_entries == 0 && max_entries_per_entity == 0 && max_bytes == 0; }
};

enum class EvictReason : uint8_t {
  kExpired,     // past its deadline (maxspan or TTL)
  kTerminated,  // dropped by `until`, or by a missing-event stage's hit
  kLru,         // the byte budget was reached
  kQuota,       // the rule's or the entity's entry quota was reached
  kSuperseded,  // replaced by a newer partial match of the same stage and key
};
inline constexpr size_t kEvictReasons = 5;
std::string_view EvictReasonName(EvictReason reason);

struct StateStats {
  uint64_t entries = 0;       // now
  uint64_t bytes = 0;         // now: entries, keys and the events they hold
  uint64_t event_bytes = 0;   // now: the part of `bytes` that is copies of events
  uint64_t peak_entries = 0;
  uint64_t peak_bytes = 0;
  std::array<uint64_t, kEvictReasons> evicted{};

  // Adds another store's figures (peaks add up: a bound on the sum of the peaks).
  void Add(const StateStats& o) {
    entries += o.entries;
    bytes += o.bytes;
    event_bytes += o.event_bytes;
    peak_entries += o.peak_entries;
    peak_bytes += o.peak_bytes;
    for (size_t i = 0; i < kEvictReasons; ++i) evicted[i] += o.evicted[i];
  }

  uint64_t evicted_total() const {
    uint64_t n = 0;
    for (uint64_t e : evicted) n += e;
    return n;
  }
};

// A partial or completed match.
struct PendingMatch {
  std::vector<EventRef> events;  // the positive stages matched so far, in order
  uint64_t first_ts = 0;
  // The latest hit of a leading missing stage before the first event (kNoHit: none).
  uint64_t leading_hit = kNoHit;
  uint64_t deadline = 0;  // a waiting match: when it is decided
  // A partial match a middle missing stage has discarded: it keeps advancing (and superseding
  // older ones, as in Elasticsearch) and is dropped when it completes.
  bool discarded = false;

  static constexpr uint64_t kNoHit = UINT64_MAX;
};

class StateStore {
 public:
  static constexpr size_t kShards = 16;
  using Handle = uint32_t;
  static constexpr Handle kNone = UINT32_MAX;

  struct Entry {
    std::string key;  // the join key's bytes
    uint64_t hash = 0;  // of (slot, key)
    uint64_t deadline = UINT64_MAX;
    uint64_t entity = 0;
    uint64_t bytes = 0;  // accounted
    uint64_t event_bytes = 0;  // of which copies of events
    Handle prev = kNone, next = kNone;                // insertion order, oldest first
    Handle entity_prev = kNone, entity_next = kNone;  // the same, per entity
    Handle self = kNone;
    uint32_t generation = 0;
    uint8_t slot = 0;
    bool live = false;
    // A partial match (positive slots); the hits (latest, previous) of a missing-event slot in
    // match.first_ts and match.leading_hit; the completed matches of a waiting slot in waiting.
    PendingMatch match;
    std::vector<PendingMatch> waiting;
  };

  explicit StateStore(const StateLimits& limits) : limits_(limits) {}
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Takes `old`'s entries (and counters), leaving it empty; the limits stay this store's (they
  // apply from the next insert). For a rule reloaded unchanged: its partial matches carry on.
  void AdoptEntries(StateStore& old) {
    using std::swap;
    swap(shards_, old.shards_);
    swap(entries_, old.entries_);
    swap(free_, old.free_);
    swap(oldest_, old.oldest_);
    swap(newest_, old.newest_);
    swap(entities_, old.entities_);
    swap(deadlines_, old.deadlines_);
    swap(next_deadline_, old.next_deadline_);
    swap(stats_, old.stats_);
  }

  // The entry of (slot, key), or nullptr.
  Entry* Find(uint8_t slot, std::string_view key);

  // Inserts (slot, key) with `entity` and `deadline`, replacing an existing entry (counted as
  // superseded when `count_superseded`). May evict other entries to honour the limits. Returns
  // the new entry, whose payload the caller fills, then calls Account(). Entries keep their
  // addresses until erased.
  Entry& Insert(uint8_t slot, std::string_view key, uint64_t entity, uint64_t deadline,
                bool count_superseded);

  // Recomputes the entry's accounted bytes after its payload changed, and applies the budget.
  void Account(Entry& entry);

  // Gives the entry a new deadline.
  void Reschedule(Entry& entry, uint64_t deadline);

  // Removes the entry; `reason` is counted unless it is null (advanced or completed).
  void Erase(Entry& entry, const EvictReason* reason);

  // The earliest deadline of any entry (UINT64_MAX: none); Expire(now) does nothing while
  // `now` is not past it.
  uint64_t next_deadline() const { return next_deadline_; }

  // Removes every entry whose deadline is before `now`. `on_expire` sees each first and returns
  // true when it has consumed the entry itself (re-inserting or erasing it), false to let it be
  // counted as expired.
  // (A template: a std::function here would allocate on every event of every rule.)
  template <class OnExpire>
  void Expire(uint64_t now, OnExpire&& on_expire) {
    if (now <= next_deadline_) return;  // without touching the heap
    while (!deadlines_.empty() && deadlines_.top().at < now) {
      Deadline d = deadlines_.top();
      deadlines_.pop();
      NoteNextDeadline();
      Entry& e = At(d.handle);
      if (!e.live || e.generation != d.generation || e.deadline != d.at) continue;  // stale
      if (on_expire(e)) continue;
      EvictReason expired = EvictReason::kExpired;
      Erase(e, &expired);
    }
  }

  // Every live entry of `slot`, for end of stream.
  std::vector<Entry*> EntriesOfSlot(uint8_t slot);

  const StateStats& stats() const { return stats_; }

 private:
  struct Shard {
    struct Slot {
      uint32_t tag = 0;  // the hash's high half
      Handle handle = kNone;  // kNone: empty
    };
    std::vector<Slot> slots;  // a power of two, at most half full
    size_t size = 0;
  };
  static uint64_t HashOf(uint8_t slot, std::string_view key);
  static size_t Home(const Shard& shard, uint64_t hash) { return (hash >> 4) & (shard.slots.size() - 1); }
  Shard& ShardOf(uint64_t hash) { return shards_[hash % kShards]; }
  Entry* Find(uint8_t slot, std::string_view key, uint64_t hash);
  void TableInsert(Handle h);
  void TableErase(const Entry& e);
  void NoteNextDeadline() { next_deadline_ = deadlines_.empty() ? UINT64_MAX : deadlines_.top().at; }
  struct Deadline {
    uint64_t at;
    Handle handle;
    uint32_t generation;
    friend bool operator>(const Deadline& a, const Deadline& b) { return a.at > b.at; }
  };
  struct EntityList {
    Handle oldest = kNone, newest = kNone;
    uint64_t count = 0;
  };

  Entry& At(Handle h) { return entries_[h]; }
  void Unlink(Entry& e);
  void CompactDeadlines();
  void EvictOldest(EvictReason reason);
  void Count(EvictReason reason) { ++stats_.evicted[static_cast<size_t>(reason)]; }

  StateLimits limits_;
  std::array<Shard, kShards> shards_;
  std::deque<Entry> entries_;  // stable addresses: an Entry& survives later inserts
  std::vector<Handle> free_;
  Handle oldest_ = kNone, newest_ = kNone;
  std::unordered_map<uint64_t, EntityList> entities_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  uint64_t next_deadline_ = UINT64_MAX;  // deadlines_.top().at, kept beside the heap
  StateStats stats_;
};

}  // namespace kestrel::nfa
