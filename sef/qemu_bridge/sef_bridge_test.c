/* The C ABI of libsefbridge.so, exercised from C as QEMU will use it: every command is
 * encoded by hand (byte values from docs/command-set.md and testdata/golden/admin.json),
 * submitted with a tag and collected through the completion queue and its eventfd.
 *
 * Prints one line per failed check and a closing "N passed, M failed"; exits non-zero on
 * any failure. */
#define _GNU_SOURCE
#include "sef/qemu_bridge/sef_bridge.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(sizeof(sef_bridge_cmd) == 72, "sef_bridge_cmd is the 72-byte NVMe uring layout");
_Static_assert(sizeof(sef_bridge_completion) == 24, "sef_bridge_completion layout");
_Static_assert(sizeof(sef_bridge_info) == 256, "sef_bridge_info layout");

static int g_passed;
static int g_failed;

static void Check(int ok, const char* expr, const char* file, int line, const char* fmt, ...) {
  if (ok) {
    ++g_passed;
    return;
  }
  ++g_failed;
  fprintf(stderr, "%s:%d: FAILED: %s", file, line, expr);
  if (fmt != NULL && fmt[0] != '\0') {
    va_list args;
    va_start(args, fmt);
    fputs(" -- ", stderr);
    vfprintf(stderr, fmt, args);
    va_end(args);
  }
  fputc('\n', stderr);
}

#define EXPECT(cond) Check(!!(cond), #cond, __FILE__, __LINE__, NULL)
#define EXPECTF(cond, ...) Check(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)

static const char* kTinyUnit = "model:testdata/units/tiny.json"; /* in RAM */

/* Generic SCT 0 statuses with DNR, as NvmeStatus::raw() encodes them. */
enum { kDnr = 1 << 14, kInvalidOpcode = 0x01 };

static void Put16(uint8_t* p, size_t at, uint16_t v) { memcpy(p + at, &v, sizeof(v)); }
static void Put32(uint8_t* p, size_t at, uint32_t v) { memcpy(p + at, &v, sizeof(v)); }
static void Put64(uint8_t* p, size_t at, uint64_t v) { memcpy(p + at, &v, sizeof(v)); }
static uint32_t Get32(const uint8_t* p, size_t at) {
  uint32_t v;
  memcpy(&v, p + at, sizeof(v));
  return v;
}
static uint64_t Get64(const uint8_t* p, size_t at) {
  uint64_t v;
  memcpy(&v, p + at, sizeof(v));
  return v;
}
static uint64_t Ptr(const void* p) { return (uint64_t)(uintptr_t)p; }

