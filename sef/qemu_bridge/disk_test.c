/* The disk part of libsefbridge's C ABI (sef_bridge_disk_*), exercised from C as QEMU uses it:
 * QoS domains of the embedded default unit (in a temporary SEF_DATA_DIR) opened as a zoned
 * namespace and as a block device (the block FTL), every call completing through the disk's
 * queue with the NVMe status a guest must see.
 *
 * Prints one line per failed check and "N passed, M failed"; exits non-zero on any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "sef/qemu_bridge/sef_bridge.h"
#include "sef/qemu_bridge/testing/check.h"

/* NVMe statuses as the 15-bit field carries them (SC | SCT << 8 | DNR << 14). */
enum {
  kDnr = 1 << 14,
  kInvalidOpcode = kDnr | 0x01,
  kZoneIsFull = kDnr | 0x100 | 0xB9,
  kZoneInvalidWrite = kDnr | 0x100 | 0xBC,
  kLbaOutOfRange = 0x80,
};
/* The block FTL's capacity on a quarter of the default unit (128 super blocks of 8 MiB): the
 * data area less 7 % over-provisioning and the metadata reserve; bounds, not the formula. */
enum { kMinBlockDisk = 64 * 2048, kMaxBlockDisk = 128 * 2048 };
enum { kBlock = 4096, kZone = 2048 /* blocks: the default unit's super block, 8 MiB */ };

static sef_bridge_disk* OpenKind(uint32_t kind, uint32_t domain, int* rc, char* err,
                                 size_t err_len) {
  sef_bridge_disk_options o = {.kind = kind, .domain = domain, .user = "disk_test"};
  sef_bridge_disk* d = NULL;
  *rc = sef_bridge_disk_open("0", &o, &d, err, err_len);
  return d;
}

static sef_bridge_disk* OpenZoned(uint32_t domain, uint64_t zone_size, int* rc, char* err,
                                  size_t err_len) {
  sef_bridge_disk_options o = {
      .kind = SEF_BRIDGE_DISK_ZONED, .domain = domain, .user = "disk_test", .zone_size = zone_size};
  sef_bridge_disk* d = NULL;
  *rc = sef_bridge_disk_open("0", &o, &d, err, err_len);
  return d;
}

/* The one completion of `tag` (every call here completes before the next is submitted).
 * Returns its status, or -1 after a failed check. */
static int Wait(sef_bridge_disk* d, uint64_t tag, uint64_t* result) {
  sef_bridge_completion c[2];
  size_t n = 0;
  for (int i = 0; i < 2000 && n == 0; ++i) {
    struct pollfd p = {.fd = sef_bridge_disk_event_fd(d), .events = POLLIN};
    poll(&p, 1, 5);
    n = sef_bridge_disk_poll(d, c, 2);
  }
  EXPECTF(n == 1, "tag 0x%llx: %zu completions", (unsigned long long)tag, n);
  if (n != 1) return -1;
  EXPECTF(c[0].tag == tag, "tag 0x%llx, expected 0x%llx", (unsigned long long)c[0].tag,
          (unsigned long long)tag);
  if (result != NULL) *result = c[0].result;
  return c[0].status;
}

static int Write(sef_bridge_disk* d, uint64_t lba, uint32_t blocks, uint8_t fill, uint32_t flags) {
  uint8_t* buf = malloc((size_t)blocks * kBlock);
  memset(buf, fill, (size_t)blocks * kBlock);
  struct iovec iov = {buf, (size_t)blocks * kBlock};
  EXPECT(sef_bridge_disk_write(d, lba, blocks, &iov, 1, flags, 0x1000 + lba) == 0);
  const int status = Wait(d, 0x1000 + lba, NULL);
  free(buf);
  return status;
}

