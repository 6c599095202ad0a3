#include "sef/hal/model/internal/media.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "sef/base/crc32c.h"
#include "sef/base/status_macros.h"

namespace sef::model::internal {
namespace {

constexpr uint64_t kPage = 4096;

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }
uint32_t SlotBytes(uint32_t payload) {
  return static_cast<uint32_t>(sizeof(SlotHeader) + RoundUp(payload, 8));
}

absl::Status OsError(const std::string& what, const std::string& path) {
  const int e = errno;
  return absl::Status(e == ENOENT   ? absl::StatusCode::kNotFound
                      : e == EACCES ? absl::StatusCode::kPermissionDenied
                                    : absl::StatusCode::kInternal,
                      absl::StrFormat("%s %s: %s", what, path, std::strerror(e)));
}

uint32_t SlotCrc(const SlotHeader& h, const uint8_t* payload) {
  uint32_t crc = Crc32c(&h.generation, sizeof(h.generation));
  crc = Crc32c(&h.bytes, sizeof(h.bytes), crc);
  return Crc32c(payload, h.bytes, crc);
}

uint32_t HeaderCrc(const FileHeader& h) {
  FileHeader copy = h;
  copy.crc = 0;
  return Crc32c(&copy, sizeof(copy));
}

// Where everything lives, derived from the config alone.
FileHeader Layout(const UnitConfig& config, const std::string& json) {
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = kFormatVersion;
  h.unit_slot_bytes = SlotBytes(UnitStateBytes(config));
  h.domain_slot_bytes = SlotBytes(sizeof(DomainRecord));
  h.sb_slot_bytes = SlotBytes(sizeof(SbRecord));
  h.unit_record_offset = kHeaderBytes;
  h.domain_records_offset = h.unit_record_offset + 2ull * h.unit_slot_bytes;
  h.sb_records_offset =
      h.domain_records_offset + 2ull * h.domain_slot_bytes * config.max_qos_domains;
  const uint64_t blocks = uint64_t{config.dies()} * config.blocks_per_die;
  h.physical_adus = config.total_adus();
  h.adu_info_offset = RoundUp(h.sb_records_offset + 2ull * h.sb_slot_bytes * blocks, kPage);
  h.data_offset = RoundUp(h.adu_info_offset + h.physical_adus * sizeof(AduInfo), kPage);
  h.file_bytes = h.data_offset + h.physical_adus * wire::kAduDataBytes;
  h.config_json_bytes = static_cast<uint32_t>(json.size());
  std::memcpy(h.config_json, json.data(), json.size());
  h.crc = HeaderCrc(h);
  return h;
}

// A version-1 header matches `layout` (version 2) when the regions are where version 2 puts
// them and it records the same configuration, version 1 having had no "write_cache" (the
// migrated file takes the one asked for).
bool SameLayoutVersion1(const FileHeader& v1, const FileHeader& layout, const UnitConfig& config) {
  const bool same_regions =
      v1.file_bytes == layout.file_bytes && v1.unit_record_offset == layout.unit_record_offset &&
      v1.unit_slot_bytes == layout.unit_slot_bytes &&
      v1.domain_slot_bytes == layout.domain_slot_bytes &&
      v1.domain_records_offset == layout.domain_records_offset &&
      v1.sb_records_offset == layout.sb_records_offset &&
      v1.sb_slot_bytes == layout.sb_slot_bytes && v1.adu_info_offset == layout.adu_info_offset &&
      v1.data_offset == layout.data_offset && v1.physical_adus == layout.physical_adus;
  if (!same_regions || v1.config_json_bytes > sizeof(v1.config_json)) return false;
  absl::StatusOr<UnitConfig> recorded =
      ParseUnitConfig(std::string_view(v1.config_json, v1.config_json_bytes));
  if (!recorded.ok()) return false;
  recorded->write_cache = config.write_cache;
  return UnitConfigToJson(*recorded) == UnitConfigToJson(config);
}

}  // namespace

uint32_t UnitStateBytes(const UnitConfig& config) {
  return static_cast<uint32_t>(sizeof(UnitStateHeader) + config.dies() * sizeof(VdSettings) +
                               config.dies() * sizeof(uint16_t) +
                               config.read_fifos * sizeof(FifoSettings));
}

