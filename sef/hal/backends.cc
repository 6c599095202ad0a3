// The backend table: the explicit list of transports a unit can be opened on. No static
// registration: adding a backend means adding a row here.
#include <string>
#include <string_view>

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/hal.h"
#include "sef/hal/kernel/kernel_transport.h"
#include "sef/hal/model_transport.h"

namespace sef::hal {
namespace {

struct Backend {
  std::string_view prefix;  // the spec starts with it
  std::string_view form;    // for the error message
  absl::StatusOr<std::unique_ptr<Transport>> (*open)(const std::string& spec,
                                                     const TransportOptions& options);
};

constexpr Backend kBackends[] = {
    {"model:", "model:<config.json>[:<backing file>]",
     [](const std::string& spec, const TransportOptions& options) {
       return OpenModelTransport(spec.substr(6), options);
     }},
    {"/dev/nvme", "/dev/nvmeN",
     [](const std::string& spec, const TransportOptions& options) {
       return OpenKernelTransport(spec, options);
     }},
};

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> OpenTransport(const std::string& spec,
                                                         const TransportOptions& options) {
  std::string forms;
  for (const Backend& b : kBackends) {
    if (spec.rfind(b.prefix, 0) == 0) return b.open(spec, options);
    if (!forms.empty()) forms += " or ";
    forms += b.form;
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("'%s' names no SEF unit: expected %s", spec, forms));
}

absl::StatusOr<std::unique_ptr<Unit>> Unit::Open(const std::string& spec, UnitOptions options) {
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport,
                       OpenTransport(spec, options.transport));
  return Open(std::move(transport), std::move(options));
}

}  // namespace sef::hal