static const char* TempDir(void) {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

/* 1 when the fd is readable right now. */
static int Readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

/* Submits a command that completes at once and collects its completion. Returns the NVMe
 * status, or -1 (after a failed check) when submit fails or no single completion comes. */
static int Exec(sef_bridge_unit* u, int admin, const sef_bridge_cmd* cmd, uint32_t flags,
                uint64_t tag, uint64_t* result) {
  const int rc = sef_bridge_submit(u, admin, cmd, flags, tag);
  EXPECTF(rc == 0, "submit of opcode 0x%02x returned %d", cmd->opcode, rc);
  if (rc != 0) return -1;
  sef_bridge_completion c[4];
  const size_t n = sef_bridge_poll(u, c, 4);
  EXPECTF(n == 1, "opcode 0x%02x: %zu completions, expected 1", cmd->opcode, n);
  if (n != 1) return -1;
  EXPECTF(c[0].tag == tag, "tag 0x%llx, expected 0x%llx", (unsigned long long)c[0].tag,
          (unsigned long long)tag);
  if (result != NULL) *result = c[0].result;
  return c[0].status;
}

/* ---- hand-encoded admin commands (docs/command-set.md, testdata/golden/admin.json) ----- */

static sef_bridge_cmd IdentifySefController(uint8_t* buf4096) {
  sef_bridge_cmd c = {.opcode = 0x06, .cdw10 = 0x06, .cdw11 = 0x30u << 24};
  c.addr = Ptr(buf4096);
  c.data_len = 4096;
  return c;
}

/* Set Features 0xD2: capacity configuration `id` = one VD (id 1) over dies 0..dies-1.
 * Payload: header (cci @0, egcn @4), one 0x58-byte endurance group descriptor at 0x20
 * (endgid @0, egchans @82 = 1, ch_id @84 = any, chmus @86), then 8 bytes per die. */
static sef_bridge_cmd SetCapacityConfig(uint8_t* payload, uint16_t id, uint16_t dies) {
  const size_t bytes = 0x20 + 0x58 + 8u * dies;
  memset(payload, 0, bytes);
  Put16(payload, 0, id);
  Put16(payload, 4, 1);
  Put16(payload, 0x20 + 0, 1);
  Put16(payload, 0x20 + 82, 1);
  Put16(payload, 0x20 + 84, 0xFFFF);
  Put16(payload, 0x20 + 86, dies);
  for (uint16_t d = 0; d < dies; ++d) Put16(payload, 0x20 + 0x58 + 8u * d, d);
  sef_bridge_cmd c = {.opcode = 0x09, .cdw10 = 0x800000D2u, .cdw11 = (1u << 16) | dies};
  c.addr = Ptr(payload);
  c.data_len = (uint32_t)bytes;
  return c;
}

static sef_bridge_cmd SelectCapacityConfig(uint16_t id) {
  sef_bridge_cmd c = {.opcode = 0x20, .cdw10 = (uint32_t)id << 16};
  return c;
}

/* NS Management create, CSI 0x30: the SEF namespace structure as payload. Capacities are
 * one-based plane-page counts; drfid 0 = the VD's default read FIFO; qosds 0 = typical
 * deadline, perfect defect strategy. */
static sef_bridge_cmd CreateQosDomain(uint8_t* payload4096, uint16_t vd, uint64_t plane_pages) {
  memset(payload4096, 0, 4096);
  Put16(payload4096, 102, vd);          /* endgid */
  Put16(payload4096, 128, 16);          /* lbaf[0].ms */
  payload4096[130] = 12;                /* lbaf[0].lbads */
  Put32(payload4096, 768, 0);           /* qosds */
  Put16(payload4096, 772, 1);           /* nplid: 2 placement ids */
  Put16(payload4096, 774, 4);           /* mxosb */
  Put32(payload4096, 780, 0);           /* drfid */
  Put64(payload4096, 832, plane_pages); /* sbsta.quota */
  Put64(payload4096, 840, plane_pages); /* sbsta.gcap */
  sef_bridge_cmd c = {.opcode = 0x0D, .cdw11 = 0x30u << 24};
  c.addr = Ptr(payload4096);
  c.data_len = 4096;
  return c;
}

/* NS Attachment attach, controller list {1 entry: controller 0}. */
static sef_bridge_cmd AttachQosDomain(uint8_t* payload4096, uint32_t domain) {
  memset(payload4096, 0, 4096);
  Put16(payload4096, 0, 1);
  Put16(payload4096, 2, 0);
  sef_bridge_cmd c = {.opcode = 0x15, .nsid = domain, .cdw10 = 0};
  c.addr = Ptr(payload4096);
  c.data_len = 4096;
  return c;
}

/* ---- hand-encoded I/O commands ------------------------------------------------------------ */

/* Flash Address Request by placement id (SBI 0): CDW13 = NLWID, CDW15[15:0] = placement. */
static sef_bridge_cmd FlashAddressRequest(uint32_t domain, uint32_t nlwid, uint16_t placement) {
  sef_bridge_cmd c = {.opcode = 0xD2, .nsid = domain, .cdw13 = nlwid, .cdw15 = placement};
  return c;
}

/* Nameless Write by placement id: CDW10-11 = user address, CDW12[15:0] = ADUs - 1,
 * CDW13 = NLWID, CDW14[30:0] = 0x7FFFFFFF, CDW15[15:0] = placement. */
static sef_bridge_cmd NamelessWrite(uint32_t domain, uint32_t nlwid, uint16_t placement,
                                    uint64_t user_address, uint32_t adus) {
  sef_bridge_cmd c = {.opcode = 0xD1,
                      .nsid = domain,
                      .cdw10 = (uint32_t)user_address,
                      .cdw11 = (uint32_t)(user_address >> 32),
                      .cdw12 = adus - 1,
                      .cdw13 = nlwid,
                      .cdw14 = 0x7FFFFFFF,
                      .cdw15 = placement};
  return c;
}

/* Read by flash address: NSID = FLA[63:48], CDW10-11 = verify UA (all ones: ignore),
 * CDW12 = ADUs - 1, CDW13 = read FIFO (all ones: default), CDW14-15 = FLA[47:0]. */
static sef_bridge_cmd Read(uint64_t fla, uint32_t adus) {
  sef_bridge_cmd c = {.opcode = 0xD6,
                      .nsid = (uint32_t)(fla >> 48),
                      .cdw10 = 0xFFFFFFFFu,
                      .cdw11 = 0xFFFFFFFFu,
                      .cdw12 = adus - 1,
                      .cdw13 = 0xFFFFFFFFu,
                      .cdw14 = (uint32_t)fla,
                      .cdw15 = (uint32_t)(fla >> 32) & 0xFFFFu};
  return c;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void TestBadConfigNamesTheField(void) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/bad_planes.json", TempDir());
  FILE* f = fopen(path, "w");
  EXPECT(f != NULL);
  if (f == NULL) return;
  fputs(
      "{\"name\": \"bad\", \"geometry\": {\"channels\": 2, \"banks\": 2, \"planes\": 0,\n"
      " \"pages_per_block\": 4, \"blocks_per_die\": 16, \"plane_data_bytes\": 16384}}\n",
      f);
  fclose(f);

  char spec[4200];
  snprintf(spec, sizeof(spec), "model:%s", path);
  sef_bridge_unit* u = (sef_bridge_unit*)(uintptr_t)1;
  char err[256];
  const int rc = sef_bridge_open(spec, &u, err, sizeof(err));
  EXPECTF(rc == -EINVAL, "rc %d", rc);
  EXPECT(u == NULL);
  EXPECTF(strstr(err, "geometry.planes") != NULL, "err: %s", err);
  EXPECTF(strstr(err, path) != NULL, "err does not name the file: %s", err);
  EXPECTF(strchr(err, '\n') == NULL, "err is not one line: %s", err);

  /* A missing file, a NULL path, a NULL out, and a tiny error buffer. */
  char small[8];
  EXPECT(sef_bridge_open("model:/nonexistent/unit.json", &u, small, sizeof(small)) < 0);
  EXPECT(strlen(small) == sizeof(small) - 1);
  EXPECT(sef_bridge_open(NULL, &u, err, sizeof(err)) == -EINVAL);
  EXPECT(sef_bridge_open("", &u, err, sizeof(err)) == -EINVAL);
  EXPECT(sef_bridge_open(kTinyUnit, NULL, err, sizeof(err)) == -EINVAL);
  EXPECT(sef_bridge_open("model:/nonexistent/unit.json", &u, NULL, 0) < 0);
}

/* Unit names as every device takes them (sef/units): a malformed name, a number nothing
 * names (main() points SEF_UNITS_FILE at a file that turns host discovery off). */
static void TestUnitNames(void) {
  sef_bridge_unit* u = (sef_bridge_unit*)(uintptr_t)1;
  char err[512];
  int rc = sef_bridge_open("abc", &u, err, sizeof(err));
  EXPECTF(rc == -EINVAL, "rc %d", rc);
  EXPECT(u == NULL);
  EXPECTF(strstr(err, "unit 'abc'") != NULL, "err: %s", err);
  rc = sef_bridge_open("7", &u, err, sizeof(err));
  EXPECTF(rc == -ENOENT, "rc %d", rc);
  EXPECTF(strstr(err, "unit 7: no such SEF unit") != NULL, "err: %s", err);
}

static void TestNullArguments(void) {
  sef_bridge_cmd c = {.opcode = 0x06};
  EXPECT(sef_bridge_submit(NULL, 1, &c, 0, 1) == -EINVAL);
  EXPECT(sef_bridge_event_fd(NULL) == -EINVAL);
  sef_bridge_completion out[1];
  EXPECT(sef_bridge_poll(NULL, out, 1) == 0);
  sef_bridge_info info;
  EXPECT(sef_bridge_unit_info(NULL, &info) == -EINVAL);
  sef_bridge_tick(NULL);
  sef_bridge_close(NULL);

  sef_bridge_unit* u = NULL;
  char err[256];
  EXPECTF(sef_bridge_open(kTinyUnit, &u, err, sizeof(err)) == 0, "%s", err);
  if (u == NULL) return;
  EXPECT(sef_bridge_submit(u, 1, NULL, 0, 1) == -EINVAL);
  EXPECT(sef_bridge_submit(u, 2, &c, 0, 1) == -EINVAL);
  EXPECT(sef_bridge_submit(u, 1, &c, 0x80, 1) == -EINVAL);
  EXPECT(sef_bridge_unit_info(u, NULL) == -EINVAL);
  EXPECT(sef_bridge_poll(u, NULL, 1) == 0);
  sef_bridge_cmd no_buffer = {.opcode = 0x06, .cdw10 = 6, .cdw11 = 0x30u << 24, .data_len = 4096};
  EXPECT(sef_bridge_submit(u, 1, &no_buffer, 0, 1) == -EINVAL);
  sef_bridge_cmd no_meta = {.opcode = 0xD6, .nsid = 1, .metadata_len = 16};
  EXPECT(sef_bridge_submit(u, 0, &no_meta, 0, 1) == -EINVAL);
  static struct iovec many[SEF_BRIDGE_MAX_IOVECS + 1];
  sef_bridge_cmd too_many = {.opcode = 0x06, .cdw10 = 6, .cdw11 = 0x30u << 24};
  too_many.addr = Ptr(many);
  too_many.data_len = SEF_BRIDGE_MAX_IOVECS + 1;
  EXPECT(sef_bridge_submit(u, 1, &too_many, SEF_BRIDGE_VECTORED, 1) == -EINVAL);
  /* Nothing was queued by the refused submits. */
  EXPECT(!Readable(sef_bridge_event_fd(u)));
  EXPECT(sef_bridge_poll(u, out, 1) == 0);

  /* A malformed command is the device's business: it completes with an NVMe status. */
  sef_bridge_cmd unknown = {.opcode = 0x7E};
  EXPECT(Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &unknown, 0, 77, NULL) == (kDnr | kInvalidOpcode));
  sef_bridge_close(u);
}

