#include "sef/hal/kernel/queue_limits.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sef::hal::kernel {

uint32_t MaxSegments(int controller_instance, const std::string& sysfs) {
  namespace fs = std::filesystem;
  const fs::path controller =
      fs::path(sysfs) / "class/nvme" / absl::StrCat("nvme", controller_instance);
  uint32_t smallest = 0;
  std::error_code ec;
  // The controller's namespaces' block devices (nvme0n1, or nvme0c0n1 paths under native
  // multipath) are its child directories with a queue/.
  for (fs::directory_iterator it(controller, ec), end; !ec && it != end; it.increment(ec)) {
    std::ifstream in(it->path() / "queue/max_segments");
    std::string text;
    uint32_t value = 0;
    if (!std::getline(in, text) || !absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value) ||
        value == 0) {
      continue;
    }
    smallest = smallest == 0 ? value : std::min(smallest, value);
  }
  return smallest == 0 ? kDefaultMaxSegments : smallest;
}

uint64_t MaxPassthruBytes(uint32_t max_segments, uint64_t page_size) {
  return page_size * (max_segments > 2 ? uint64_t{max_segments} - 1 : 1);
}

}  // namespace sef::hal::kernel
