// Handlers of `backup qos-domain` and `restore qos-domain`: one file per super block
// (backup_format.h; docs/sef-cli.md "Backup files").
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "sef/base/crc32c.h"
#include "sef/base/status_macros.h"
#include "tools/sef_cli/backup_format.h"
#include "tools/sef_cli/cli.h"

namespace sef::cli {
namespace {

constexpr char kSuffix[] = ".sefbk";
constexpr uint32_t kAdu = wire::kAduDataBytes;

struct Record {
  BackupRecord head{};
  std::vector<uint8_t> data = std::vector<uint8_t>(kAdu);
};

absl::Status OsError(const std::string& what, const std::string& path) {
  return absl::Status(absl::ErrnoToStatusCode(errno),
                      absl::StrFormat("%s %s: %s", what, path, std::strerror(errno)));
}

absl::StatusOr<std::string> Directory(Context& c) {
  std::optional<std::string> dir = c.Get("path");
  if (!dir) {
    return UsageError(absl::StrFormat("%s qos-domain: --path DIR is required", c.command().action));
  }
  return *dir;
}

std::string Prefix(Context& c, QosDomainId id) {
  return c.Get("prefix").value_or(absl::StrFormat("domain%u-", id.value()));
}

// Reads ADUs [first, first + n) of `sb`; an ADU that does not read (padding, lost) is a hole.
absl::Status ReadRecords(hal::QosDomain& d, SuperBlockId sb, uint32_t first, uint32_t n,
                         const std::vector<UserAddress>& uas, std::vector<Record>& out) {
  std::vector<uint8_t> data(uint64_t{n} * kAdu), meta(uint64_t{n} * wire::kAduMetaBytes);
  SEF_ASSIGN_OR_RETURN(FlashAddress at, d.AddressOf(sb, AduOffset(first)));
  iovec iov{data.data(), data.size()};
  absl::Status s =
      d.Read({.address = at, .adus = AduCount(n), .data = {&iov, 1}, .metadata = meta});
  if (!s.ok() && n > 1) {  // find the ADUs that do not read, one by one
    for (uint32_t i = 0; i < n; ++i) {
      SEF_RETURN_IF_ERROR(ReadRecords(d, sb, first + i, 1, uas, out));
    }
    return absl::OkStatus();
  }
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
  for (uint32_t i = 0; i < n; ++i) {
    Record r;
    r.head.user_address = uas[first + i].raw();
    if (s.ok()) {
      std::memcpy(r.data.data(), data.data() + uint64_t{i} * kAdu, kAdu);
      std::memcpy(r.head.metadata, meta.data() + uint64_t{i} * wire::kAduMetaBytes,
                  wire::kAduMetaBytes);
    } else {
      r.head.flags = kBackupHole;
    }
    out.push_back(std::move(r));
  }
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, BackupHeader header,
                       const std::vector<Record>& records) {
  uint32_t crc = 0;
  for (const Record& r : records) {
    crc = Crc32c(&r.head, sizeof(r.head), crc);
    crc = Crc32c(r.data.data(), r.data.size(), crc);
  }
  header.records_crc = crc;
  header.header_crc = Crc32c(&header, offsetof(BackupHeader, header_crc));
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return OsError("cannot create", path);
  f.write(reinterpret_cast<const char*>(&header), sizeof(header));
  for (const Record& r : records) {
    f.write(reinterpret_cast<const char*>(&r.head), sizeof(r.head));
    f.write(reinterpret_cast<const char*>(r.data.data()), r.data.size());
  }
  f.flush();
  if (!f) return OsError("cannot write", path);
  return absl::OkStatus();
}

absl::Status ReadFile(const std::string& path, BackupHeader& header, std::vector<Record>& records) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return OsError("cannot open", path);
  const auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrFormat("%s is not a sef-cli backup: %s", path, why));
  };
  if (!f.read(reinterpret_cast<char*>(&header), sizeof(header))) return bad("short header");
  if (std::memcmp(header.magic, kBackupMagic, sizeof(kBackupMagic)) != 0) return bad("magic");
  if (header.version != kBackupVersion) {
    return bad(
        absl::StrFormat("version %u (this sef-cli reads %u)", header.version, kBackupVersion));
  }
  if (header.header_crc != Crc32c(&header, offsetof(BackupHeader, header_crc))) {
    return bad("header CRC mismatch");
  }
  if (header.header_bytes != sizeof(BackupHeader) ||
      header.record_bytes != sizeof(BackupRecord) + kAdu || header.adus > header.capacity_adus) {
    return bad("sizes");
  }
  uint32_t crc = 0;
  records.resize(header.adus);
  for (Record& r : records) {
    if (!f.read(reinterpret_cast<char*>(&r.head), sizeof(r.head)) ||
        !f.read(reinterpret_cast<char*>(r.data.data()), kAdu)) {
      return bad("short record");
    }
    crc = Crc32c(&r.head, sizeof(r.head), crc);
    crc = Crc32c(r.data.data(), r.data.size(), crc);
  }
  if (crc != header.records_crc) return bad("record CRC mismatch");
  return absl::OkStatus();
}