static void TestUnitInfo(sef_bridge_unit* u) {
  sef_bridge_info info;
  memset(&info, 0xAB, sizeof(info));
  EXPECT(sef_bridge_unit_info(u, &info) == 0);
  EXPECT(info.abi_version == SEF_BRIDGE_ABI_VERSION);
  EXPECT(info.max_qos_domains == 8);
  EXPECT(info.max_outstanding_aers == 4);
  EXPECT(info.channels == 2 && info.banks_per_channel == 2 && info.planes == 2);
  EXPECT(info.pages_per_block == 4 && info.blocks_per_die == 16);
  EXPECT(info.plane_data_bytes == 16384);
  EXPECT(info.adu_data_bytes == 4096 && info.adu_metadata_bytes == 16);
  EXPECT(info.super_block_id_bits == 16 && info.adu_offset_bits == 16);
  EXPECT(info.pslc == 1 && info.persistent == 1);
  EXPECT(info.total_adus == 2048);
  EXPECTF(strcmp(info.serial, "SEFTINY0001") == 0, "serial '%.24s'", info.serial);
  EXPECTF(strcmp(info.model, "SEF software model") == 0, "model '%.48s'", info.model);
  EXPECTF(strcmp(info.name, "tiny") == 0, "name '%.64s'", info.name);
  EXPECT(info.capabilities & (1u << 2)); /* perfect */
  int zero = 1;
  for (size_t i = 0; i < sizeof(info.rsvd); ++i) zero &= info.rsvd[i] == 0;
  EXPECT(zero);
}

