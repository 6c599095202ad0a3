#include "sef/hal/model/testing/harness.h"

#include <chrono>
#include <cstring>
#include <future>
#include <memory>

#include "gtest/gtest.h"

namespace sef::model::testing {

UnitConfig LoadTestUnit(const std::string& name) {
  absl::StatusOr<UnitConfig> config = LoadUnitConfig("testdata/units/" + name + ".json");
  if (!config.ok()) {
    ADD_FAILURE() << config.status();
    return UnitConfig{};
  }
  return *config;
}

NvmeStatus Generic(uint8_t sc) { return NvmeStatus(0, sc, true); }
NvmeStatus CommandSpecific(uint8_t sc) { return NvmeStatus(1, sc, true); }
NvmeStatus Media(uint8_t sc) { return NvmeStatus(2, sc, true); }
NvmeStatus Vendor(uint8_t sc) { return NvmeStatus(7, sc, true); }

ModelHarness ModelHarness::Open(const std::string& name, const std::string& backing_file,
                                Clock* clock) {
  absl::StatusOr<std::unique_ptr<Controller>> unit = Controller::Open(
      {.config = LoadTestUnit(name), .backing_file = backing_file, .clock = clock});
  if (!unit.ok()) {
    ADD_FAILURE() << "opening unit " << name << ": " << unit.status();
    return ModelHarness(nullptr);
  }
  return ModelHarness(*std::move(unit));
}

ModelHarness ModelHarness::OpenWith(ControllerOptions options) {
  absl::StatusOr<std::unique_ptr<Controller>> unit = Controller::Open(std::move(options));
  if (!unit.ok()) {
    ADD_FAILURE() << "opening unit: " << unit.status();
    return ModelHarness(nullptr);
  }
  return ModelHarness(*std::move(unit));
}

ModelHarness::Slot ModelHarness::SubmitAsync(const Command& c) {
  Slot slot = std::make_shared<std::optional<Completion>>();
  unit_->Submit(c, [slot](Completion done) { *slot = done; });
  return slot;
}

ModelHarness::Slot ModelHarness::SubmitAsync(const cmd::AdminRequest& r) {
  absl::StatusOr<Command> c = cmd::Encode(r);
  if (!c.ok()) {
    ADD_FAILURE() << "encoding: " << c.status();
    return std::make_shared<std::optional<Completion>>();
  }
  return SubmitAsync(*c);
}

ModelHarness::Slot ModelHarness::SubmitAsync(const cmd::IoRequest& r, const cmd::DomainFormat& f) {
  absl::StatusOr<Command> c = cmd::Encode(r, f);
  if (!c.ok()) {
    ADD_FAILURE() << "encoding: " << c.status();
    return std::make_shared<std::optional<Completion>>();
  }
  return SubmitAsync(*c);
}

ModelHarness::Slot ModelHarness::SubmitAer() {
  Command c;
  c.queue = QueueType::kAdmin;
  c.sqe.opcode = static_cast<uint8_t>(wire::AdminOpcode::kAsyncEventRequest);
  return SubmitAsync(c);
}

Completion ModelHarness::Admin(const cmd::AdminRequest& r) {
  absl::StatusOr<Command> c = cmd::Encode(r);
  if (!c.ok()) {
    ADD_FAILURE() << "encoding: " << c.status();
    return Completion{0, NvmeStatus::FromRaw(0x7FFF)};
  }
  return unit_->Execute(*c);
}

Completion ModelHarness::Io(const cmd::IoRequest& r, const cmd::DomainFormat& f) {
  absl::StatusOr<Command> c = cmd::Encode(r, f);
  if (!c.ok()) {
    ADD_FAILURE() << "encoding: " << c.status();
    return Completion{0, NvmeStatus::FromRaw(0x7FFF)};
  }
  return unit_->Execute(*c);
}

void ModelHarness::CreateVirtualDevice(VirtualDeviceId vd, std::vector<uint16_t> dies,
                                       uint16_t dies_per_sb, uint16_t config_id) {
  cmd::CapacityConfig config;
  config.id = config_id;
  cmd::VdDies v{vd, {}};
  for (uint16_t die : dies) v.dies.push_back(cmd::DieId(die));
  config.vds.push_back(v);
  std::vector<uint8_t> payload(4096);
  EXPECT_TRUE(
      Admin(cmd::SetCapacityConfigRequest{config, cmd::MutableBytes::Of(payload)}).status.ok());
  EXPECT_TRUE(Admin(cmd::SelectCapacityConfigRequest{config_id}).status.ok());
  EXPECT_TRUE(Admin(cmd::SetDiesPerSuperBlockRequest{vd, dies_per_sb}).status.ok());
}

wire::VdInfoLogHeader ModelHarness::VdInfo(VirtualDeviceId vd) {
  std::vector<uint8_t> buf(4096);
  const Completion c = Admin(cmd::VdInfoLogRequest{vd, false, cmd::MutableBytes::Of(buf)});
  EXPECT_TRUE(c.status.ok()) << c.status;
  wire::VdInfoLogHeader h;
  std::memcpy(&h, buf.data(), sizeof(h));
  return h;
}

wire::IdentifySefNamespace ModelHarness::NamespaceInfo(QosDomainId d) {
  auto ns = std::make_unique<wire::IdentifySefNamespace>();
  std::vector<uint8_t> buf(4096);
  const Completion c = Admin(cmd::IdentifySefNamespaceRequest{d, cmd::MutableBytes::Of(buf)});
  EXPECT_TRUE(c.status.ok()) << c.status;
  std::memcpy(ns.get(), buf.data(), sizeof(*ns));
  return *ns;
}

wire::SbInfoLog ModelHarness::SbInfo(VirtualDeviceId vd, SuperBlockId sb) {
  wire::SbInfoLog info{};
  std::vector<uint8_t> buf(sizeof(info));
  const Completion c =
      Admin(cmd::SuperBlockInfoLogRequest{vd, sb, false, cmd::MutableBytes::Of(buf)});
  EXPECT_TRUE(c.status.ok()) << c.status;
  std::memcpy(&info, buf.data(), sizeof(info));
  return info;
}

cmd::QosDomainSpec ModelHarness::DefaultSpec(VirtualDeviceId vd) {
  const wire::VdInfoLogHeader info = VdInfo(vd);
  cmd::QosDomainSpec spec;
  spec.vd = vd;
  spec.capacity = PlanePageCount(info.vdcap / 2);
  spec.quota = PlanePageCount(info.vdcap / 2);
  spec.num_placement_ids = 2;
  spec.max_open_super_blocks = 4;
  return spec;
}

QosDomainId ModelHarness::CreateDomain(const cmd::QosDomainSpec& spec) {
  std::vector<uint8_t> payload(4096);
  const Completion created =
      Admin(cmd::CreateQosDomainRequest{spec, cmd::MutableBytes::Of(payload)});
  if (!created.status.ok()) {
    ADD_FAILURE() << "create QoS domain: " << created.status;
    return QosDomainId(0);
  }
  const QosDomainId d = cmd::CreateQosDomainResult::FromResult(created.result).domain;
  std::vector<uint8_t> list(4096);
  const Completion attached = Admin(
      cmd::AttachQosDomainRequest{d, cmd::AttachAction::kAttach, 0, cmd::MutableBytes::Of(list)});
  EXPECT_TRUE(attached.status.ok()) << attached.status;
  return d;
}

cmd::DomainFormat ModelHarness::FormatOf(QosDomainId d) {
  if (auto it = pinned_.find(d.value()); it != pinned_.end()) return it->second;
  const wire::IdentifySefNamespace ns = NamespaceInfo(d);
  const wire::VdInfoLogHeader vd = VdInfo(VirtualDeviceId(ns.endgid));
  return {{static_cast<uint8_t>(vd.sbbw + 1), static_cast<uint8_t>(vd.aobw + 1)},
          uint32_t{ns.nplid} + 1};
}

ModelHarness::Erased ModelHarness::Erase(QosDomainId d, SuperBlockId sb, bool pslc) {
  Erased e;
  e.completion = Io(
      cmd::SuperBlockManagementRequest{
          d, pslc ? wire::SbOperation::kPslcErase : wire::SbOperation::kErase, sb, 0, {}},
      FormatOf(d));
  const cmd::EraseResult r = cmd::EraseResult::FromResult(e.completion.result);
  e.sb = r.sb;
  e.capacity = r.writable_adus.value();
  return e;
}

Completion ModelHarness::SuperBlockOp(QosDomainId d, wire::SbOperation op, SuperBlockId sb) {
  return Io(cmd::SuperBlockManagementRequest{d, op, sb, 0, {}}, FormatOf(d));
}

ModelHarness::Written ModelHarness::Write(QosDomainId d, cmd::WriteTarget target, Lba lba,
                                          uint32_t adus, bool fua) {
  Written w;
  const cmd::DomainFormat f = FormatOf(d);
  std::vector<uint8_t> data(uint64_t{adus} * wire::kAduDataBytes);
  std::vector<uint8_t> meta(uint64_t{adus} * wire::kAduMetaBytes);
  for (uint32_t i = 0; i < adus; ++i) {
    std::memset(data.data() + uint64_t{i} * wire::kAduDataBytes, Pattern(lba.value() + i),
                wire::kAduDataBytes);
    std::memset(meta.data() + uint64_t{i} * wire::kAduMetaBytes, Pattern(lba.value() + i) ^ 0xFF,
                wire::kAduMetaBytes);
  }
  iovec iov{data.data(), data.size()};
  const uint32_t id = NextPairId();
  cmd::FlashAddressRequest far;
  far.domain = d;
  if (const auto* by = std::get_if<cmd::ByPlacement>(&target)) {
    far.target = by->placement;
  } else {
    far.target = std::get<SuperBlockId>(target);
  }
  far.nlwid = id;
  std::vector<uint8_t> arr(sizeof(wire::AddressRequestResponse));
  far.arr = cmd::MutableBytes::Of(arr);
  cmd::NamelessWriteRequest nlw;
  nlw.domain = d;
  nlw.target = target;
  nlw.start = *UserAddress::Make(lba, 0x5EF);
  nlw.adus = AduCount(adus);
  nlw.fua = fua;
  nlw.nlwid = id;
  nlw.data = {&iov, 1};
  nlw.metadata = cmd::ConstBytes::Of(meta);
  absl::StatusOr<Command> far_cmd = cmd::Encode(far, f);
  absl::StatusOr<Command> nlw_cmd = cmd::Encode(nlw, f);
  if (!far_cmd.ok() || !nlw_cmd.ok()) {
    ADD_FAILURE() << "encoding write: " << far_cmd.status() << " / " << nlw_cmd.status();
    return w;
  }
  std::promise<Completion> far_done;
  std::future<Completion> far_future = far_done.get_future();
  unit_->Submit(*far_cmd, [&far_done](Completion c) { far_done.set_value(c); });
  w.nlw = unit_->Execute(*nlw_cmd);
  if (far_future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ADD_FAILURE() << "the FAR was not completed by its NLW";
    return w;
  }
  w.far = far_future.get();
  std::memcpy(&w.arr, arr.data(), sizeof(w.arr));
  for (uint32_t e = 0; e < w.arr.nsb && e < wire::kMaxArrExtents; ++e) {
    for (uint32_t j = 0; j < w.arr.sbis[e].nfla; ++j) {
      w.addresses.push_back(FlashAddress::FromRaw(w.arr.sbis[e].sfla + j));
    }
  }
  return w;
}

Completion ModelHarness::Read(FlashAddress a, uint32_t adus, std::vector<uint8_t>* data,
                              UserAddress verify, std::vector<uint8_t>* metadata) {
  std::vector<uint8_t> scratch;
  if (data == nullptr) data = &scratch;
  data->assign(uint64_t{adus} * wire::kAduDataBytes, 0);
  iovec iov{data->data(), data->size()};
  cmd::ReadRequest r;
  r.address = a;
  r.adus = AduCount(adus);
  r.verify = verify;
  r.data = {&iov, 1};
  if (metadata != nullptr) {
    metadata->assign(uint64_t{adus} * wire::kAduMetaBytes, 0);
    r.metadata = cmd::MutableBytes::Of(*metadata);
  }
  return Io(r, FormatOf(a.domain()));
}

ModelHarness::Copied ModelHarness::Copy(QosDomainId dest, SuperBlockId dest_sb,
                                        const cmd::CopySource& source,
                                        std::optional<cmd::UserAddressFilter> filter,
                                        uint32_t acr_entries, bool fua) {
  Copied out;
  const cmd::DomainFormat f = FormatOf(dest);
  const uint32_t id = NextPairId();
  std::vector<uint8_t> payload(24 + 8 * 0x10000);
  cmd::NamelessCopyRequest nlc{
      dest, dest_sb, source, filter, id, 0, cmd::MutableBytes::Of(payload)};
  std::vector<uint8_t> acr(sizeof(wire::AcrHeader) + acr_entries * sizeof(wire::AddressChange));
  cmd::GetCopyResultRequest gcr{dest, id, fua, cmd::MutableBytes::Of(acr)};
  absl::StatusOr<Command> nlc_cmd = cmd::Encode(nlc, f);
  absl::StatusOr<Command> gcr_cmd = cmd::Encode(gcr, f);
  if (!nlc_cmd.ok() || !gcr_cmd.ok()) {
    ADD_FAILURE() << "encoding copy: " << nlc_cmd.status() << " / " << gcr_cmd.status();
    return out;
  }
  std::promise<Completion> nlc_done;
  std::future<Completion> nlc_future = nlc_done.get_future();
  unit_->Submit(*nlc_cmd, [&nlc_done](Completion c) { nlc_done.set_value(c); });
  out.gcr = unit_->Execute(*gcr_cmd);
  if (nlc_future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    ADD_FAILURE() << "the NLC was not completed by its GCR";
    return out;
  }
  out.nlc = nlc_future.get();
  std::memcpy(&out.header, acr.data(), sizeof(out.header));
  for (uint32_t i = 0; i < out.header.processed_adus && i < acr_entries; ++i) {
    wire::AddressChange change;
    std::memcpy(&change, acr.data() + sizeof(out.header) + i * sizeof(change), sizeof(change));
    if (change.ua == 0 && change.ofa == 0 && change.nfa == 0) break;
    out.changes.push_back(change);
  }
  return out;
}

bool HoldsPattern(const std::vector<uint8_t>& data, uint64_t first_lba) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != ModelHarness::Pattern(first_lba + i / wire::kAduDataBytes)) return false;
  }
  return true;
}

}  // namespace sef::model::testing