absl::StatusOr<std::unique_ptr<Media>> Media::Open(const UnitConfig& config,
                                                   const std::string& path) {
  const std::string json = UnitConfigToJson(config);
  if (json.size() > sizeof(FileHeader::config_json)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unit configuration '%s' is %u bytes of JSON; the file header holds %u",
                        config.name, json.size(), sizeof(FileHeader::config_json)));
  }
  const FileHeader layout = Layout(config, json);
  std::unique_ptr<Media> m(new Media());
  m->path_ = path;
  if (path.empty()) {
    void* p = mmap(nullptr, layout.file_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return OsError("cannot map RAM for unit", config.name);
    m->base_ = static_cast<uint8_t*>(p);
    m->bytes_ = layout.file_bytes;
    m->created_ = true;
    std::memcpy(m->base_, &layout, sizeof(layout));
  } else {
    m->fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m->fd_ < 0) return OsError("cannot open backing file", path);
    if (flock(m->fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrFormat("backing file %s is in use by another SEF model (it is locked)", path));
      }
      return OsError("cannot lock backing file", path);
    }
    struct stat st;
    if (fstat(m->fd_, &st) != 0) return OsError("cannot stat backing file", path);
    if (st.st_size == 0) {
      if (ftruncate(m->fd_, static_cast<off_t>(layout.file_bytes)) != 0) {
        return OsError(absl::StrFormat("cannot size backing file to %u bytes", layout.file_bytes),
                       path);
      }
      if (pwrite(m->fd_, &layout, sizeof(layout), 0) != static_cast<ssize_t>(sizeof(layout))) {
        return OsError("cannot write the header of backing file", path);
      }
      m->created_ = true;
    } else {
      FileHeader existing;
      if (st.st_size < static_cast<off_t>(sizeof(existing)) ||
          pread(m->fd_, &existing, sizeof(existing), 0) != static_cast<ssize_t>(sizeof(existing))) {
        return absl::FailedPreconditionError(
            absl::StrFormat("%s is not a SEF model backing file (too short)", path));
      }
      if (std::memcmp(existing.magic, kMagic, sizeof(kMagic)) != 0) {
        return absl::FailedPreconditionError(
            absl::StrFormat("%s is not a SEF model backing file (bad magic)", path));
      }
      if (existing.version != kFormatVersion &&
          existing.version != kFormatVersionWithoutDurability) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "%s has format version %u; this build reads version %u (and migrates version %u)", path,
            existing.version, kFormatVersion, kFormatVersionWithoutDurability));
      }
      if (HeaderCrc(existing) != existing.crc) {
        return absl::DataLossError(absl::StrFormat("%s: header CRC mismatch", path));
      }
      const bool migrate = existing.version == kFormatVersionWithoutDurability;
      if (migrate ? !SameLayoutVersion1(existing, layout, config)
                  : std::memcmp(&existing, &layout, sizeof(layout)) != 0) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "%s was created for another unit configuration (%.*s); open it with that "
            "configuration or use a new file",
            path, std::min<uint32_t>(existing.config_json_bytes, 200), existing.config_json));
      }
      if (static_cast<uint64_t>(st.st_size) != layout.file_bytes) {
        return absl::DataLossError(absl::StrFormat("%s is %u bytes; the header says %u", path,
                                                   st.st_size, layout.file_bytes));
      }
      // Version 1 had the same layout, so migrating is rewriting the header. The file was made
      // without a volatile cache: its unit state says "not in use" (flags 0), so the next
      // recovery counts every ADU as durable. One page written at once: a crash leaves either
      // header, and both open.
      if (migrate &&
          (pwrite(m->fd_, &layout, sizeof(layout), 0) != static_cast<ssize_t>(sizeof(layout)) ||
           fdatasync(m->fd_) != 0)) {
        return OsError("cannot rewrite the version-1 header of backing file", path);
      }
    }
    void* p = mmap(nullptr, layout.file_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd_, 0);
    if (p == MAP_FAILED) return OsError("cannot map backing file", path);
    m->base_ = static_cast<uint8_t*>(p);
    m->bytes_ = layout.file_bytes;
  }
  m->header_ = reinterpret_cast<FileHeader*>(m->base_);
  m->info_ = reinterpret_cast<AduInfo*>(m->base_ + layout.adu_info_offset);
  m->data_ = m->base_ + layout.data_offset;
  m->unit_slot_bytes_ = layout.unit_slot_bytes;
  m->domain_slot_bytes_ = layout.domain_slot_bytes;
  m->sb_slot_bytes_ = layout.sb_slot_bytes;
  m->unit_state_bytes_ = UnitStateBytes(config);
  m->domain_generation_.assign(config.max_qos_domains, 0);
  m->sb_generation_.assign(uint64_t{config.dies()} * config.blocks_per_die, 0);
  return m;
}

