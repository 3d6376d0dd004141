#include "kube/long_lived_allocations.h"

#include <atomic>

namespace meshprobe::kube {
namespace {

std::atomic<LongLivedArena*> installed_arena{nullptr};

}  // namespace

void install_long_lived_arena(LongLivedArena* arena) {
  installed_arena.store(arena, std::memory_order_release);
}

LongLivedAllocations::LongLivedAllocations()
    : arena_(installed_arena.load(std::memory_order_acquire)) {
  if (arena_) previous_ = arena_->enter();
}

LongLivedAllocations::~LongLivedAllocations() {
  if (arena_) arena_->leave(previous_);
}

}  // namespace meshprobe::kube