// Writes the records into `sb` from offset 0, in runs of consecutive user addresses.
absl::Status WriteRecords(hal::QosDomain& d, SuperBlockId sb, const std::vector<Record>& records) {
  const auto ua_of = [&](size_t i) {
    return (records[i].head.flags & kBackupHole)
               ? UserAddress::Ignore()
               : UserAddress::FromRaw(records[i].head.user_address);
  };
  for (size_t i = 0; i < records.size();) {
    size_t n = 1;
    const UserAddress start = ua_of(i);
    while (i + n < records.size() && n < d.max_adus_per_command() &&
           ua_of(i + n).raw() == (start.is_ignore() ? start.raw() : start.raw() + n)) {
      ++n;
    }
    std::vector<iovec> iov(n);
    std::vector<uint8_t> meta(n * wire::kAduMetaBytes);
    for (size_t k = 0; k < n; ++k) {
      iov[k] = {const_cast<uint8_t*>(records[i + k].data.data()), kAdu};
      std::memcpy(meta.data() + k * wire::kAduMetaBytes, records[i + k].head.metadata,
                  wire::kAduMetaBytes);
    }
    SEF_ASSIGN_OR_RETURN(hal::WriteResult r,
                         d.Write({.target = sb, .start = start, .data = iov, .metadata = meta}));
    if (r.not_written != 0) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "super block %u filled with %u ADUs of the backup left", sb.value(), r.not_written));
    }
    i += n;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DomainBackup(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::string dir, Directory(c));
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::QosDomain> d, unit->OpenQosDomain(id));
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> sbs, d->ListSuperBlocks());
  for (const hal::SuperBlockEntry& sb : sbs) {
    if (IsOpen(sb)) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "QoS domain %u of %s: super block %u is open; backup needs every super block closed",
          id.value(), unit->name(), sb.id.value()));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrFormat("cannot create %s: %s", dir, ec.message()));
  c.out["files"] = json::array();
  for (const hal::SuperBlockEntry& sb : sbs) {
    if (sb.state != hal::SuperBlockState::kClosed) continue;  // offline: nothing to read
    SEF_ASSIGN_OR_RETURN(hal::SuperBlockDetails details, d->GetSuperBlockInfo(sb.id));
    SEF_ASSIGN_OR_RETURN(std::vector<UserAddress> uas, d->GetUserAddressList(sb.id));
    uint32_t n = std::min<uint32_t>(details.written_adus, static_cast<uint32_t>(uas.size()));
    while (n > 0 && uas[n - 1].is_ignore()) --n;  // the padding of a closed SB
    std::vector<Record> records;
    for (uint32_t at = 0; at < n; at += d->max_adus_per_command()) {
      SEF_RETURN_IF_ERROR(
          ReadRecords(*d, sb.id, at, std::min(n - at, d->max_adus_per_command()), uas, records));
    }
    BackupHeader h{};
    std::memcpy(h.magic, kBackupMagic, sizeof(h.magic));
    h.version = kBackupVersion;
    h.header_bytes = sizeof(BackupHeader);
    h.record_bytes = sizeof(BackupRecord) + kAdu;
    h.domain = id.value();
    h.placement = details.placement.value();
    h.super_block = sb.id.value();
    h.capacity_adus = details.capacity_adus;
    h.adus = n;
    h.flags = details.pslc ? kBackupPslc : 0;
    const std::string path =
        absl::StrFormat("%s/%ssb%u%s", dir, Prefix(c, id), sb.id.value(), kSuffix);
    SEF_RETURN_IF_ERROR(WriteFile(path, h, records));
    c.out["files"].push_back({{"super_block", sb.id.value()}, {"adus", n}, {"file", path}});
    c.text += absl::StrFormat("super block %u: %u ADUs -> %s\n", sb.id.value(), n, path);
  }
  c.out["qos_domain"] = id.value();
  if (c.text.empty())
    c.text = absl::StrFormat("QoS domain %u holds no closed super block\n", id.value());
  return absl::OkStatus();
}

