// Units by number: how a SEF unit is named where a short name is wanted (QEMU's
// `file=<unit>:<domain>`, `sef_unit=N`, `sef.unit=`; sef-cli), and how such a name becomes a
// HAL unit. docs/qemu-devices.md ("How a unit number resolves") says the same for users.
//
//   SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::Unit> unit, units::Open("0"));
//
// A unit name is a number ("0", "3") or a HAL spec ("model:<config.json>[:<backing file>]",
// "/dev/nvmeN"). A spec names itself. A number resolves, in this order:
//   1. Explicit configuration: the units file, $SEF_UNITS_FILE if set (it must exist), else
//      ${XDG_CONFIG_HOME:-~/.config}/sef/units.json if present. JSON:
//        {"units": {"0": "model:/etc/sef/big.json:/var/lib/sef/big.sef", "1": "/dev/nvme0"},
//         "discover": true, "provision": ["2"]}
//      "units" maps numbers to specs; "discover" (default true) allows step 2; "provision"
//      lists units of "units" that are provisioned on open as the embedded default unit is
//      (below): the way to use a model unit in RAM, which starts empty at every open, where
//      QoS domains must exist when it opens (QEMU's disks).
//   2. SEF units found on the host: every /dev/nvmeN (N ascending) whose controller lists
//      CSI 0x30 in Identify CNS 1Ch, less those the file names, take the lowest numbers the
//      file does not name.
//   3. Unit 0, when neither step named it, is the embedded default unit: the configuration
//      compiled into this library (testdata/units/default.json, embedded at build time), on
//      the backing file <data dir>/unit0.sef, data dir = ${SEF_DATA_DIR:-${XDG_DATA_HOME:-
//      ~/.local/share}/sef}. Its configuration is also written to <data dir>/unit0.json
//      (the HAL opens models from a file). On first use it is provisioned: one virtual device
//      over all dies, kDefaultDiesPerSuperBlock dies per super block, and QoS domains 1 to
//      kDefaultQosDomains sharing the capacity equally.
// Any other number is NotFound, with a message that names the unit and says where it looked.
//
// Errors name the unit and how it was looked up ("unit 2 (from /x/units.json): ..."). They
// are InvalidArgument for a malformed name or units file, NotFound for a number nothing
// names, and the HAL's errors for a unit that does not open.
//
// Thread-safety: the functions are thread-safe; Open of one embedded default unit from two
// threads (or processes) at once is refused for the second by the backing file's lock.
#ifndef SEF_UNITS_UNITS_H_
#define SEF_UNITS_UNITS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sef/hal/hal.h"

namespace sef::units {

inline constexpr uint16_t kDefaultDiesPerSuperBlock = 4;
inline constexpr uint32_t kDefaultQosDomains = 4;

// Where the resolver looks. FromProcess() reads the process environment; tests build their
// own.
struct Environment {
  std::string units_file;   // $SEF_UNITS_FILE; "" = unset
  std::string config_home;  // ${XDG_CONFIG_HOME:-$HOME/.config}
  std::string data_dir;     // ${SEF_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/sef}
  // The SEF units found on the host, as specs in N order (default: DiscoverHostUnits).
  std::function<std::vector<std::string>()> discover;

  static Environment FromProcess();
};

// Every /dev/nvmeN (N ascending) that opens as a SEF unit through the HAL's kernel backend.
// Devices that are not SEF units, or that cannot be probed (e.g. no permission), are left
// out.
std::vector<std::string> DiscoverHostUnits();

enum class Source {
  kSpec,             // the name was a HAL spec
  kUnitsFile,        // step 1
  kHost,             // step 2
  kEmbeddedDefault,  // step 3
};

struct ResolvedUnit {
  std::string name;  // as given
  std::string spec;  // the HAL spec to open: model:<config>[:<backing>] or /dev/nvmeN
  Source source = Source::kSpec;
  // Provision() gives the unit the default layout (the embedded default unit, and units the
  // units file lists in "provision").
  bool provision = false;
  // For messages: "unit 0 (the embedded default unit, /home/u/.local/share/sef/unit0.sef)",
  // "unit 1 (from /home/u/.config/sef/units.json: /dev/nvme0)", "model:a.json:b.sef".
  std::string description;

  bool is_model() const { return spec.rfind("model:", 0) == 0; }
};

// Resolves `name` (see above). Does not open anything (host discovery excepted) and writes
// nothing.
absl::StatusOr<ResolvedUnit> Resolve(std::string_view name,
                                     const Environment& env = Environment::FromProcess());

// Before a resolved unit is opened: for the embedded default unit, creates the data
// directory and writes <data dir>/unit0.json if it is missing or differs. Nothing for others.
// Errors: the OS error, naming the path.
absl::Status Prepare(const ResolvedUnit& unit);

// After a resolved unit was opened as `opened`: provisions the embedded default unit (and
// the units file's "provision" units) if it lacks its virtual device or QoS domains (see
// above). Nothing for other units: they are configured by whoever configured them. Errors: the
// HAL's, prefixed with the description.
absl::Status Provision(const ResolvedUnit& unit, hal::Unit& opened);

// Resolve, Prepare, hal::Unit::Open(spec), Provision.
absl::StatusOr<std::unique_ptr<hal::Unit>> Open(std::string_view name,
                                                const Environment& env = Environment::FromProcess(),
                                                hal::UnitOptions options = {});

// The embedded default unit's configuration (JSON text).
std::string_view EmbeddedDefaultConfig();

}  // namespace sef::units

#endif  // SEF_UNITS_UNITS_H_
