// The HAL's per-command overhead over the bare device model, at queue depth 1 and 64.
//
//   bazel run -c opt //sef/hal:hal_benchmark [-- --seconds=2]
//
// Both sides run one-ADU reads with user-address verify on a RAM model of the same unit:
// "bare" encodes a Read and submits it to model::Controller directly; "HAL" calls
// QosDomain::Read (QD1) or keeps 64 QosDomain::ReadAsync calls outstanding (QD64). The
// difference per command is what the HAL adds (request validation, state, callbacks,
// status mapping). The model completes commands on the submitting thread, so at QD64 the
// bare side is the same loop as QD1 and the HAL side measures its asynchronous machinery.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <vector>

#include "sef/hal/cmd/codec.h"
#include "sef/hal/hal.h"
#include "sef/hal/model/controller.h"
#include "sef/hal/model_transport.h"

namespace sef::hal {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr const char* kUnit = "testdata/units/default.json";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "hal_benchmark: %s failed\n", what);
    std::exit(1);
  }
}

template <typename F>
double NanosPerOp(double seconds, F op) {
  uint64_t ops = 0;
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (SteadyClock::now() < end) {
    for (int i = 0; i < 128; ++i) op(ops++);
  }
  return std::chrono::duration<double, std::nano>(SteadyClock::now() - start).count() / ops;
}

// A unit with one VD and one domain holding `n` written ADUs; returns their addresses.
std::vector<FlashAddress> Prepare(Unit& unit, std::unique_ptr<QosDomain>& domain, uint32_t n) {
  absl::StatusOr<UnitInfo> info = unit.Info();
  Check(info.ok(), "info");
  VirtualDeviceConfig vd{VirtualDeviceId(1), {}, 1, 0};
  for (uint16_t d = 0; d < info->dies(); ++d) vd.dies.push_back(d);
  Check(unit.CreateVirtualDevices({vd}).ok(), "create VD");
  QosDomainConfig config;
  config.vd = VirtualDeviceId(1);
  config.capacity_adus = unit.GetVirtualDeviceInfo(VirtualDeviceId(1))->capacity_adus;
  config.max_open_super_blocks = 4;
  absl::StatusOr<QosDomainId> id = unit.CreateQosDomain(config);
  Check(id.ok(), "create domain");
  domain = *unit.OpenQosDomain(*id);
  std::vector<uint8_t> data(uint64_t{n} * wire::kAduDataBytes, 0x3C);
  iovec iov{data.data(), data.size()};
  absl::StatusOr<WriteResult> w = domain->Write({.target = ByPlacement{PlacementId(0)},
                                                 .start = *UserAddress::Make(Lba(0), 1),
                                                 .data = {&iov, 1}});
  Check(w.ok(), "write");
  return w->addresses;
}

int Main(int argc, char** argv) {
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) seconds = std::atof(argv[i] + 10);
  }
  constexpr uint32_t kAdus = 4096;

  // Bare model: a second, identical RAM unit, prepared through a Unit, then driven with
  // encoded commands through a second transport over the same controller.
  absl::StatusOr<model::UnitConfig> config = model::LoadUnitConfig(kUnit);
  Check(config.ok(), "load unit config");
  absl::StatusOr<std::unique_ptr<model::Controller>> controller =
      model::Controller::Open({.config = *config});
  Check(controller.ok(), "open bare controller");
  std::shared_ptr<model::Controller> shared(std::move(*controller));
  absl::StatusOr<std::unique_ptr<Unit>> bare_unit = Unit::Open(MakeModelTransport(shared, "bare"));
  Check(bare_unit.ok(), "open bare unit");
  std::unique_ptr<QosDomain> bare_domain;
  const std::vector<FlashAddress> bare_addresses = Prepare(**bare_unit, bare_domain, kAdus);
  std::unique_ptr<Transport> bare_transport = MakeModelTransport(shared, "bare");
  Transport& bare = *bare_transport;
  const cmd::DomainFormat format{bare_domain->format(), bare_domain->placement_ids()};
  std::vector<uint8_t> buffer(wire::kAduDataBytes);
  iovec iov{buffer.data(), buffer.size()};
  const double bare_ns = NanosPerOp(seconds, [&](uint64_t i) {
    cmd::ReadRequest r;
    r.address = bare_addresses[i % kAdus];
    r.verify = *UserAddress::Make(Lba(i % kAdus), 1);
    r.data = {&iov, 1};
    absl::StatusOr<Command> c = cmd::Encode(r, format);
    bool ok = false;
    bare.Submit(*c, [&ok](TransportResult t) { ok = t.ok(); });
    Check(ok, "bare read");
  });

  absl::StatusOr<std::unique_ptr<Unit>> unit = Unit::Open(std::string("model:") + kUnit);
  Check(unit.ok(), "open HAL unit");
  std::unique_ptr<QosDomain> domain;
  const std::vector<FlashAddress> addresses = Prepare(**unit, domain, kAdus);
  const double qd1_ns = NanosPerOp(seconds, [&](uint64_t i) {
    Check(domain
              ->Read({.address = addresses[i % kAdus],
                      .verify = *UserAddress::Make(Lba(i % kAdus), 1),
                      .data = {&iov, 1}})
              .ok(),
          "HAL read");
  });

  constexpr int kDepth = 64;
  std::vector<std::vector<uint8_t>> buffers(kDepth, std::vector<uint8_t>(wire::kAduDataBytes));
  std::vector<iovec> iovs(kDepth);
  for (int i = 0; i < kDepth; ++i) iovs[i] = {buffers[i].data(), buffers[i].size()};
  std::atomic<int> in_flight{0};
  std::atomic<uint64_t> failures{0};
  const double qd64_ns = NanosPerOp(seconds, [&](uint64_t i) {
    while (in_flight.load(std::memory_order_acquire) >= kDepth) {
    }
    in_flight.fetch_add(1, std::memory_order_acq_rel);
    domain->ReadAsync({.address = addresses[i % kAdus],
                       .verify = *UserAddress::Make(Lba(i % kAdus), 1),
                       .data = {&iovs[i % kDepth], 1}},
                      [&](absl::Status s) {
                        if (!s.ok()) failures.fetch_add(1);
                        in_flight.fetch_sub(1, std::memory_order_acq_rel);
                      });
  });
  while (in_flight.load() != 0) {
  }
  Check(failures.load() == 0, "HAL async reads");

  std::printf(
      "HAL overhead over the bare device model (RAM, %s), 1-ADU verified reads, %.1f s each\n",
      kUnit, seconds);
  std::printf("%-28s %12s %16s\n", "path", "ns/command", "HAL overhead ns");
  std::printf("%-28s %12.0f %16s\n", "bare model (encode+submit)", bare_ns, "-");
  std::printf("%-28s %12.0f %16.0f\n", "HAL Read, QD1", qd1_ns, qd1_ns - bare_ns);
  std::printf("%-28s %12.0f %16.0f\n", "HAL ReadAsync, QD64", qd64_ns, qd64_ns - bare_ns);
  return 0;
}

}  // namespace
}  // namespace sef::hal

int main(int argc, char** argv) { return sef::hal::Main(argc, argv); }
