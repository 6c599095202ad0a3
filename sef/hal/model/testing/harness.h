// Test harness for the device model: drives a Controller only through encoded commands.
//
//   ModelHarness h = ModelHarness::Open("tiny");
//   h.CreateVirtualDevice(VirtualDeviceId(1), {0, 1, 2, 3}, /*dies_per_sb=*/2);
//   QosDomainId d = h.CreateDomain(h.DefaultSpec(VirtualDeviceId(1)));
//   ModelHarness::Written w = h.Write(d, cmd::ByPlacement{PlacementId(0)}, Lba(7), 3);
//
// Every helper encodes with sef/hal/cmd and fails the current test (gtest ADD_FAILURE) when
// encoding fails, so tests read as sequences of commands and expected statuses. Helpers may
// be called from several threads at once (the model is thread-safe; pair ids are atomic).
#ifndef SEF_HAL_MODEL_TESTING_HARNESS_H_
#define SEF_HAL_MODEL_TESTING_HARNESS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/results.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/model/controller.h"

namespace sef::model::testing {

// Loads testdata/units/<name>.json (relative to the test's runfiles directory).
UnitConfig LoadTestUnit(const std::string& name);

// Status helpers for EXPECT_EQ(c.status, ...).
NvmeStatus Generic(uint8_t sc);
NvmeStatus CommandSpecific(uint8_t sc);
NvmeStatus Media(uint8_t sc);
NvmeStatus Vendor(uint8_t sc);

class ModelHarness {
 public:
  // Opens unit `name` in RAM, or on `backing_file`. ADD_FAILURE and a null unit on error.
  static ModelHarness Open(const std::string& name, const std::string& backing_file = "",
                           Clock* clock = nullptr);
  explicit ModelHarness(std::unique_ptr<Controller> unit) : unit_(std::move(unit)) {}
  // Opens a unit from `options` (e.g. a config changed in the test). ADD_FAILURE on error.
  static ModelHarness OpenWith(ControllerOptions options);

  Controller& unit() { return *unit_; }
  bool ok() const { return unit_ != nullptr; }
  void Close() { unit_.reset(); }

  // One encoded command, executed synchronously.
  Completion Admin(const cmd::AdminRequest& r);
  Completion Io(const cmd::IoRequest& r, const cmd::DomainFormat& f);
  // A raw command (for malformed-command tests).
  Completion Raw(const Command& c) { return unit_->Execute(c); }

  // Submits without waiting, for commands that wait for a partner or an event (FAR, NLC,
  // AER). The completion lands in the returned slot when it runs; the slot outlives the
  // unit, so a completion run by the unit's destructor is safe.
  using Slot = std::shared_ptr<std::optional<Completion>>;
  Slot SubmitAsync(const Command& c);
  Slot SubmitAsync(const cmd::AdminRequest& r);
  Slot SubmitAsync(const cmd::IoRequest& r, const cmd::DomainFormat& f);
  // An Asynchronous Event Request (admin opcode 0x0C), parked until an event arrives.
  Slot SubmitAer();

  // Set Features 0xD2 + Capacity Management select, then SetF 0xD0 SEL0 (dies per SB).
  void CreateVirtualDevice(VirtualDeviceId vd, std::vector<uint16_t> dies, uint16_t dies_per_sb,
                           uint16_t config_id = 2);
  // A spec using half of the VD's capacity as capacity and quota.
  cmd::QosDomainSpec DefaultSpec(VirtualDeviceId vd);
  // NS Management create + attach. Returns the new id (0 on failure, with ADD_FAILURE).
  QosDomainId CreateDomain(const cmd::QosDomainSpec& spec);
  // Identify 05h + log 0xD0: the format the domain's commands need, or the pinned one.
  cmd::DomainFormat FormatOf(QosDomainId d);
  // From now on FormatOf(d) returns `f` without asking the unit, so that the helpers send only
  // the commands they are about (a test counting commands with Controller::CutPowerAfter, or
  // running while the unit is off). Not thread-safe: pin before sharing the harness.
  void PinFormat(QosDomainId d, const cmd::DomainFormat& f) { pinned_[d.value()] = f; }
  wire::VdInfoLogHeader VdInfo(VirtualDeviceId vd);
  wire::IdentifySefNamespace NamespaceInfo(QosDomainId d);
  wire::SbInfoLog SbInfo(VirtualDeviceId vd, SuperBlockId sb);

  struct Erased {
    Completion completion;
    SuperBlockId sb;
    uint32_t capacity = 0;
  };
  Erased Erase(QosDomainId d, SuperBlockId sb = kDeviceChoosesSuperBlock, bool pslc = false);
  Completion SuperBlockOp(QosDomainId d, wire::SbOperation op, SuperBlockId sb);

  struct Written {
    Completion far, nlw;
    wire::AddressRequestResponse arr{};
    std::vector<FlashAddress> addresses;  // the tentative address of every ADU written
  };
  // A FAR+NLW pair writing `adus` ADUs whose bytes are Pattern(lba + i), metadata included.
  Written Write(QosDomainId d, cmd::WriteTarget target, Lba lba, uint32_t adus, bool fua = false);
  // Reads and returns data; `metadata` (optional) receives adus * 16 bytes.
  Completion Read(FlashAddress a, uint32_t adus, std::vector<uint8_t>* data,
                  UserAddress verify = UserAddress::Ignore(),
                  std::vector<uint8_t>* metadata = nullptr);

  struct Copied {
    Completion nlc, gcr;
    wire::AcrHeader header{};
    std::vector<wire::AddressChange> changes;
  };
  Copied Copy(QosDomainId dest, SuperBlockId dest_sb, const cmd::CopySource& source,
              std::optional<cmd::UserAddressFilter> filter = std::nullopt,
              uint32_t acr_entries = 256, bool fua = false);

  // The byte every position of ADU `lba` holds in Write's data: distinct per LBA.
  static uint8_t Pattern(uint64_t lba) { return static_cast<uint8_t>(lba * 37 + 11); }
  uint32_t NextPairId() { return next_pair_id_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::unique_ptr<Controller> unit_;
  std::atomic<uint32_t> next_pair_id_{1};  // pair ids are unique across threads
  std::map<uint16_t, cmd::DomainFormat> pinned_;
};

// Expects every ADU of `data` to hold Pattern(first_lba + i).
bool HoldsPattern(const std::vector<uint8_t>& data, uint64_t first_lba);

}  // namespace sef::model::testing

#endif  // SEF_HAL_MODEL_TESTING_HARNESS_H_
