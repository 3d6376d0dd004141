// libFuzzer: `meshprobe inject` from the bytes of a manifest file to the YAML it writes, and
// the promises the engine makes about it (docs/inject.md):
//  - any input is either one error or output, never a crash;
//  - running inject again on its own output changes nothing;
//  - restoring the output gives, document by document, what restoring the input gives (for
//    an input that holds no earlier rewrite: the input itself).
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/inject.h"
#include "cmd/yaml_json.h"
#include "probe/names.h"

namespace {

using namespace meshprobe;

const cmd::InjectOptions kRewrite{false, {"meshprobe-agent:fuzz", probe::kDefaultAgentPort}};
const cmd::InjectOptions kRestore{true, {"meshprobe-agent:fuzz", probe::kDefaultAgentPort}};

[[noreturn]] void fail(std::string_view what, std::string_view detail = "") {
  std::cerr << "invariant broken: " << what << "\n" << detail << "\n";
  std::abort();
}

// inject writes documents separated by lines "---" (no document it copies through holds one).
std::vector<std::string> output_documents(std::string_view manifests) {
  std::vector<std::string> documents(1);
  while (!manifests.empty()) {
    const auto end = manifests.find('\n');
    const auto line =
        manifests.substr(0, end == std::string_view::npos ? manifests.size() : end + 1);
    manifests.remove_prefix(line.size());
    if (line == "---\n")
      documents.emplace_back();
    else
      documents.back() += line;
  }
  return documents;
}

nlohmann::json meaning_of(const std::string& document) {
  try {
    auto converted = cmd::yaml_to_json(YAML::Load(document));
    if (!converted)
      fail("a document inject wrote does not convert to JSON",
           converted.error().message + "\n" + document);
    return *converted;
  } catch (const YAML::Exception& error) {
    fail("a document inject wrote is not YAML", error.what() + ("\n" + document));
  }
}

// Same documents, in order: equal text, or equal meaning where inject wrote one anew.
void expect_same_documents(const std::string& expected, const std::string& actual,
                           std::string_view what) {
  const auto left = output_documents(expected);
  const auto right = output_documents(actual);
  if (left.size() != right.size()) fail(what, "a different number of documents");
  for (std::size_t i = 0; i < left.size(); ++i) {
    if (left[i] != right[i] && meaning_of(left[i]) != meaning_of(right[i])) {
      fail(what, "document " + std::to_string(i + 1) + ":\n" + left[i] + "---\n" + right[i]);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto rewritten = cmd::inject(input, kRewrite);
  const auto restored_input = cmd::inject(input, kRestore);
  if (!rewritten) {
    if (rewritten.error().message.empty()) fail("an error without a message");
    return 0;
  }
  const auto again = cmd::inject(rewritten->manifests, kRewrite);
  if (!again) fail("inject refuses its own output", again.error().message);
  if (again->manifests != rewritten->manifests)
    fail("inject on its own output changes it", again->manifests);

  const auto restored_output = cmd::inject(rewritten->manifests, kRestore);
  if (!restored_output) fail("restore refuses inject's output", restored_output.error().message);
  if (restored_input) {
    expect_same_documents(restored_input->manifests, restored_output->manifests,
                          "restore(inject(x)) differs from restore(x)");
  }
  return 0;
}
