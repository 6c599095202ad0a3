// BlockDevice: the public face of the FTL engine (internal/ftl.h). The synchronous forms wait
// for the asynchronous ones; they refuse to run inside an FTL callback, where waiting could
// block the very thread that would complete them.
#include "sef/base/await.h"
#include "sef/base/status_macros.h"
#include "sef/ftl/ftl.h"
#include "sef/ftl/internal/ftl.h"

namespace sef::ftl {
namespace {

using internal::Ftl;

template <typename Start>
absl::Status Wait(const char* method, Start&& start) {
  SEF_RETURN_IF_ERROR(Ftl::CheckSynchronousCallAllowed(method));
  return Await<absl::Status>(std::forward<Start>(start));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlockDevice>> BlockDevice::Wrap(
    absl::StatusOr<std::unique_ptr<Ftl>> ftl) {
  if (!ftl.ok()) return ftl.status();
  return std::unique_ptr<BlockDevice>(new BlockDevice(*std::move(ftl)));
}

BlockDevice::BlockDevice(std::unique_ptr<internal::Ftl> ftl) : ftl_(std::move(ftl)) {}
BlockDevice::~BlockDevice() = default;

absl::StatusOr<std::unique_ptr<BlockDevice>> BlockDevice::Format(hal::Unit* unit,
                                                                 QosDomainId domain,
                                                                 const FormatOptions& options) {
  SEF_RETURN_IF_ERROR(Ftl::CheckSynchronousCallAllowed("BlockDevice::Format"));
  return Wrap(Ftl::Format(unit, domain, options));
}

absl::StatusOr<std::unique_ptr<BlockDevice>> BlockDevice::Mount(hal::Unit* unit, QosDomainId domain,
                                                                const MountOptions& options) {
  SEF_RETURN_IF_ERROR(Ftl::CheckSynchronousCallAllowed("BlockDevice::Mount"));
  return Wrap(Ftl::Mount(unit, domain, options));
}

absl::StatusOr<std::unique_ptr<BlockDevice>> BlockDevice::MountOrFormat(
    hal::Unit* unit, QosDomainId domain, const FormatOptions& format_options,
    const MountOptions& mount_options) {
  SEF_RETURN_IF_ERROR(Ftl::CheckSynchronousCallAllowed("BlockDevice::MountOrFormat"));
  return Wrap(Ftl::MountOrFormat(unit, domain, format_options, mount_options));
}

absl::Status BlockDevice::Unmount() { return ftl_->Unmount(); }
QosDomainId BlockDevice::domain() const { return ftl_->domain_id(); }
uint64_t BlockDevice::block_count() const { return ftl_->block_count(); }
Stats BlockDevice::GetStats() const { return ftl_->GetStats(); }

std::string BlockDevice::DebugState() const { return ftl_->DebugState(); }
absl::Status BlockDevice::WaitUntilMapLoaded() {
  SEF_RETURN_IF_ERROR(Ftl::CheckSynchronousCallAllowed("BlockDevice::WaitUntilMapLoaded"));
  return ftl_->WaitMapLoaded();
}
void BlockDevice::ResumeMapLoad() { ftl_->ResumeMapLoad(); }
absl::Status BlockDevice::DebugCheckValidCounts() {
  SEF_RETURN_IF_ERROR(Ftl::CheckSynchronousCallAllowed("BlockDevice::DebugCheckValidCounts"));
  return ftl_->DebugCheckValidCounts();
}

void BlockDevice::ReadAsync(Lba lba, uint32_t count, std::span<const iovec> data,
                            StatusCallback done) {
  ftl_->ReadAsync(lba, count, data, std::move(done));
}
void BlockDevice::WriteAsync(Lba lba, uint32_t count, std::span<const iovec> data, bool fua,
                             StatusCallback done) {
  ftl_->WriteAsync(lba, count, data, fua, std::move(done));
}
void BlockDevice::TrimAsync(Lba lba, uint64_t count, StatusCallback done) {
  ftl_->TrimAsync(lba, count, std::move(done));
}
void BlockDevice::FlushAsync(StatusCallback done) { ftl_->FlushAsync(std::move(done)); }

absl::Status BlockDevice::Read(Lba lba, uint32_t count, std::span<const iovec> data) {
  return Wait("BlockDevice::Read",
              [&](StatusCallback done) { ReadAsync(lba, count, data, std::move(done)); });
}
absl::Status BlockDevice::Write(Lba lba, uint32_t count, std::span<const iovec> data, bool fua) {
  return Wait("BlockDevice::Write",
              [&](StatusCallback done) { WriteAsync(lba, count, data, fua, std::move(done)); });
}
absl::Status BlockDevice::Trim(Lba lba, uint64_t count) {
  return Wait("BlockDevice::Trim",
              [&](StatusCallback done) { TrimAsync(lba, count, std::move(done)); });
}
absl::Status BlockDevice::Flush() {
  return Wait("BlockDevice::Flush", [&](StatusCallback done) { FlushAsync(std::move(done)); });
}
absl::Status BlockDevice::Checkpoint() { return ftl_->CheckpointNow(); }

}  // namespace sef::ftl