static void TestIdentify(sef_bridge_unit* u) {
  static uint8_t buf[4096];
  memset(buf, 0xEE, sizeof(buf));
  sef_bridge_cmd c = IdentifySefController(buf);
  EXPECT(Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &c, 0, 0x600, NULL) == 0);
  EXPECTF(buf[4] == 1, "nch %u (0-based, 2 channels)", buf[4]);
  EXPECTF(buf[5] == 1, "nbnk %u (0-based, 2 banks)", buf[5]);
  EXPECTF(buf[10] == 1, "npl %u", buf[10]);

  /* The same Identify with its buffer split in three iovecs: gathered, then scattered back. */
  static uint8_t a[1000], b[96], rest[4096 - 1096];
  memset(a, 0xEE, sizeof(a));
  struct iovec iov[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {rest, sizeof(rest)}};
  c.addr = Ptr(iov);
  c.data_len = 3;
  EXPECT(Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &c, SEF_BRIDGE_VECTORED, 0x601, NULL) == 0);
  EXPECT(memcmp(a, buf, sizeof(a)) == 0);
  EXPECT(memcmp(b, buf + sizeof(a), sizeof(b)) == 0);
  EXPECT(memcmp(rest, buf + sizeof(a) + sizeof(b), sizeof(rest)) == 0);
}

/* Capacity configuration + select + QoS domain create + attach. Returns the domain id. */
static uint32_t CreateDomain(sef_bridge_unit* u) {
  static uint8_t payload[4096];
  sef_bridge_cmd c = SetCapacityConfig(payload, 2, 4);
  EXPECT(Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &c, 0, 0xD2, NULL) == 0);
  c = SelectCapacityConfig(2);
  EXPECT(Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &c, 0, 0x20, NULL) == 0);
  c = CreateQosDomain(payload, 1, 64);
  uint64_t result = 0;
  const int status = Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &c, 0, 0x0D, &result);
  EXPECTF(status == 0, "create: status 0x%x", status);
  const uint32_t domain = (uint32_t)result;
  EXPECTF(domain == 1, "domain %u", domain);
  c = AttachQosDomain(payload, domain);
  EXPECT(Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &c, 0, 0x15, NULL) == 0);
  return domain;
}

