// The model's storage: one memory mapping laid out as internal/format.h describes. RAM units
// map anonymous memory (pages appear when first touched); file-backed units map the file
// shared, so every store is in the page cache at once and survives a crash of the process.
//
// Thread-safety: record reads/writes and ADU accesses are not synchronised here; the
// controller serialises them (an SB's records and ADUs under its domain's lock, the unit and
// domain records under the topology lock).
#ifndef SEF_HAL_MODEL_INTERNAL_MEDIA_H_
#define SEF_HAL_MODEL_INTERNAL_MEDIA_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sef/hal/model/internal/format.h"
#include "sef/hal/model/unit_config.h"

namespace sef::model::internal {

class Media {
 public:
  // Creates or reopens. Errors: see Controller::Open.
  static absl::StatusOr<std::unique_ptr<Media>> Open(const UnitConfig& config,
                                                     const std::string& path);
  ~Media();  // msync (file), unlock, unmap
  Media(const Media&) = delete;
  Media& operator=(const Media&) = delete;

  bool created() const { return created_; }  // false: reopened an existing file
  bool file_backed() const { return fd_ >= 0; }

  // The unit state record: empty when never written. A write stores the in-use flag
  // (UnitStateHeader::flags) as SetInUse last set it, whatever `payload` holds there.
  absl::StatusOr<std::vector<uint8_t>> ReadUnitState();
  void WriteUnitState(std::vector<uint8_t> payload);
  // Sets the unit's in-use flag in its state record (and msyncs it). Set while the unit is
  // open and powered; found set by the next opener, it means a power cut. Errors: DataLoss
  // (the record is corrupt).
  absl::Status SetInUse(bool in_use);

  absl::StatusOr<std::optional<DomainRecord>> ReadDomain(uint32_t index);
  void WriteDomain(uint32_t index, const DomainRecord& record);

  // Physical block slot = die * blocks_per_die + block.
  absl::StatusOr<std::optional<SbRecord>> ReadSb(uint64_t slot);
  void WriteSb(uint64_t slot, const SbRecord& record);

  AduInfo* info(uint64_t physical_adu) { return info_ + physical_adu; }
  uint8_t* data(uint64_t physical_adu) { return data_ + physical_adu * wire::kAduDataBytes; }
  // Stores `adus` physically consecutive ADUs' data from `pieces`, which hold exactly
  // adus * wire::kAduDataBytes bytes (a short list leaves zeros; a piece may point into this
  // media, e.g. a copy's source). File-backed units write them with one pwritev (a 128 KiB
  // write is one system call, and no staging copy): whole, page-aligned pages written so are
  // not faulted in first, where a store through the mapping makes the kernel read (for a
  // sparse file: zero-fill) the page and its readahead window before the copy. The mapping
  // is MAP_SHARED, so both reach the same page cache and WriteBack covers them alike. RAM
  // units copy each piece. `pieces` is used as scratch (advanced past what was written).
  void WriteData(uint64_t first_physical_adu, uint32_t adus, std::span<iovec> pieces);
  // One ADU's data (wire::kAduDataBytes at `src`).
  void WriteData(uint64_t physical_adu, const uint8_t* src);

  // Writes the given ADUs' data and info pages to the file's disk and waits for them
  // (sync_file_range, file only), without the journal commit and cache flush that make them
  // durable: a SyncSb after one or more of these makes them all durable with one flush.
  void WriteBack(uint64_t first_physical_adu, uint64_t count);
  // msync of one SB record pair (file only): the record, and everything written back
  // before, is durable on the host's disk when it returns (ext4 commits the inode's journal
  // and flushes the disk's cache once per call).
  void SyncSb(uint64_t slot);
  // Makes everything durable (clean close).
  void SyncAll();

 private:
  Media() = default;
  // The newest slot whose CRC holds and whose payload is `payload_bytes` long (a record of
  // another length was not written by this format: it counts as torn).
  absl::StatusOr<std::optional<std::vector<uint8_t>>> ReadPair(uint8_t* pair, uint32_t slot_bytes,
                                                               uint32_t payload_bytes,
                                                               uint64_t* generation,
                                                               const std::string& what);
  void WritePair(uint8_t* pair, uint32_t slot_bytes, uint64_t* generation, const void* payload,
                 uint32_t bytes);

  int fd_ = -1;
  bool created_ = false;
  std::string path_;
  uint8_t* base_ = nullptr;
  uint64_t bytes_ = 0;
  FileHeader* header_ = nullptr;
  AduInfo* info_ = nullptr;
  uint8_t* data_ = nullptr;
  uint32_t unit_slot_bytes_ = 0, domain_slot_bytes_ = 0, sb_slot_bytes_ = 0;
  uint32_t unit_state_bytes_ = 0;  // UnitStateBytes(config)
  bool in_use_ = false;            // stored with every unit state write
  // Newest generation per record, so that a write goes to the other slot.
  uint64_t unit_generation_ = 0;
  std::vector<uint64_t> domain_generation_, sb_generation_;
};

// Size of the unit state payload for `config`.
uint32_t UnitStateBytes(const UnitConfig& config);

}  // namespace sef::model::internal

#endif  // SEF_HAL_MODEL_INTERNAL_MEDIA_H_