Media::~Media() {
  if (base_ != nullptr) {
    if (fd_ >= 0) msync(base_, bytes_, MS_SYNC);
    munmap(base_, bytes_);
  }
  if (fd_ >= 0) close(fd_);  // releases the flock
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> Media::ReadPair(uint8_t* pair,
                                                                    uint32_t slot_bytes,
                                                                    uint32_t payload_bytes,
                                                                    uint64_t* generation,
                                                                    const std::string& what) {
  const uint8_t* best = nullptr;
  SlotHeader best_header{};
  bool torn = false;
  for (int i = 0; i < 2; ++i) {
    const uint8_t* slot = pair + i * slot_bytes;
    SlotHeader h;
    std::memcpy(&h, slot, sizeof(h));
    if (h.generation == 0) continue;
    if (h.bytes != payload_bytes || h.bytes > slot_bytes - sizeof(SlotHeader) ||
        SlotCrc(h, slot + sizeof(h)) != h.crc) {
      torn = true;
      continue;
    }
    if (best == nullptr || h.generation > best_header.generation) {
      best = slot;
      best_header = h;
    }
  }
  if (best == nullptr) {
    // Both slots torn can only mean corruption: a crash tears at most the slot being written,
    // and the first write of a record leaves the other slot never-written (generation 0).
    int written = 0;
    for (int i = 0; i < 2; ++i) {
      SlotHeader h;
      std::memcpy(&h, pair + i * slot_bytes, sizeof(h));
      written += h.generation != 0;
    }
    if (torn && written == 2) {
      return absl::DataLossError(
          absl::StrFormat("%s: %s has no valid copy (both slots fail their CRC)", path_, what));
    }
    return std::optional<std::vector<uint8_t>>();
  }
  *generation = best_header.generation;
  return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(
      best + sizeof(SlotHeader), best + sizeof(SlotHeader) + best_header.bytes));
}

void Media::WritePair(uint8_t* pair, uint32_t slot_bytes, uint64_t* generation, const void* payload,
                      uint32_t bytes) {
  // The newest copy is in slot (generation % 2); write the other one.
  const uint64_t next = *generation + 1;
  uint8_t* slot = pair + (next % 2) * slot_bytes;
  SlotHeader h{};
  std::memcpy(slot + sizeof(h), payload, bytes);
  // The header (with generation and CRC) is stored after the payload, also for the compiler.
  std::atomic_signal_fence(std::memory_order_release);
  h.generation = next;
  h.bytes = bytes;
  h.crc = SlotCrc(h, slot + sizeof(h));
  std::memcpy(slot, &h, sizeof(h));
  *generation = next;
}

absl::StatusOr<std::vector<uint8_t>> Media::ReadUnitState() {
  SEF_ASSIGN_OR_RETURN(auto payload,
                       ReadPair(base_ + header_->unit_record_offset, unit_slot_bytes_,
                                unit_state_bytes_, &unit_generation_, "the unit state record"));
  return payload.value_or(std::vector<uint8_t>());
}

void Media::WriteUnitState(std::vector<uint8_t> payload) {
  payload.resize(std::max<size_t>(payload.size(), sizeof(UnitStateHeader)));
  payload[offsetof(UnitStateHeader, flags)] = in_use_ ? kUnitFlagInUse : 0;
  WritePair(base_ + header_->unit_record_offset, unit_slot_bytes_, &unit_generation_,
            payload.data(), static_cast<uint32_t>(payload.size()));
}

