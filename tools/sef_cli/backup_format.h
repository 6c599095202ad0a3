// The file `sef-cli backup qos-domain` writes for each super block and `restore` reads
// (docs/sef-cli.md, "Backup files", is the prose spec). Little endian, packed:
//
//   BackupHeader (64 bytes)
//   `adus` records, one per ADU from offset 0: BackupRecord, then 4096 data bytes
//
// A record whose flags have kBackupHole holds no data (the ADU was padding or unreadable);
// restore writes a filler ADU there, so that every other ADU keeps its offset.
#ifndef TOOLS_SEF_CLI_BACKUP_FORMAT_H_
#define TOOLS_SEF_CLI_BACKUP_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace sef::cli {

inline constexpr char kBackupMagic[8] = {'S', 'E', 'F', 'S', 'B', 'B', 'K', '1'};
inline constexpr uint32_t kBackupVersion = 1;
inline constexpr uint32_t kBackupPslc = 1u << 0;  // BackupHeader::flags
inline constexpr uint32_t kBackupHole = 1u << 0;  // BackupRecord::flags

struct __attribute__((packed)) BackupHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;   // sizeof(BackupHeader)
  uint32_t record_bytes;   // sizeof(BackupRecord) + ADU data bytes
  uint16_t domain;         // the QoS domain backed up
  uint16_t placement;      // the SB's placement id (0xFFFF: opened by erase)
  uint32_t super_block;    // its id
  uint32_t capacity_adus;  // its capacity
  uint32_t adus;           // records that follow
  uint32_t flags;          // kBackupPslc
  uint32_t records_crc;    // CRC32C of every record, in order
  uint8_t reserved[16];    // zero
  uint32_t header_crc;     // CRC32C of the header up to this field
};
static_assert(sizeof(BackupHeader) == 64);
static_assert(offsetof(BackupHeader, header_crc) == 60);

struct __attribute__((packed)) BackupRecord {
  uint64_t user_address;  // as the device's user address list gives it
  uint32_t flags;         // kBackupHole
  uint32_t reserved;      // zero
  uint8_t metadata[16];
};
static_assert(sizeof(BackupRecord) == 32);

}  // namespace sef::cli

#endif  // TOOLS_SEF_CLI_BACKUP_FORMAT_H_
