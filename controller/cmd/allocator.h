// How `meshprobe controller` holds memory (docs/decisions.md "The controller", Memory). The
// controller is long-running and its caches are filled between large temporary allocations
// (parsed pages of lists, watch events, TLS handshakes); a general-purpose allocator keeps the
// pages those leave half used. The release build links jemalloc (configured in allocator.cc);
// builds with sanitizers keep glibc's malloc, tuned here as far as it can be.
#pragma once

#include <string>

namespace meshprobe::cmd {

// Called once at the start of `meshprobe controller`, before any thread is started.
void tune_allocator();

// Returns free pages to the system: after the first lists are parsed.
void release_free_memory();

// "jemalloc 5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c (narenas:2,tcache:false,...)" or
// "glibc malloc": logged at start, and read by the tests.
std::string allocator_description();

}  // namespace meshprobe::cmd