enum { kAdus = 2, kLba = 7 };
static uint8_t Pattern(uint32_t adu) { return (uint8_t)(0x5A + 17 * adu); }

/* FAR (tag A) waits for its NLW (tag B); both complete through the queue. Returns the flash
 * address of the first ADU written, or 0. */
static uint64_t WritePair(sef_bridge_unit* u, uint32_t domain) {
  const int fd = sef_bridge_event_fd(u);
  EXPECT(fd >= 0);
  const uint64_t kTagA = 0xA000000000000001ull, kTagB = 0xB000000000000002ull;

  /* The ARR buffer as two iovecs: the FAR is bounced, and scattered back when it completes
   * (on the NLW's submit). */
  static uint8_t arr_head[100], arr_tail[44];
  memset(arr_head, 0, sizeof(arr_head));
  memset(arr_tail, 0, sizeof(arr_tail));
  struct iovec arr_iov[2] = {{arr_head, sizeof(arr_head)}, {arr_tail, sizeof(arr_tail)}};
  sef_bridge_cmd far = FlashAddressRequest(domain, 7, 0);
  far.addr = Ptr(arr_iov);
  far.data_len = 2;
  EXPECT(sef_bridge_submit(u, SEF_BRIDGE_QUEUE_IO, &far, SEF_BRIDGE_VECTORED, kTagA) == 0);
  sef_bridge_completion c[4];
  EXPECT(!Readable(fd));
  EXPECTF(sef_bridge_poll(u, c, 4) == 0, "the FAR completed before its NLW");

  static uint8_t data[kAdus * 4096], meta[kAdus * 16];
  for (uint32_t i = 0; i < kAdus; ++i) {
    memset(data + i * 4096, Pattern(i), 4096);
    memset(meta + i * 16, Pattern(i) ^ 0xFF, 16);
  }
  struct iovec data_iov[1] = {{data, sizeof(data)}};
  sef_bridge_cmd nlw = NamelessWrite(domain, 7, 0, kLba, kAdus);
  nlw.addr = Ptr(data_iov);
  nlw.data_len = 1;
  nlw.metadata = Ptr(meta);
  nlw.metadata_len = sizeof(meta);
  EXPECT(sef_bridge_submit(u, SEF_BRIDGE_QUEUE_IO, &nlw, SEF_BRIDGE_VECTORED, kTagB) == 0);

  /* Both are ready now: drain one at a time, the eventfd staying readable until empty. */
  EXPECT(Readable(fd));
  int saw_a = 0, saw_b = 0;
  for (int i = 0; i < 2; ++i) {
    const size_t n = sef_bridge_poll(u, c, 1);
    EXPECTF(n == 1, "poll %d returned %zu", i, n);
    if (n != 1) break;
    EXPECTF(c[0].status == 0, "tag 0x%llx status 0x%x", (unsigned long long)c[0].tag, c[0].status);
    saw_a += c[0].tag == kTagA;
    saw_b += c[0].tag == kTagB;
    if (i == 0) EXPECT(Readable(fd));
  }
  EXPECT(saw_a == 1 && saw_b == 1);
  EXPECT(!Readable(fd));
  EXPECT(sef_bridge_poll(u, c, 4) == 0);

  /* The ARR (wire::AddressRequestResponse): nsb @0, extent 0 nfla @16, sfla @24. */
  uint8_t arr[144];
  memcpy(arr, arr_head, sizeof(arr_head));
  memcpy(arr + sizeof(arr_head), arr_tail, sizeof(arr_tail));
  EXPECTF(arr[0] >= 1, "nsb %u", arr[0]);
  EXPECTF(Get32(arr, 16) == kAdus, "nfla %u", Get32(arr, 16));
  const uint64_t fla = Get64(arr, 24);
  EXPECTF((fla >> 48) == domain, "fla 0x%llx", (unsigned long long)fla);
  return fla;
}

/* Reads the pair's ADUs back, once with a contiguous buffer (the bridge wraps it in an iovec)
 * and once with two iovecs. */
