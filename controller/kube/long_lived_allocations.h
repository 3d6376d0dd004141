// Where data that lives as long as its workload is allocated.
//
// The informers' cache entries and the reconciler's per-workload bookkeeping are made while a
// watch event's parsed JSON is alive: thousands of short-lived blocks of the same sizes, freed a
// moment later. Sharing an arena, each surviving entry pins a slab that the event's blocks
// filled and left, and those pages are never given back. Measured on the controller benchmark
// with 10,000 workloads just rewritten: 6 MB of the allocator's 27 MB in use was such half-empty
// slabs (docs/benchmarks.md "Memory").
//
// A LongLivedAllocations scope sends the calling thread's allocations to an arena kept for such
// data, until the scope ends; freeing works from any thread. The process's allocator provides
// that arena (cmd/allocator.cc installs jemalloc's); without one (glibc, sanitizer builds, most
// tests) the scope does nothing.
#pragma once

namespace meshprobe::kube {

// The allocator's side: moves the calling thread to the long-lived arena and back.
class LongLivedArena {
 public:
  virtual ~LongLivedArena() = default;
  // Returns the thread's arena before the switch, for leave().
  virtual unsigned enter() = 0;
  virtual void leave(unsigned previous) = 0;
};

// Installs the process's arena (null: none). Called once, before any thread starts.
void install_long_lived_arena(LongLivedArena* arena);

class LongLivedAllocations {
 public:
  LongLivedAllocations();
  ~LongLivedAllocations();
  LongLivedAllocations(const LongLivedAllocations&) = delete;
  LongLivedAllocations& operator=(const LongLivedAllocations&) = delete;

 private:
  LongLivedArena* arena_;
  unsigned previous_ = 0;
};

}  // namespace meshprobe::kube
