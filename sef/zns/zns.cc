// ZonedNamespace: argument checks that need no zone, then the namespace's machinery
// (internal/namespace.h); the synchronous forms on top of the asynchronous ones.
#include "sef/zns/zns.h"

#include "absl/strings/str_format.h"
#include "sef/base/await.h"
#include "sef/base/iovec.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/wire.h"
#include "sef/zns/internal/namespace.h"
#include "sef/zns/internal/zone_state.h"

namespace sef::zns {

using internal::GenericStatus;
using internal::Namespace;

namespace {

namespace sc = wire::sc;

// The checks of QEMU's nvme_do_write / nvme_read that come before any zone's: the transfer
// matches the block count (the C++ API's own), the LBA range is in the namespace.
absl::Status CheckRange(const Geometry& g, const char* what, Lba lba, uint32_t blocks,
                        std::span<const iovec> data) {
  if (blocks == 0) {
    return Namespace::Refusal(GenericStatus(sc::kInvalidField),
                              absl::StrFormat("%s at LBA %u of 0 blocks", what, lba.value()));
  }
  if (IovecBytes(data) != uint64_t{blocks} * kBlockBytes) {
    return Namespace::Refusal(
        GenericStatus(sc::kInvalidField),
        absl::StrFormat("%s at LBA %u: data buffers hold %u bytes, %u blocks need %u", what,
                        lba.value(), IovecBytes(data), blocks, uint64_t{blocks} * kBlockBytes));
  }
  if (lba.value() >= g.blocks() || blocks > g.blocks() - lba.value()) {
    return Namespace::Refusal(
        GenericStatus(sc::kLbaOutOfRange),
        absl::StrFormat("%s of %u blocks at LBA %u: the namespace has %u blocks", what, blocks,
                        lba.value(), g.blocks()));
  }
  return absl::OkStatus();
}

template <typename T>
void Reject(T&& done, absl::Status s) {
  internal::CallbackScope scope;
  std::move(done)(std::move(s));
}

}  // namespace

const Geometry& ZonedNamespace::geometry() const { return impl_->geometry(); }
QosDomainId ZonedNamespace::domain() const { return impl_->domain_id(); }

void ZonedNamespace::ReadAsync(Lba lba, uint32_t blocks, std::span<const iovec> data,
                               StatusCallback done) {
  if (absl::Status s = CheckRange(geometry(), "Read", lba, blocks, data); !s.ok()) {
    return Reject(std::move(done), std::move(s));
  }
  impl_->Read(lba, blocks, data, std::move(done));
}

absl::Status ZonedNamespace::Read(Lba lba, uint32_t blocks, std::span<const iovec> data) {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::Read"));
  return Await<absl::Status>(
      [&](StatusCallback done) { ReadAsync(lba, blocks, data, std::move(done)); });
}

void ZonedNamespace::WriteAsync(Lba lba, uint32_t blocks, std::span<const iovec> data, bool fua,
                                StatusCallback done) {
  if (absl::Status s = CheckRange(geometry(), "Write", lba, blocks, data); !s.ok()) {
    return Reject(std::move(done), std::move(s));
  }
  impl_->Write(static_cast<uint32_t>(lba.value() >> geometry().zone_size_log2()), lba.value(),
               blocks, data, fua, /*append=*/false, std::move(done), nullptr);
}

absl::Status ZonedNamespace::Write(Lba lba, uint32_t blocks, std::span<const iovec> data,
                                   bool fua) {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::Write"));
  return Await<absl::Status>(
      [&](StatusCallback done) { WriteAsync(lba, blocks, data, fua, std::move(done)); });
}

void ZonedNamespace::AppendAsync(Lba zslba, uint32_t blocks, std::span<const iovec> data, bool fua,
                                 Callback<Lba> done) {
  if (absl::Status s = CheckRange(geometry(), "Zone Append", zslba, blocks, data); !s.ok()) {
    return Reject(std::move(done), std::move(s));
  }
  if (zslba.value() % geometry().zone_size != 0) {
    return Reject(std::move(done),
                  Namespace::Refusal(GenericStatus(sc::kInvalidField),
                                     absl::StrFormat("Zone Append at LBA %u: not the first LBA "
                                                     "of a zone (zone size %u)",
                                                     zslba.value(), geometry().zone_size)));
  }
  impl_->Write(static_cast<uint32_t>(zslba.value() >> geometry().zone_size_log2()), zslba.value(),
               blocks, data, fua, /*append=*/true, nullptr, std::move(done));
}

absl::StatusOr<Lba> ZonedNamespace::Append(Lba zslba, uint32_t blocks, std::span<const iovec> data,
                                           bool fua) {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::Append"));
  return Await<absl::StatusOr<Lba>>(
      [&](Callback<Lba> done) { AppendAsync(zslba, blocks, data, fua, std::move(done)); });
}

void ZonedNamespace::FlushAsync(StatusCallback done) { impl_->Flush(std::move(done)); }

absl::Status ZonedNamespace::Flush() {
  SEF_RETURN_IF_ERROR(internal::CallbackScope::CheckSynchronous("ZonedNamespace::Flush"));
  return Await<absl::Status>([&](StatusCallback done) { FlushAsync(std::move(done)); });
}

void ZonedNamespace::ZoneManagementSendAsync(ZoneAction action, Lba zslba, bool all,
                                             StatusCallback done) {
  const uint8_t raw = static_cast<uint8_t>(action);
  if (raw < static_cast<uint8_t>(ZoneAction::kClose) ||
      raw > static_cast<uint8_t>(ZoneAction::kOffline)) {
    return Reject(std::move(done), Namespace::Refusal(GenericStatus(sc::kInvalidField),
                                                      absl::StrFormat("Zone Management Send: "
                                                                      "zone send action 0x%02x "
                                                                      "is not supported",
                                                                      raw)));
  }
  if (!all) {
    if (zslba.value() >= geometry().blocks()) {
      return Reject(std::move(done),
                    Namespace::Refusal(GenericStatus(sc::kLbaOutOfRange),
                                       absl::StrFormat("Zone Management Send %s: LBA %u is "
                                                       "beyond the namespace's %u blocks",
                                                       ZoneActionName(action), zslba.value(),
                                                       geometry().blocks())));
    }
    if (zslba.value() % geometry().zone_size != 0) {
      return Reject(std::move(done),
                    Namespace::Refusal(GenericStatus(sc::kInvalidField),
                                       absl::StrFormat("Zone Management Send %s: LBA %u is not "
                                                       "the first LBA of a zone (zone size %u)",
                                                       ZoneActionName(action), zslba.value(),
                                                       geometry().zone_size)));
    }
  }
  impl_->ZoneManagementSend(action, zslba, all, std::move(done));
}

absl::Status ZonedNamespace::ZoneManagementSend(ZoneAction action, Lba zslba, bool all) {
  SEF_RETURN_IF_ERROR(
      internal::CallbackScope::CheckSynchronous("ZonedNamespace::ZoneManagementSend"));
  return Await<absl::Status>(
      [&](StatusCallback done) { ZoneManagementSendAsync(action, zslba, all, std::move(done)); });
}

absl::StatusOr<ZoneReport> ZonedNamespace::Report(Lba start, ReportFilter filter,
                                                  uint32_t max_zones, bool partial) const {
  return impl_->Report(start, filter, max_zones, partial);
}

}  // namespace sef::zns