/* Reads `blocks` at `lba` split in two iovecs; 1 when every byte is `fill`. */
static int ReadsAs(sef_bridge_disk* d, uint64_t lba, uint32_t blocks, uint8_t fill) {
  const size_t bytes = (size_t)blocks * kBlock;
  uint8_t* buf = malloc(bytes);
  memset(buf, 0xEE, bytes);
  struct iovec iov[2] = {{buf, bytes / 2}, {buf + bytes / 2, bytes - bytes / 2}};
  EXPECT(sef_bridge_disk_read(d, lba, blocks, iov, 2, 0x2000 + lba) == 0);
  const int status = Wait(d, 0x2000 + lba, NULL);
  EXPECTF(status == 0, "read %llu: status 0x%x", (unsigned long long)lba, status);
  int same = status == 0;
  for (size_t i = 0; i < bytes; ++i) same &= buf[i] == fill;
  free(buf);
  return same;
}

static int ZoneSend(sef_bridge_disk* d, uint32_t action, uint64_t zslba, int all) {
  EXPECT(sef_bridge_disk_zone_send(d, action, zslba, all, 0x3000 + action) == 0);
  return Wait(d, 0x3000 + action, NULL);
}

static sef_bridge_zone Zone(sef_bridge_disk* d, uint64_t lba) {
  sef_bridge_zone z;
  memset(&z, 0xAB, sizeof(z));
  uint64_t matching = 0;
  uint16_t status = 0xFFFF;
  EXPECT(sef_bridge_disk_zone_report(d, lba, 0, 0, &z, 1, &matching, &status) == 1);
  EXPECTF(status == 0, "report status 0x%x", status);
  return z;
}