static void ReadBack(sef_bridge_unit* u, uint64_t fla) {
  static uint8_t data[kAdus * 4096], meta[kAdus * 16];
  memset(data, 0, sizeof(data));
  memset(meta, 0, sizeof(meta));
  sef_bridge_cmd r = Read(fla, kAdus);
  r.addr = Ptr(data);
  r.data_len = sizeof(data);
  r.metadata = Ptr(meta);
  r.metadata_len = sizeof(meta);
  int status = Exec(u, SEF_BRIDGE_QUEUE_IO, &r, 0, 0xD6, NULL);
  EXPECTF(status == 0, "read status 0x%x", status);
  int same = 1;
  for (uint32_t i = 0; i < kAdus; ++i) {
    const uint8_t want_data = Pattern(i), want_meta = (uint8_t)(Pattern(i) ^ 0xFF);
    for (uint32_t j = 0; j < 4096; ++j) same &= data[i * 4096 + j] == want_data;
    for (uint32_t j = 0; j < 16; ++j) same &= meta[i * 16 + j] == want_meta;
  }
  EXPECT(same);

  static uint8_t second[4096], first[4096];
  memset(first, 0, sizeof(first));
  memset(second, 0, sizeof(second));
  struct iovec iov[2] = {{first, sizeof(first)}, {second, sizeof(second)}};
  r = Read(fla, kAdus);
  r.addr = Ptr(iov);
  r.data_len = 2;
  status = Exec(u, SEF_BRIDGE_QUEUE_IO, &r, SEF_BRIDGE_VECTORED, 0xD7, NULL);
  EXPECTF(status == 0, "vectored read status 0x%x", status);
  EXPECT(memcmp(first, data, 4096) == 0 && memcmp(second, data + 4096, 4096) == 0);
}

/* The child of RefusedInAnotherProcess (this program run again with --open NAME BACKING):
 * exits 0 when opening NAME is refused with -EBUSY and a line naming BACKING. */
static int OpenInChild(const char* name, const char* backing) {
  sef_bridge_unit* u = NULL;
  char err[512] = "";
  const int rc = sef_bridge_open(name, &u, err, sizeof(err));
  if (rc == -EBUSY && u == NULL && strstr(err, "in use") != NULL && strstr(err, backing) != NULL) {
    return 0;
  }
  fprintf(stderr, "child: open %s: rc %d err %s\n", name, rc, err);
  sef_bridge_close(u);
  return 1;
}

/* Opens `name` in another process (a fresh one: a forked child would inherit this process's
 * table of open units) while this one holds it. Returns 1 when it was refused. */
static int RefusedInAnotherProcess(const char* name, const char* backing) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/proc/self/exe", "sef_bridge_test", "--open", name, backing, (char*)NULL);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void TestEndToEnd(void) {
  char backing[4096], name[4200];
  snprintf(backing, sizeof(backing), "%s/unit.sef", TempDir());
  snprintf(name, sizeof(name), "%s:%s", kTinyUnit, backing);
  unlink(backing);
  sef_bridge_unit* u = NULL;
  char err[512];
  int rc = sef_bridge_open(name, &u, err, sizeof(err));
  EXPECTF(rc == 0, "open: %d %s", rc, err);
  if (u == NULL) return;
  EXPECT(err[0] == '\0');

  /* Another process on the same backing file is refused, with a message. */
  EXPECT(RefusedInAnotherProcess(name, backing));

  TestUnitInfo(u);
  TestIdentify(u);
  const uint32_t domain = CreateDomain(u);
  const uint64_t fla = WritePair(u, domain);
  if (fla != 0) ReadBack(u, fla);
  sef_bridge_tick(u);
  EXPECT(sef_bridge_poll(u, NULL, 0) == 0);

  /* Left outstanding: an AER (parked) and a FAR with no NLW. */
  sef_bridge_cmd aer = {.opcode = 0x0C};
  EXPECT(sef_bridge_submit(u, SEF_BRIDGE_QUEUE_ADMIN, &aer, 0, 0xAE) == 0);
  static uint8_t arr[144];
  sef_bridge_cmd far = FlashAddressRequest(domain, 9, 1);
  far.addr = Ptr(arr);
  far.data_len = sizeof(arr);
  EXPECT(sef_bridge_submit(u, SEF_BRIDGE_QUEUE_IO, &far, 0, 0xFA) == 0);
  sef_bridge_completion c[2];
  EXPECT(sef_bridge_poll(u, c, 2) == 0);

  /* A second handle in this process on the same file (another spelling of it) shares the
   * unit: it sees the domain the first created, and while it is open a reset of the first
   * aborts nothing (the second's commands could be parked). */
  char other[4200];
  snprintf(other, sizeof(other), "%s:%s/./unit.sef", kTinyUnit, TempDir());
  sef_bridge_unit* shared = NULL;
  rc = sef_bridge_open(other, &shared, err, sizeof(err));
  EXPECTF(rc == 0, "shared open: %d %s", rc, err);
  if (shared != NULL) {
    if (fla != 0) ReadBack(shared, fla);
    sef_bridge_reset(u);
    EXPECT(!Readable(sef_bridge_event_fd(u)));
    EXPECT(sef_bridge_poll(u, c, 2) == 0);
    sef_bridge_close(shared);
  }

  /* Alone again: a controller reset completes both with Abort Requested (0x4007: SCT 0,
   * SC 7, DNR). */
  sef_bridge_reset(u);
  EXPECT(Readable(sef_bridge_event_fd(u)));
  EXPECT(sef_bridge_poll(u, c, 2) == 2);
  EXPECTF(c[0].status == 0x4007 && c[1].status == 0x4007, "reset statuses 0x%x 0x%x", c[0].status,
          c[1].status);
  EXPECTF((c[0].tag == 0xAE && c[1].tag == 0xFA) || (c[0].tag == 0xFA && c[1].tag == 0xAE),
          "reset tags 0x%llx 0x%llx", (unsigned long long)c[0].tag, (unsigned long long)c[1].tag);
  sef_bridge_reset(NULL); /* harmless */

  /* Left outstanding at close again: close discards them. */
  EXPECT(sef_bridge_submit(u, SEF_BRIDGE_QUEUE_ADMIN, &aer, 0, 0xAF) == 0);
  sef_bridge_close(u);

  /* Close released the file, which kept the data. */
  u = NULL;
  rc = sef_bridge_open(name, &u, err, sizeof(err));
  EXPECTF(rc == 0, "reopen: %d %s", rc, err);
  if (u == NULL) return;
  if (fla != 0) ReadBack(u, fla);
  sef_bridge_close(u);
}

