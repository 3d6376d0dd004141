// The allocator `meshprobe controller` runs on (controller/cmd/allocator.h): its options are in
// effect, and release_free_memory() gives unused pages back at once.
#include "cmd/allocator.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kube/long_lived_allocations.h"

#ifdef MESHPROBE_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace meshprobe::cmd {
namespace {

#ifdef MESHPROBE_WITH_JEMALLOC

template <typename T>
T read_control(const std::string& name) {
  T value{};
  std::size_t size = sizeof(value);
  EXPECT_EQ(mallctl(name.c_str(), &value, &size, nullptr, 0), 0) << name;
  return value;
}

// Pages that hold nothing but have not been given back yet, over every arena.
std::size_t dirty_pages() {
  std::uint64_t epoch = 1;
  std::size_t size = sizeof(epoch);
  mallctl("epoch", &epoch, &size, &epoch, size);  // refreshes the statistics
  return read_control<std::size_t>("stats.arenas." + std::to_string(MALLCTL_ARENAS_ALL) +
                                   ".pdirty");
}

TEST(AllocatorTest, TheProcessRunsOnJemallocWithTheControllersOptions) {
  EXPECT_EQ(allocator_description().rfind("jemalloc ", 0), 0u) << allocator_description();
  EXPECT_FALSE(read_control<bool>("opt.tcache"));
  EXPECT_EQ(read_control<unsigned>("opt.narenas"), 2u);
  EXPECT_EQ(read_control<ssize_t>("opt.dirty_decay_ms"), 1000);
  EXPECT_EQ(read_control<ssize_t>("opt.muzzy_decay_ms"), 0);
}

TEST(AllocatorTest, ReleasingFreeMemoryLeavesNoDirtyPages) {
  // 16 MB in blocks of the size a cached object takes, then freed: their pages stay dirty
  // (decay is a second) until released.
  {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int index = 0; index < 16 * 1024; ++index) {
      blocks.emplace_back(new char[1024]);
      blocks.back()[0] = static_cast<char>(index);
    }
  }
  ASSERT_GT(dirty_pages(), 0u);
  release_free_memory();
  EXPECT_EQ(dirty_pages(), 0u);
}

unsigned arena_of(const void* pointer) {
  unsigned arena = 0;
  std::size_t size = sizeof(arena);
  EXPECT_EQ(mallctl("arenas.lookup", &arena, &size, &pointer, sizeof(pointer)), 0);
  return arena;
}

TEST(AllocatorTest, WhatTheCacheKeepsIsAllocatedInAnArenaOfItsOwn) {
  tune_allocator();
  const auto before = std::make_unique<std::array<char, 64>>();
  std::unique_ptr<std::array<char, 64>> long_lived;
  {
    kube::LongLivedAllocations scope;
    long_lived = std::make_unique<std::array<char, 64>>();
  }
  const auto after = std::make_unique<std::array<char, 64>>();

  // Not one of the two arenas threads are given (narenas:2), and the thread is back on its own.
  EXPECT_GE(arena_of(long_lived.get()), 2u);
  EXPECT_LT(arena_of(before.get()), 2u);
  EXPECT_EQ(arena_of(after.get()), arena_of(before.get()));
}

#else

TEST(AllocatorTest, WithoutJemallocTheProcessKeepsGlibcMalloc) {
  EXPECT_EQ(allocator_description().rfind("glibc malloc", 0), 0u) << allocator_description();
  tune_allocator();
  release_free_memory();
  {
    kube::LongLivedAllocations scope;  // no arena of its own on glibc: nothing to switch
    EXPECT_NE(std::make_unique<int>(1), nullptr);
  }
}

#endif

}  // namespace
}  // namespace meshprobe::cmd
