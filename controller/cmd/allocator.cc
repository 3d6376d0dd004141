#include "cmd/allocator.h"

#include <malloc.h>

#include <string>

#include "kube/long_lived_allocations.h"

#ifdef MESHPROBE_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>

// jemalloc reads its options from this symbol when it initialises (before main), so they hold
// for every allocation of the process:
// - narenas:2: two arenas, not four per core; the reflectors' and workers' threads share freed
//   memory instead of each arena keeping its own.
// - tcache:false: no per-thread caches. The controller has about 35 threads, most of them
//   waiting on a watch; each cache would keep freed blocks for its thread alone.
// - dirty_decay_ms:1000, muzzy_decay_ms:0: pages left unused are given back to the system
//   after a second (not ten), and at once (MADV_DONTNEED, not the lazy MADV_FREE, which leaves
//   them counted as resident until the kernel is short of memory).
// (background_thread:true, a thread that purges on time rather than while the process
// allocates, was measured too: no less resident at 10,000 workloads, two threads more.)
// Measured on the benchmark's control plane (docs/benchmarks.md): at 3,000 workloads after a
// restart, 27 MB resident against glibc's 35 MB; decay 0 gave 1 MB less for 25-50 % more CPU.
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's.
const char* malloc_conf = "narenas:2,tcache:false,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

namespace meshprobe::cmd {

#ifdef MESHPROBE_WITH_JEMALLOC

namespace {

// An arena of its own for what the cache keeps (kube/long_lived_allocations.h). Made on first
// use; jemalloc's "thread.arena" moves the calling thread (it has no thread cache to flush:
// tcache:false above).
class JemallocLongLivedArena final : public kube::LongLivedArena {
 public:
  JemallocLongLivedArena() {
    std::size_t size = sizeof(arena_);
    if (mallctl("arenas.create", &arena_, &size, nullptr, 0) != 0) return;
    std::size_t length = sizeof(thread_arena_mib_) / sizeof(thread_arena_mib_[0]);
    created_ = mallctlnametomib("thread.arena", thread_arena_mib_, &length) == 0;
  }
  bool created() const { return created_; }
  unsigned index() const { return arena_; }

  unsigned enter() override {
    unsigned previous = 0;
    std::size_t size = sizeof(previous);
    unsigned target = arena_;
    mallctlbymib(thread_arena_mib_, 2, &previous, &size, &target, sizeof(target));
    return previous;
  }
  void leave(unsigned previous) override {
    mallctlbymib(thread_arena_mib_, 2, nullptr, nullptr, &previous, sizeof(previous));
  }

 private:
  unsigned arena_ = 0;
  std::size_t thread_arena_mib_[2] = {};
  bool created_ = false;
};

}  // namespace

void tune_allocator() {  // the options: malloc_conf above
  static JemallocLongLivedArena long_lived;
  if (long_lived.created()) kube::install_long_lived_arena(&long_lived);
}

void release_free_memory() {
  // Every arena's unused pages, now.
  const std::string purge_all = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  mallctl(purge_all.c_str(), nullptr, nullptr, nullptr, 0);
}

std::string allocator_description() {
  const char* version = nullptr;
  std::size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0) version = "?";
  return std::string("jemalloc ") + version + " (" + malloc_conf + ")";
}

#else

void tune_allocator() {
  // Two arenas instead of eight per core: the informers' and workers' threads then share freed
  // memory instead of each keeping its own.
  mallopt(M_ARENA_MAX, 2);
  // A fixed threshold above which allocations are their own mappings, returned to the system
  // when freed. glibc raises the default one to the size of each such block freed, after which
  // response bodies of several MB come from the heap and leave it fragmented.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
}

void release_free_memory() { malloc_trim(0); }

std::string allocator_description() { return "glibc malloc (M_ARENA_MAX 2)"; }

#endif

}  // namespace meshprobe::cmd