absl::Status Media::SetInUse(bool in_use) {
  SEF_ASSIGN_OR_RETURN(std::vector<uint8_t> payload, ReadUnitState());
  if (payload.empty()) payload.assign(unit_state_bytes_, 0);
  in_use_ = in_use;
  WriteUnitState(std::move(payload));
  if (fd_ >= 0) {
    const uint64_t from = header_->unit_record_offset / kPage * kPage;
    msync(base_ + from, header_->domain_records_offset - from, MS_SYNC);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<DomainRecord>> Media::ReadDomain(uint32_t index) {
  SEF_ASSIGN_OR_RETURN(
      auto payload,
      ReadPair(base_ + header_->domain_records_offset + 2ull * domain_slot_bytes_ * index,
               domain_slot_bytes_, sizeof(DomainRecord), &domain_generation_[index],
               absl::StrFormat("the record of QoS domain %u", index + 1)));
  if (!payload.has_value()) return std::optional<DomainRecord>();
  DomainRecord r{};
  std::memcpy(&r, payload->data(), std::min(payload->size(), sizeof(r)));
  return std::optional<DomainRecord>(r);
}

void Media::WriteDomain(uint32_t index, const DomainRecord& record) {
  WritePair(base_ + header_->domain_records_offset + 2ull * domain_slot_bytes_ * index,
            domain_slot_bytes_, &domain_generation_[index], &record, sizeof(record));
}

absl::StatusOr<std::optional<SbRecord>> Media::ReadSb(uint64_t slot) {
  SEF_ASSIGN_OR_RETURN(auto payload,
                       ReadPair(base_ + header_->sb_records_offset + 2ull * sb_slot_bytes_ * slot,
                                sb_slot_bytes_, sizeof(SbRecord), &sb_generation_[slot],
                                absl::StrFormat("the super block record at block slot %u", slot)));
  if (!payload.has_value()) return std::optional<SbRecord>();
  SbRecord r{};
  std::memcpy(&r, payload->data(), std::min(payload->size(), sizeof(r)));
  return std::optional<SbRecord>(r);
}

void Media::WriteSb(uint64_t slot, const SbRecord& record) {
  WritePair(base_ + header_->sb_records_offset + 2ull * sb_slot_bytes_ * slot, sb_slot_bytes_,
            &sb_generation_[slot], &record, sizeof(record));
}

void Media::WriteData(uint64_t physical_adu, const uint8_t* src) {
  iovec one{const_cast<uint8_t*>(src), wire::kAduDataBytes};
  WriteData(physical_adu, 1, std::span<iovec>(&one, 1));
}

void Media::WriteData(uint64_t first_physical_adu, uint32_t adus, std::span<iovec> pieces) {
  uint8_t* dst = data(first_physical_adu);
  const size_t bytes = size_t{adus} * wire::kAduDataBytes;
  size_t done = 0;
  size_t at = 0;  // the first piece not wholly stored
  if (fd_ >= 0) {
    const off_t offset = static_cast<off_t>(dst - base_);
    while (done < bytes && at < pieces.size()) {
      const int count = static_cast<int>(std::min<size_t>(pieces.size() - at, IOV_MAX));
      const ssize_t n = pwritev(fd_, &pieces[at], count, offset + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
      for (size_t left = static_cast<size_t>(n); left > 0;) {
        if (left >= pieces[at].iov_len) {
          left -= pieces[at].iov_len;
          ++at;
        } else {
          pieces[at].iov_base = static_cast<uint8_t*>(pieces[at].iov_base) + left;
          pieces[at].iov_len -= left;
          left = 0;
        }
      }
    }
  }
  // A RAM unit, or what pwritev did not store (e.g. ENOSPC): through the mapping, whose
  // failure is the mapping's (SIGBUS), so a write is never acknowledged without its data.
  for (; at < pieces.size() && done < bytes; ++at) {
    const size_t n = std::min(pieces[at].iov_len, bytes - done);
    std::memmove(dst + done, pieces[at].iov_base, n);
    done += n;
  }
  if (done < bytes) std::memset(dst + done, 0, bytes - done);
}

void Media::WriteBack(uint64_t first_physical_adu, uint64_t count) {
  if (fd_ < 0 || count == 0) return;
  // msync of each range would commit ext4's journal and flush the disk's cache once per
  // range (2 per die an SB spans, then the record's): most of a flush's cost when the block
  // FTL collects garbage. A failure here shows in the SyncSb that follows (same file).
  const auto write_back = [this](const uint8_t* begin, const uint8_t* end) {
    const uint64_t from = (begin - base_) / kPage * kPage;
    const uint64_t to = end - base_;
    while (sync_file_range(fd_, static_cast<off_t>(from), static_cast<off_t>(to - from),
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                               SYNC_FILE_RANGE_WAIT_AFTER) != 0 &&
           errno == EINTR) {
    }
  };
  write_back(data(first_physical_adu), data(first_physical_adu + count));
  write_back(reinterpret_cast<uint8_t*>(info(first_physical_adu)),
             reinterpret_cast<uint8_t*>(info(first_physical_adu + count)));
}

void Media::SyncSb(uint64_t slot) {
  if (fd_ < 0) return;
  const uint64_t at = header_->sb_records_offset + 2ull * sb_slot_bytes_ * slot;
  const uint64_t from = at / kPage * kPage;
  msync(base_ + from, at + 2ull * sb_slot_bytes_ - from, MS_SYNC);
}

void Media::SyncAll() {
  if (fd_ >= 0) msync(base_, bytes_, MS_SYNC);
}

}  // namespace sef::model::internal