static void TestZoned(void) {
  char err[512];
  int rc = 0;
  sef_bridge_disk* d = OpenZoned(3, 0, &rc, err, sizeof(err));
  EXPECTF(rc == 0 && d != NULL, "open: %d %s", rc, err);
  if (d == NULL) return;

  sef_bridge_disk_info info;
  EXPECT(sef_bridge_disk_get_info(d, &info) == 0);
  EXPECT(info.abi_version == SEF_BRIDGE_ABI_VERSION && info.kind == SEF_BRIDGE_DISK_ZONED);
  EXPECT(info.block_bytes == kBlock && info.volatile_write_cache == 1);
  EXPECTF(info.zone_size == kZone && info.zone_capacity == kZone, "zone %llu cap %llu",
          (unsigned long long)info.zone_size, (unsigned long long)info.zone_capacity);
  EXPECTF(info.zones == 128, "zones %u", info.zones); /* a quarter of 512 super blocks */
  EXPECT(info.blocks == (uint64_t)info.zones * kZone);
  EXPECTF(info.max_active_zones == 15 && info.max_open_zones == 15, "limits %u %u",
          info.max_open_zones, info.max_active_zones);
  EXPECTF(strstr(info.description, "QoS domain 3") != NULL, "%s", info.description);

  /* Writes at the write pointer, an append, reads; a write elsewhere is Zone Invalid Write. */
  EXPECT(Write(d, 0, 2, 0x11, SEF_BRIDGE_FUA) == 0);
  EXPECTF(Write(d, 5, 1, 0x22, 0) == kZoneInvalidWrite, "misplaced write");
  uint8_t block[kBlock];
  memset(block, 0x33, sizeof(block));
  struct iovec iov = {block, sizeof(block)};
  EXPECT(sef_bridge_disk_append(d, 0, 1, &iov, 1, 0, 0xA1) == 0);
  uint64_t where = 99;
  EXPECT(Wait(d, 0xA1, &where) == 0);
  EXPECTF(where == 2, "append wrote at %llu", (unsigned long long)where);
  EXPECT(ReadsAs(d, 0, 2, 0x11));
  EXPECT(ReadsAs(d, 2, 1, 0x33));
  EXPECT(ReadsAs(d, 3, 1, 0x00)); /* above the write pointer: zeros */
  sef_bridge_zone z = Zone(d, 0);
  EXPECTF(
      z.start == 0 && z.write_pointer == 3 && z.state == 2 && z.type == 2 && z.capacity == kZone,
      "zone 0: start %llu wp %llu state %u", (unsigned long long)z.start,
      (unsigned long long)z.write_pointer, z.state);
  z = Zone(d, kZone);
  EXPECT(z.start == kZone && z.write_pointer == kZone && z.state == 1);

  /* Finish, then a write is Zone Is Full; the report says full. */
  EXPECT(ZoneSend(d, SEF_BRIDGE_ZONE_FINISH, 0, 0) == 0);
  EXPECTF(Write(d, 3, 1, 0x44, 0) == kZoneIsFull, "write to a full zone");
  EXPECT(Zone(d, 0).state == 0xE);
  EXPECT(Write(d, kZone, 4, 0x55, 0) == 0);
  EXPECT(sef_bridge_disk_flush(d, 0xF1) == 0);
  EXPECT(Wait(d, 0xF1, NULL) == 0);

  /* Report refusals and partial reports. */
  sef_bridge_zone zones[4];
  uint64_t matching = 0;
  uint16_t status = 0;
  EXPECT(sef_bridge_disk_zone_report(d, info.blocks, 0, 0, zones, 4, &matching, &status) == 0);
  EXPECTF(status == (kDnr | kLbaOutOfRange) || status == kLbaOutOfRange, "status 0x%x", status);
  EXPECT(sef_bridge_disk_zone_report(d, 0, 5 /* full */, 0, zones, 4, &matching, &status) == 1);
  EXPECT(status == 0 && matching == 1 && zones[0].start == 0);
  EXPECT(sef_bridge_disk_zone_report(d, 0, 0, 1, zones, 4, &matching, &status) == 4);
  EXPECT(status == 0 && matching == 4);

  /* What a zoned disk does not offer completes with Invalid Opcode. */
  EXPECT(sef_bridge_disk_trim(d, 0, 8, 0x77) == 0);
  EXPECT(Wait(d, 0x77, NULL) == kInvalidOpcode);

  /* Argument errors: nothing queued. */
  EXPECT(sef_bridge_disk_write(d, 0, 1, NULL, 1, 0, 1) == -EINVAL);
  EXPECT(sef_bridge_disk_write(d, 0, 1, &iov, 1, 0x80, 1) == -EINVAL);
  EXPECT(sef_bridge_disk_read(NULL, 0, 1, &iov, 1, 1) == -EINVAL);
  EXPECT(sef_bridge_disk_zone_report(d, 0, 0, 0, NULL, 1, &matching, &status) == -EINVAL);
  EXPECT(!Readable(sef_bridge_disk_event_fd(d)));

  /* One device per domain: a second handle on it is refused, naming the first. */
  int rc2 = 0;
  sef_bridge_disk* again = OpenZoned(3, 0, &rc2, err, sizeof(err));
  EXPECTF(rc2 == -EBUSY && again == NULL, "second open: %d", rc2);
  EXPECTF(strstr(err, "QoS domain 3 is in use by disk_test") != NULL, "err: %s", err);

  /* The emulated controller shares the unit with the disk. */
  sef_bridge_unit* u = NULL;
  EXPECTF(sef_bridge_open("0", &u, err, sizeof(err)) == 0, "controller on unit 0: %s", err);
  sef_bridge_close(u);

  /* Close unmounts; zone states and data survive a reopen. */
  sef_bridge_disk_close(d);
  d = OpenZoned(3, 0, &rc, err, sizeof(err));
  EXPECTF(rc == 0 && d != NULL, "reopen: %d %s", rc, err);
  if (d == NULL) return;
  EXPECT(Zone(d, 0).state == 0xE);
  z = Zone(d, kZone);
  EXPECTF(z.state == 4 && z.write_pointer == kZone + 4, "zone 1 after reopen: state %u wp %llu",
          z.state, (unsigned long long)z.write_pointer);
  EXPECT(ReadsAs(d, kZone, 4, 0x55));
  EXPECT(ReadsAs(d, 0, 2, 0x11));
  /* Reset all: every zone empty again. */
  EXPECT(ZoneSend(d, SEF_BRIDGE_ZONE_RESET, 0, 1) == 0);
  EXPECT(Zone(d, 0).state == 1 && Zone(d, kZone).state == 1);
  sef_bridge_disk_close(d);

  /* The zone size is the one the domain was formatted with. */
  d = OpenZoned(3, 1024, &rc, err, sizeof(err));
  EXPECTF(rc == -EINVAL && d == NULL, "other zone size: %d", rc);
  EXPECTF(strstr(err, "unit 0") != NULL && strstr(err, "QoS domain 3") != NULL &&
              strstr(err, "zones of 2048 blocks") != NULL,
          "err: %s", err);
  /* A smaller zone size on a fresh domain: zone capacity = zone size. */
  d = OpenZoned(4, 1024, &rc, err, sizeof(err));
  EXPECTF(rc == 0 && d != NULL, "domain 4 with 4 MiB zones: %d %s", rc, err);
  if (d != NULL) {
    EXPECT(sef_bridge_disk_get_info(d, &info) == 0);
    EXPECT(info.zone_size == 1024 && info.zone_capacity == 1024 && info.zones == 128);
    sef_bridge_disk_close(d);
  }
}