/* The embedded default unit (unit 0) in the temporary SEF_DATA_DIR main() set: provisioned
 * on first use (one VD, four QoS domains), shared in this process, refused in another. */
static void TestDefaultUnit(void) {
  sef_bridge_unit* u = NULL;
  char err[512];
  int rc = sef_bridge_open("0", &u, err, sizeof(err));
  EXPECTF(rc == 0, "open unit 0: %d %s", rc, err);
  if (u == NULL) return;
  sef_bridge_info info;
  EXPECT(sef_bridge_unit_info(u, &info) == 0);
  EXPECTF(strcmp(info.name, "default") == 0, "name '%.64s'", info.name);
  EXPECT(info.persistent == 1);
  /* QoS domains 1..4 exist and are attached: Identify CNS 05h answers for each. */
  static uint8_t buf[4096];
  for (uint32_t d = 1; d <= 5; ++d) {
    sef_bridge_cmd id = {.opcode = 0x06, .nsid = d, .cdw10 = 0x05, .cdw11 = 0x30u << 24};
    id.addr = Ptr(buf);
    id.data_len = sizeof(buf);
    const int status = Exec(u, SEF_BRIDGE_QUEUE_ADMIN, &id, 0, 0x500 + d, NULL);
    EXPECTF((status == 0) == (d <= 4), "Identify 05h of domain %u: status 0x%x", d, status);
  }
  char backing[4200];
  snprintf(backing, sizeof(backing), "%s/data/unit0.sef", TempDir());
  EXPECT(RefusedInAnotherProcess("0", backing));
  sef_bridge_close(u);
}

/* sef_bridge_transfer_of: the codec's lengths for hand-encoded commands. */
static void TestTransfer(void) {
  sef_bridge_transfer t;
  uint8_t buf[8];
  sef_bridge_cmd c = IdentifySefController(buf);
  EXPECT(sef_bridge_transfer_of(SEF_BRIDGE_QUEUE_ADMIN, &c, &t) == 0);
  EXPECT(t.data_bytes == 4096 && t.metadata_bytes == 0 && t.direction == 2 && t.from_fields);
  sef_bridge_cmd log = {.opcode = 0x02, .cdw10 = (48u << 16) | 0xD0}; /* NUMD 48: 196 bytes */
  EXPECT(sef_bridge_transfer_of(SEF_BRIDGE_QUEUE_ADMIN, &log, &t) == 0);
  EXPECTF(t.data_bytes == 196 && t.direction == 2, "log: %llu", (unsigned long long)t.data_bytes);
  sef_bridge_cmd nlw = NamelessWrite(1, 1, 0, 0, 3);
  EXPECT(sef_bridge_transfer_of(SEF_BRIDGE_QUEUE_IO, &nlw, &t) == 0);
  EXPECT(t.data_bytes == 3 * 4096 && t.metadata_bytes == 3 * 16 && t.direction == 1);
  sef_bridge_cmd far = FlashAddressRequest(1, 1, 0);
  EXPECT(sef_bridge_transfer_of(SEF_BRIDGE_QUEUE_IO, &far, &t) == 0);
  EXPECT(t.data_bytes == 144 && t.direction == 2);
  sef_bridge_cmd fifo = {.opcode = 0x0A, .cdw10 = 0xD0, .cdw11 = 1};
  EXPECT(sef_bridge_transfer_of(SEF_BRIDGE_QUEUE_ADMIN, &fifo, &t) == 0);
  EXPECT(t.data_bytes == 4096 && !t.from_fields);
  sef_bridge_cmd unknown = {.opcode = 0x7C};
  EXPECT(sef_bridge_transfer_of(SEF_BRIDGE_QUEUE_IO, &unknown, &t) == 0);
  EXPECT(t.data_bytes == 0 && t.metadata_bytes == 0);
  EXPECT(sef_bridge_transfer_of(2, &c, &t) == -EINVAL);
  EXPECT(sef_bridge_transfer_of(0, NULL, &t) == -EINVAL);
  EXPECT(sef_bridge_transfer_of(0, &c, NULL) == -EINVAL);
}