absl::Status DomainRestore(Context& c) {
  SEF_ASSIGN_OR_RETURN(std::string dir, Directory(c));
  SEF_ASSIGN_OR_RETURN(QosDomainId id, c.Domain());
  std::optional<std::string> prefix = c.Get("prefix");
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::EndsWith(name, kSuffix) && (!prefix || absl::StartsWith(name, *prefix))) {
      files.push_back(entry.path().string());
    }
  }
  if (ec) return absl::NotFoundError(absl::StrFormat("cannot read %s: %s", dir, ec.message()));
  if (files.empty()) {
    return absl::NotFoundError(absl::StrFormat("no backup files (*%s) in %s", kSuffix, dir));
  }
  std::sort(files.begin(), files.end());
  SEF_ASSIGN_OR_RETURN(hal::Unit * unit, c.Unit());
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<hal::QosDomain> d, unit->OpenQosDomain(id));
  SEF_ASSIGN_OR_RETURN(std::vector<hal::SuperBlockEntry> held, d->ListSuperBlocks());
  if (!held.empty()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "QoS domain %u of %s holds %u super block(s): restore needs an empty domain (sef-cli "
        "format qos-domain)",
        id.value(), unit->name(), held.size()));
  }
  c.out["super_blocks"] = json::array();
  for (const std::string& path : files) {
    BackupHeader h{};
    std::vector<Record> records;
    SEF_RETURN_IF_ERROR(ReadFile(path, h, records));
    const bool pslc = (h.flags & kBackupPslc) != 0;
    const uint32_t from = h.super_block, adus = h.adus;
    // The same super block when it is free, so that every flash address stays valid.
    absl::StatusOr<hal::SuperBlockAllocation> sb =
        d->AllocateSuperBlock({.pslc = pslc, .id = SuperBlockId(from)});
    if (!sb.ok()) sb = d->AllocateSuperBlock({.pslc = pslc});
    if (!sb.ok()) return sb.status();
    SEF_RETURN_IF_ERROR(WriteRecords(*d, sb->id, records));
    SEF_RETURN_IF_ERROR(d->CloseSuperBlock(sb->id).status());
    c.out["super_blocks"].push_back(
        {{"file", path}, {"from", from}, {"to", sb->id.value()}, {"adus", adus}});
    c.text += absl::StrFormat("%s: %u ADUs -> super block %u%s\n", path, adus, sb->id.value(),
                              sb->id.value() == from ? "" : " (addresses changed)");
  }
  return absl::OkStatus();
}

}  // namespace sef::cli