static int Trim(sef_bridge_disk* d, uint64_t lba, uint64_t blocks) {
  EXPECT(sef_bridge_disk_trim(d, lba, blocks, 0x4000 + lba) == 0);
  return Wait(d, 0x4000 + lba, NULL);
}

static int WriteZeroes(sef_bridge_disk* d, uint64_t lba, uint64_t blocks, uint32_t flags) {
  EXPECT(sef_bridge_disk_write_zeroes(d, lba, blocks, flags, 0x5000 + lba) == 0);
  return Wait(d, 0x5000 + lba, NULL);
}

static void TestBlock(void) {
  char err[512];
  int rc = 0;
  sef_bridge_disk* d = OpenKind(SEF_BRIDGE_DISK_BLOCK, 2, &rc, err, sizeof(err));
  EXPECTF(rc == 0 && d != NULL, "open block disk on domain 2: %d %s", rc, err);
  if (d == NULL) return;

  sef_bridge_disk_info info;
  EXPECT(sef_bridge_disk_get_info(d, &info) == 0);
  EXPECT(info.abi_version == SEF_BRIDGE_ABI_VERSION && info.kind == SEF_BRIDGE_DISK_BLOCK);
  EXPECT(info.block_bytes == kBlock && info.volatile_write_cache == 1);
  EXPECTF(info.blocks >= kMinBlockDisk && info.blocks < kMaxBlockDisk, "blocks %llu",
          (unsigned long long)info.blocks);
  EXPECT(info.zones == 0 && info.zone_size == 0);
  EXPECTF(strstr(info.description, "QoS domain 2") != NULL, "%s", info.description);
  const uint64_t last = info.blocks - 1;

  /* Writes anywhere (FUA or not), reads; never-written blocks read zeros. */
  EXPECT(Write(d, 100, 4, 0x61, 0) == 0);
  EXPECT(Write(d, 7, 2, 0x62, SEF_BRIDGE_FUA) == 0);
  EXPECT(Write(d, last, 1, 0x63, 0) == 0);
  EXPECT(ReadsAs(d, 100, 4, 0x61));
  EXPECT(ReadsAs(d, 7, 2, 0x62));
  EXPECT(ReadsAs(d, last, 1, 0x63));
  EXPECT(ReadsAs(d, 50, 2, 0x00));
  /* Overwrite, trim, write zeroes (plain and FUA). */
  EXPECT(Write(d, 101, 1, 0x64, 0) == 0);
  EXPECT(ReadsAs(d, 101, 1, 0x64));
  EXPECT(Trim(d, 102, 1) == 0);
  EXPECT(ReadsAs(d, 102, 1, 0x00));
  EXPECT(ReadsAs(d, 103, 1, 0x61));
  EXPECT(Write(d, 200, 8, 0x65, 0) == 0);
  EXPECT(WriteZeroes(d, 200, 2, 0) == 0);
  EXPECT(WriteZeroes(d, 206, 2, SEF_BRIDGE_FUA) == 0);
  EXPECT(ReadsAs(d, 200, 2, 0x00) && ReadsAs(d, 202, 4, 0x65) && ReadsAs(d, 206, 2, 0x00));
  EXPECT(sef_bridge_disk_flush(d, 0xF2) == 0);
  EXPECT(Wait(d, 0xF2, NULL) == 0);

  /* Past the end: LBA Out of Range; what a block disk does not offer: Invalid Opcode. */
  EXPECTF(Write(d, last, 2, 0x66, 0) == (kDnr | kLbaOutOfRange), "write past the end");
  EXPECT(Trim(d, info.blocks, 1) == (kDnr | kLbaOutOfRange));
  EXPECT(WriteZeroes(d, last + 1, 1, 0) == (kDnr | kLbaOutOfRange));
  uint8_t block[kBlock];
  struct iovec iov = {block, sizeof(block)};
  EXPECT(sef_bridge_disk_read(d, info.blocks, 1, &iov, 1, 0x99) == 0);
  EXPECT(Wait(d, 0x99, NULL) == (kDnr | kLbaOutOfRange));
  EXPECT(sef_bridge_disk_append(d, 0, 1, &iov, 1, 0, 0xA2) == 0);
  EXPECT(Wait(d, 0xA2, NULL) == kInvalidOpcode);
  EXPECT(sef_bridge_disk_zone_send(d, SEF_BRIDGE_ZONE_RESET, 0, 1, 0xA3) == 0);
  EXPECT(Wait(d, 0xA3, NULL) == kInvalidOpcode);
  sef_bridge_zone z;
  uint64_t matching = 9;
  uint16_t status = 0;
  EXPECT(sef_bridge_disk_zone_report(d, 0, 0, 0, &z, 1, &matching, &status) == 0);
  EXPECT(status == kInvalidOpcode && matching == 0);
  EXPECT(sef_bridge_disk_write_zeroes(d, 0, 1, 0x80, 1) == -EINVAL);
  EXPECT(sef_bridge_disk_write_zeroes(NULL, 0, 1, 0, 1) == -EINVAL);
  EXPECT(!Readable(sef_bridge_disk_event_fd(d)));

  /* One device per domain. */
  int rc2 = 0;
  sef_bridge_disk* again = OpenKind(SEF_BRIDGE_DISK_BLOCK, 2, &rc2, err, sizeof(err));
  EXPECTF(rc2 == -EBUSY && again == NULL, "second open: %d", rc2);

  /* Many writes in flight at once, completed in any order. */
  enum { kInFlight = 32 };
  static uint8_t bufs[kInFlight][kBlock];
  struct iovec iovs[kInFlight];
  for (int i = 0; i < kInFlight; ++i) {
    memset(bufs[i], 0x70 + i, kBlock);
    iovs[i] = (struct iovec){bufs[i], kBlock};
    EXPECT(sef_bridge_disk_write(d, 1000 + i, 1, &iovs[i], 1, 0, 0x6000 + i) == 0);
  }
  uint64_t seen = 0;
  for (int spins = 0; spins < 4000 && seen != (1ull << kInFlight) - 1; ++spins) {
    struct pollfd p = {.fd = sef_bridge_disk_event_fd(d), .events = POLLIN};
    poll(&p, 1, 5);
    sef_bridge_completion c[8];
    size_t n = sef_bridge_disk_poll(d, c, 8);
    for (size_t i = 0; i < n; ++i) {
      EXPECTF(c[i].status == 0 && c[i].tag >= 0x6000 && c[i].tag < 0x6000 + kInFlight,
              "tag 0x%llx status 0x%x", (unsigned long long)c[i].tag, c[i].status);
      seen |= 1ull << (c[i].tag - 0x6000);
    }
  }
  EXPECTF(seen == (1ull << kInFlight) - 1, "completed 0x%llx", (unsigned long long)seen);
  EXPECT(ReadsAs(d, 1000, 1, 0x70) && ReadsAs(d, 1000 + kInFlight - 1, 1, 0x70 + kInFlight - 1));

  /* Close unmounts (final checkpoint): data and trims survive a reopen. */
  sef_bridge_disk_close(d);
  d = OpenKind(SEF_BRIDGE_DISK_BLOCK, 2, &rc, err, sizeof(err));
  EXPECTF(rc == 0 && d != NULL, "reopen: %d %s", rc, err);
  if (d == NULL) return;
  sef_bridge_disk_info again_info;
  EXPECT(sef_bridge_disk_get_info(d, &again_info) == 0 && again_info.blocks == info.blocks);
  EXPECT(ReadsAs(d, 100, 1, 0x61) && ReadsAs(d, 101, 1, 0x64) && ReadsAs(d, 102, 1, 0x00));
  EXPECT(ReadsAs(d, 7, 2, 0x62) && ReadsAs(d, last, 1, 0x63));
  EXPECT(ReadsAs(d, 200, 2, 0x00) && ReadsAs(d, 202, 4, 0x65) && ReadsAs(d, 206, 2, 0x00));
  EXPECT(ReadsAs(d, 1000 + 5, 1, 0x75));

  /* A domain of the other kind, either way, is refused naming unit, domain and kind. */
  sef_bridge_disk* z3 = OpenKind(SEF_BRIDGE_DISK_BLOCK, 3, &rc, err, sizeof(err));
  EXPECTF(rc == -EBUSY && z3 == NULL, "block disk on the zoned domain 3: %d %s", rc, err);
  EXPECTF(strstr(err, "unit 0") != NULL && strstr(err, "QoS domain 3") != NULL &&
              strstr(err, "zone") != NULL && strchr(err, '\n') == NULL,
          "err: %s", err);
  sef_bridge_disk_close(d);
  sef_bridge_disk* b2 = OpenKind(SEF_BRIDGE_DISK_ZONED, 2, &rc, err, sizeof(err));
  EXPECTF(rc == -EBUSY && b2 == NULL, "zoned disk on the block domain 2: %d %s", rc, err);
  EXPECTF(strstr(err, "unit 0") != NULL && strstr(err, "QoS domain 2") != NULL &&
              (strstr(err, "FTL") != NULL || strstr(err, "block") != NULL),
          "err: %s", err);
}