/* Several threads submit at once (each an iothread) while the main thread drains the queue
 * from its eventfd (the main loop): every tag arrives exactly once. */
enum { kThreads = 3, kPerThread = 200 };

typedef struct {
  sef_bridge_unit* unit;
  uint32_t id;
  int refused;
} Submitter;

static void* SubmitLoop(void* arg) {
  Submitter* s = (Submitter*)arg;
  uint8_t* buf = malloc(4096);
  for (uint32_t i = 0; i < kPerThread; ++i) {
    sef_bridge_cmd c = IdentifySefController(buf);
    if (sef_bridge_submit(s->unit, SEF_BRIDGE_QUEUE_ADMIN, &c, 0, (uint64_t)s->id << 32 | i) != 0) {
      ++s->refused;
    }
  }
  free(buf);
  return NULL;
}

static void TestConcurrentSubmitAndPoll(void) {
  sef_bridge_unit* u = NULL;
  char err[256];
  EXPECTF(sef_bridge_open(kTinyUnit, &u, err, sizeof(err)) == 0, "%s", err);
  if (u == NULL) return;
  Submitter s[kThreads];
  pthread_t threads[kThreads];
  for (uint32_t t = 0; t < kThreads; ++t) {
    s[t] = (Submitter){.unit = u, .id = t, .refused = 0};
    EXPECT(pthread_create(&threads[t], NULL, SubmitLoop, &s[t]) == 0);
  }
  static uint8_t seen[kThreads][kPerThread];
  memset(seen, 0, sizeof(seen));
  int total = 0, bad = 0, idle = 0;
  struct pollfd p = {.fd = sef_bridge_event_fd(u), .events = POLLIN};
  while (total < kThreads * kPerThread && idle < 10) {
    if (poll(&p, 1, 1000) != 1) {
      ++idle;
      continue;
    }
    sef_bridge_completion c[16];
    size_t n;
    while ((n = sef_bridge_poll(u, c, 16)) > 0) {
      for (size_t i = 0; i < n; ++i) {
        const uint32_t t = (uint32_t)(c[i].tag >> 32), k = (uint32_t)c[i].tag;
        if (t >= kThreads || k >= kPerThread || seen[t][k] || c[i].status != 0) {
          ++bad;
          continue;
        }
        seen[t][k] = 1;
        ++total;
      }
    }
  }
  for (uint32_t t = 0; t < kThreads; ++t) {
    pthread_join(threads[t], NULL);
    EXPECT(s[t].refused == 0);
  }
  EXPECTF(total == kThreads * kPerThread, "%d of %d completions", total, kThreads * kPerThread);
  EXPECT(bad == 0);
  EXPECT(!Readable(p.fd));
  sef_bridge_close(u);
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "--open") == 0) return OpenInChild(argv[2], argv[3]);
  /* Unit numbers resolve in a clean environment: no units file but one that turns host
   * discovery off, and the embedded default unit in a temporary data directory. */
  char path[4096];
  snprintf(path, sizeof(path), "%s/units.json", TempDir());
  FILE* f = fopen(path, "w");
  if (f != NULL) {
    fputs("{\"discover\": false}\n", f);
    fclose(f);
  }
  setenv("SEF_UNITS_FILE", path, 1);
  snprintf(path, sizeof(path), "%s/data", TempDir());
  setenv("SEF_DATA_DIR", path, 1);

  TestBadConfigNamesTheField();
  TestUnitNames();
  TestNullArguments();
  TestTransfer();
  TestEndToEnd();
  TestDefaultUnit();
  TestConcurrentSubmitAndPoll();
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
