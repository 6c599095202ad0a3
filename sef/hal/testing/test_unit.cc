#include "sef/hal/testing/test_unit.h"

#include "absl/strings/str_format.h"
#include "sef/base/status_macros.h"
#include "sef/hal/model_transport.h"

namespace sef::hal::testing {

absl::StatusOr<std::unique_ptr<TestUnit>> TestUnit::Open(TestUnitOptions options) {
  SEF_ASSIGN_OR_RETURN(model::UnitConfig config,
                       model::LoadUnitConfig("testdata/units/" + options.config + ".json"));
  if (options.edit_config) options.edit_config(config);
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<model::Controller> controller,
                       model::Controller::Open({.config = config,
                                                .backing_file = options.backing_file,
                                                .clock = options.clock}));
  std::unique_ptr<TestUnit> t(new TestUnit());
  t->options_ = std::move(options);
  t->controller_ = std::move(controller);
  SEF_RETURN_IF_ERROR(t->OpenUnit());
  return t;
}

TestUnit::~TestUnit() {
  unit_.reset();
  controller_.reset();
}

absl::Status TestUnit::OpenUnit() {
  auto faults = std::make_unique<FaultTransport>(MakeModelTransport(
      controller_, "model:" + options_.config, options_.transport));
  FaultTransport* raw = faults.get();
  SEF_ASSIGN_OR_RETURN(unit_, Unit::Open(std::move(faults),
                                         {.transport = options_.transport,
                                          .on_notification = options_.on_notification}));
  faults_ = raw;
  return absl::OkStatus();
}

absl::StatusOr<QosDomainId> TestUnit::Provision(const ProvisionOptions& options) {
  SEF_ASSIGN_OR_RETURN(std::vector<VirtualDeviceId> vds, unit_->ListVirtualDevices());
  if (vds.empty()) {
    SEF_ASSIGN_OR_RETURN(UnitInfo info, unit_->Info());
    VirtualDeviceConfig vd{VirtualDeviceId(1), {}, options.dies_per_super_block, 0};
    for (uint16_t die = 0; die < info.dies(); ++die) vd.dies.push_back(die);
    SEF_RETURN_IF_ERROR(unit_->CreateVirtualDevices({vd}));
    vds.push_back(vd.id);
  }
  SEF_ASSIGN_OR_RETURN(VirtualDeviceInfo vd, unit_->GetVirtualDeviceInfo(vds.front()));
  QosDomainConfig config;
  config.vd = vd.id;
  config.capacity_adus = options.capacity_adus != 0 ? options.capacity_adus : vd.capacity_adus;
  config.placement_ids = options.placement_ids;
  config.max_open_super_blocks = options.max_open_super_blocks;
  return unit_->CreateQosDomain(config);
}

absl::Status TestUnit::Restart() {
  unit_.reset();
  faults_ = nullptr;
  if (!controller_->powered()) SEF_RETURN_IF_ERROR(controller_->PowerOn());
  return OpenUnit();
}

}  // namespace sef::hal::testing