static void TestOpenErrors(void) {
  char err[512];
  int rc = 0;
  sef_bridge_disk* d = OpenZoned(9, 0, &rc, err, sizeof(err));
  EXPECTF(rc == -ENOENT && d == NULL, "domain 9: %d", rc);
  EXPECTF(strstr(err, "unit 0") != NULL && strstr(err, "QoS domain 9: no such QoS domain") != NULL,
          "err: %s", err);
  d = OpenZoned(0, 0, &rc, err, sizeof(err));
  EXPECTF(rc == -EINVAL, "domain 0: %d %s", rc, err);
  sef_bridge_disk_options o = {.kind = 7, .domain = 3};
  EXPECT(sef_bridge_disk_open("0", &o, &d, err, sizeof(err)) == -EINVAL);
  o.kind = SEF_BRIDGE_DISK_ZONED;
  EXPECT(sef_bridge_disk_open("abc", &o, &d, err, sizeof(err)) == -EINVAL);
  EXPECTF(strstr(err, "unit 'abc'") != NULL, "err: %s", err);
  EXPECT(sef_bridge_disk_open("5", &o, &d, err, sizeof(err)) == -ENOENT);
  EXPECT(sef_bridge_disk_open("0", NULL, &d, err, sizeof(err)) == -EINVAL);
  o.kind = SEF_BRIDGE_DISK_BLOCK;
  o.domain = 9;
  EXPECTF(sef_bridge_disk_open("0", &o, &d, err, sizeof(err)) == -ENOENT && d == NULL,
          "block disk on domain 9: %s", err);
  sef_bridge_disk_close(NULL);
}

int main(void) {
  UseCleanUnitEnvironment();
  TestZoned();
  TestBlock();
  TestOpenErrors();
  return CheckSummary();
}
