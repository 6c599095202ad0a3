/*
 * The C ABI of the SEF stack for QEMU (and any other C program): libsefbridge.so.
 *
 * Units are named as everywhere in the stack (sef/units/units.h, docs/qemu-devices.md): a
 * number ("0": the embedded default unit unless configured otherwise) or a HAL spec
 * ("model:<config.json>[:<backing file>]", "/dev/nvmeN"). The library keeps one process-wide
 * table of open units: every handle that names the same unit (the same backing file) shares
 * one open unit; a second process is refused by the backing file's lock.
 *
 * An emulated controller handle (sef_bridge_unit) runs the SEF device model of a model unit
 * and exchanges raw NVMe commands with it. The host (QEMU) never gets a call from the
 * library: completions go into a per-handle queue and an eventfd becomes readable; the host
 * drains the queue from its own event loop.
 *
 *   sef_bridge_unit* u;
 *   char err[256];
 *   if (sef_bridge_open("0", &u, err, sizeof(err)) != 0) { fprintf(stderr, "%s\n", err); exit(1); }
 *   qemu_set_fd_handler(sef_bridge_event_fd(u), on_ready, NULL, u);  // or aio_set_fd_handler
 *   sef_bridge_submit(u, 0, &cmd, 0, tag);                  // I/O queue, contiguous data
 *   ...
 *   void on_ready(void* opaque) {                            // QEMU's fd handler
 *     sef_bridge_completion c[64];
 *     size_t n;
 *     while ((n = sef_bridge_poll(opaque, c, 64)) > 0) { ... complete c[i].tag ... }
 *   }
 *   sef_bridge_close(u);
 *
 * Commands. A sef_bridge_cmd is the 72-byte layout of `struct nvme_uring_cmd` (that is, a
 * `struct nvme_passthru_cmd64` without its result): an NVMe submission entry whose data and
 * metadata pointers are HOST addresses (QEMU maps guest PRPs/SGLs first;
 * sef_bridge_transfer_of says how many bytes a command moves). The buffers must stay valid and
 * untouched by the host until the command's completion is polled (or the handle is closed). The
 * model decodes the command exactly as SEF hardware would and answers malformed commands with an
 * NVMe status, never with a submit error: sef_bridge_submit fails only for arguments the bridge
 * cannot even hand over (NULL pointers, unknown flags, an impossible size).
 *
 * Data. Without SEF_BRIDGE_VECTORED, `addr` points at `data_len` contiguous bytes. With it,
 * `addr` points at an array of `data_len` POSIX `struct iovec` (<sys/uio.h>), so QEMU can
 * pass guest memory it mapped (a QEMUIOVector's iov) as it is. Either form is accepted for
 * EVERY opcode: the bridge wraps a contiguous buffer in one iovec for the commands the model
 * reads as iovec lists (Nameless Write 0xD1 and Read 0xD6, I/O queue), and gathers an iovec
 * list into a bounce buffer (scattered back at completion) for every other command. The two
 * commands that wait for a partner (Flash Address Request, Nameless Copy) always work on a
 * bounce buffer of the library's. The iovec array, like the buffers it points at, must stay
 * valid until the completion is polled. Metadata is always contiguous (`metadata`,
 * `metadata_len`).
 *
 * Completions. Every accepted command completes exactly once, in the queue, with its tag.
 * Most complete before sef_bridge_submit returns (their completion is already queued); a
 * Flash Address Request completes when its Nameless Write arrives, a Nameless Copy when its
 * Get Copy Result arrives, an Asynchronous Event Request when an event is raised. A FAR or NLC
 * left unpaired is aborted (Abort Requested) after the model's unpaired timeout, which only
 * advances when commands are submitted or sef_bridge_tick is called: call it about once a
 * second (a QEMU timer), so that time-driven work (timeouts, open super block expiry, patrol
 * events) happens on an idle unit too.
 *
 * Thread-safety. Every function but the close functions may be called from any threads at
 * once (QEMU's main loop and iothreads): the model is thread-safe and each queue has its own
 * lock. The library's threads (HAL, FTL, ZNS) never call the host. A close function must be
 * the last call on its handle, made when no other call on it is running.
 *
 * Errors. Functions returning int return 0 (or a count/fd) on success and a negative
 * errno-style code on failure. No C++ exception ever leaves the library: an internal failure
 * becomes -ENOMEM (out of memory) or -EIO.
 */
#ifndef SEF_QEMU_BRIDGE_SEF_BRIDGE_H_
#define SEF_QEMU_BRIDGE_SEF_BRIDGE_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#if defined(__GNUC__)
#define SEF_BRIDGE_API __attribute__((visibility("default")))
#else
#define SEF_BRIDGE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change of this header; sef_bridge_info.abi_version reports the
 * library's value. 3: disks (sef_bridge_disk_*). 4: block disks work (the block FTL),
 * sef_bridge_disk_write_zeroes. */
#define SEF_BRIDGE_ABI_VERSION 4

/* sef_bridge_submit `admin` argument. */
#define SEF_BRIDGE_QUEUE_IO 0
#define SEF_BRIDGE_QUEUE_ADMIN 1

/* sef_bridge_submit `flags` bits. */
#define SEF_BRIDGE_VECTORED 0x1u /* addr = struct iovec[data_len] instead of a buffer */

/* Most bytes one command may move through a bounce buffer (the largest contiguous NVMe
 * transfer, a 32-bit data_len). */
#define SEF_BRIDGE_MAX_DATA_BYTES 0xFFFFFFFFu
/* Most iovec entries one vectored command may carry (Linux's IOV_MAX). */
#define SEF_BRIDGE_MAX_IOVECS 1024u

typedef struct sef_bridge_unit sef_bridge_unit;

/* An NVMe submission entry with host pointers: the layout of struct nvme_uring_cmd, i.e. the
 * first 72 bytes of struct nvme_passthru_cmd64 (offsets in comments). */
typedef struct sef_bridge_cmd {
  uint8_t opcode;        /*  0 */
  uint8_t flags;         /*  1 CDW0 bits 15:8; pass 0 (the bridge moves host memory) */
  uint16_t rsvd1;        /*  2 */
  uint32_t nsid;         /*  4 */
  uint32_t cdw2;         /*  8 */
  uint32_t cdw3;         /* 12 */
  uint64_t metadata;     /* 16 host pointer to metadata_len bytes, or 0 */
  uint64_t addr;         /* 24 host pointer: the data, or struct iovec[] (VECTORED) */
  uint32_t metadata_len; /* 32 */
  uint32_t data_len;     /* 36 bytes, or the iovec count (VECTORED) */
  uint32_t cdw10;        /* 40 */
  uint32_t cdw11;        /* 44 */
  uint32_t cdw12;        /* 48 */
  uint32_t cdw13;        /* 52 */
  uint32_t cdw14;        /* 56 */
  uint32_t cdw15;        /* 60 */
  uint32_t timeout_ms;   /* 64 informational; the model applies its own timeouts */
  uint32_t rsvd2;        /* 68 */
} sef_bridge_cmd;

typedef struct sef_bridge_completion {
  uint64_t tag;    /* as given to sef_bridge_submit */
  uint64_t result; /* CQE DW1:DW0 (DW0 in bits 31:0) */
  uint16_t status; /* CQE DW3 bits 31:17: SC[7:0] SCT[10:8] CRD[12:11] M[13] DNR[14];
                      0 = success. Shift left by 1 and OR the phase bit for a CQE. */
  uint16_t rsvd[3];
} sef_bridge_completion; /* 24 bytes */

/* What a host needs to present the unit. Strings are NUL-terminated printable ASCII (an NVMe
 * Identify pads SN/MN with spaces: do that when copying). 256 bytes. */
typedef struct sef_bridge_info {
  uint32_t abi_version;           /*   0 SEF_BRIDGE_ABI_VERSION of the library */
  uint32_t max_qos_domains;       /*   4 Identify Controller NN: QoS domain ids 1..NN */
  uint32_t capabilities;          /*   8 Identify CNS 06h `cap` bits */
  uint32_t max_outstanding_aers;  /*  12 Identify Controller AERL + 1 */
  uint32_t channels;              /*  16 geometry, one-based */
  uint32_t banks_per_channel;     /*  20 dies = channels * banks_per_channel */
  uint32_t planes;                /*  24 */
  uint32_t pages_per_block;       /*  28 */
  uint32_t blocks_per_die;        /*  32 */
  uint32_t plane_data_bytes;      /*  36 */
  uint32_t max_placement_ids;     /*  40 per QoS domain */
  uint32_t max_open_super_blocks; /*  44 per QoS domain */
  uint32_t read_fifos;            /*  48 */
  uint32_t adu_data_bytes;        /*  52 4096: the LBA format's data size */
  uint32_t adu_metadata_bytes;    /*  56 16: the LBA format's metadata size */
  uint8_t super_block_id_bits;    /*  60 address widths of every virtual device */
  uint8_t adu_offset_bits;        /*  61 */
  uint8_t pslc;                   /*  62 1: pSLC super blocks offered */
  uint8_t persistent;             /*  63 1: backed by a file (state survives close) */
  uint64_t total_adus;            /*  64 raw capacity in ADUs */
  char serial[24];                /*  72 Identify SN, at most 20 characters */
  char model[48];                 /*  96 Identify MN, at most 40 characters */
  char name[64];                  /* 144 the unit config's name (truncated to 63) */
  uint8_t rsvd[48];               /* 208 zero */
} sef_bridge_info;

/* Opens an emulated controller on the model unit `unit` names (a unit number or spec, see
 * above): the unit already open in this process, or opens it (the embedded default unit is
 * provisioned on first use). A unit on the host (/dev/nvmeN) cannot be emulated.
 * Returns 0 and sets *out, or a negative code and sets *out = NULL:
 *   -EINVAL  bad argument, a malformed unit name, an invalid config, a host unit
 *            ("testdata/units/x.json: geometry.planes: 0 is outside 1..256")
 *   -ENOENT  no such unit number, config or backing file directory; -EACCES permission denied
 *   -EBUSY   the backing file cannot be used as given: locked by another process, created
 *            for another configuration, or not a SEF model file (of this format version)
 *   -EIO     corrupt backing file or another failure; -ENOMEM out of memory
 * `err` (may be NULL; err_len bytes including the NUL) receives one line without a trailing
 * newline on failure, naming the unit and how it was found, and "" on success. */
SEF_BRIDGE_API int sef_bridge_open(const char* unit, sef_bridge_unit** out, char* err,
                                   size_t err_len);

/* Closes the handle; the unit closes (flushing and unlocking its backing file) when no other
 * handle of this process uses it. NULL is a no-op. Completions not yet polled are DISCARDED,
 * and so is any completion of this handle's commands that arrives later (a command still
 * parked in a shared unit): nothing is delivered after close starts, so the host must treat
 * every tag it has not seen complete as dead (QEMU is tearing the device down). Once close
 * returns, no host buffer of any of the handle's commands is referenced. */
SEF_BRIDGE_API void sef_bridge_close(sef_bridge_unit* unit);

/* The unit's eventfd (non-blocking, close-on-exec; owned by the unit, closed by
 * sef_bridge_close). It is readable exactly while completions wait in the queue:
 * sef_bridge_poll resets it when it takes the last one, so the host need not read it (if it
 * does, it must then poll until the queue is empty). Returns the fd or -EINVAL. */
SEF_BRIDGE_API int sef_bridge_event_fd(sef_bridge_unit* unit);

/* Moves up to `max` completions, oldest first, into out[0..n) and returns n (0 when the
 * queue is empty, or on a NULL argument). Never blocks on I/O. */
SEF_BRIDGE_API size_t sef_bridge_poll(sef_bridge_unit* unit, sef_bridge_completion* out,
                                      size_t max);

/* Submits one command. `admin`: SEF_BRIDGE_QUEUE_ADMIN (1) or SEF_BRIDGE_QUEUE_IO (0).
 * `flags`: 0 or SEF_BRIDGE_VECTORED. `tag` is opaque to the bridge and comes back in the
 * completion (tags need not be unique; the host matches them).
 * Returns 0 when the command was accepted (its completion will be queued, possibly already
 * is), or a negative code and queues nothing:
 *   -EINVAL  NULL unit or cmd, admin not 0/1, unknown flags, a vectored list with more than
 *            SEF_BRIDGE_MAX_IOVECS entries or a NULL array, a non-zero length with a NULL
 *            buffer
 *   -E2BIG   a bounced iovec list above SEF_BRIDGE_MAX_DATA_BYTES
 *   -ENOMEM  out of memory; -EIO another internal failure */
SEF_BRIDGE_API int sef_bridge_submit(sef_bridge_unit* unit, int admin, const sef_bridge_cmd* cmd,
                                     uint32_t flags, uint64_t tag);

/* Runs the model's time-driven work now (unpaired-command timeouts, open super block expiry,
 * patrol events); completions it causes are queued. Call about once a second. */
SEF_BRIDGE_API void sef_bridge_tick(sef_bridge_unit* unit);

/* A controller reset (the guest's driver reset the NVMe controller): every command parked
 * in the model (Asynchronous Event Requests, a FAR or NLC waiting for its partner) completes
 * through the queue with Abort Requested (status 0x4007), so that no stale command pairs
 * with the next driver's. The unit's state and data are untouched. When other handles of
 * this process share the unit (a disk on one of its QoS domains), their commands may be
 * parked too and must not be aborted: then nothing is aborted, and a stale FAR or NLC of the
 * guest's ends at the model's unpaired timeout instead. */
SEF_BRIDGE_API void sef_bridge_reset(sef_bridge_unit* unit);

/* Bytes a command moves, computed from its fields by the command set codec (an NVMe
 * submission entry carries PRPs or SGLs, not a length). */
typedef struct sef_bridge_transfer {
  uint64_t data_bytes;
  uint64_t metadata_bytes; /* when the command carries metadata (MPTR non-zero) */
  uint8_t direction;       /* 0 none, 1 host to device, 2 device to host */
  uint8_t from_fields;     /* 0: no field gives the length; data_bytes is the usual 4096 */
  uint8_t rsvd[6];
} sef_bridge_transfer; /* 24 bytes */

/* Fills *out for `cmd` on the admin (1) or I/O (0) queue. Every opcode has an answer (0
 * bytes for commands that move nothing and for opcodes the command set does not define).
 * Returns 0, or -EINVAL for a NULL argument or a queue other than 0/1. */
SEF_BRIDGE_API int sef_bridge_transfer_of(int admin, const sef_bridge_cmd* cmd,
                                          sef_bridge_transfer* out);

/* Fills *out. Returns 0 or -EINVAL (NULL argument). */
SEF_BRIDGE_API int sef_bridge_unit_info(sef_bridge_unit* unit, sef_bridge_info* out);

/* ---- Disks: a QoS domain as a block device or a zoned namespace ----------------------------
 *
 * A disk handle is one QoS domain of a unit (named as above; the unit is shared with every
 * other handle of the process that names it), used through one of the stack's layers:
 *   SEF_BRIDGE_DISK_BLOCK  the block FTL (sef/ftl): read, write (FUA), trim, write zeroes,
 *                          flush
 *   SEF_BRIDGE_DISK_ZONED  the zoned namespace (sef/zns): read, write (FUA), append, flush,
 *                          zone management send, zone report; zone = super block
 * Open mounts the domain, formatting it first when it is unconfigured; a domain that holds
 * the other kind (or anything else) is refused with one line naming the unit, the domain and
 * what it holds. One handle per domain in a process (a second is refused, naming the first
 * user); another process is refused by the unit (a model's backing file is locked).
 *
 * Blocks are 4096 bytes. I/O calls take an iovec array whose lengths add up to blocks * 4096;
 * the array and the memory it points to must stay valid until the completion is polled.
 * Every accepted call completes exactly once through the disk's queue (sef_bridge_disk_poll,
 * eventfd as for the controller) with its tag and the NVMe status a guest must see (0 =
 * success; the layer's own status where it has one: Zone Is Full is SCT 1 / SC 0xB9, not an
 * errno; otherwise Invalid Field, LBA Out of Range, Namespace Not Ready, Capacity Exceeded or
 * Internal Error). A call the disk's kind does not offer completes with Invalid Opcode. An
 * append's completion carries the first LBA written in `result`. Submit functions fail
 * (negative code, nothing queued) only for arguments they cannot hand over: a NULL disk, a
 * NULL iovec array with a count, more than SEF_BRIDGE_MAX_IOVECS entries.
 *
 * Completions may be queued from the library's threads; the host drains them from its event
 * loop (never a call from the library). Reads, writes and appends of 32 KiB or more, flushes
 * and zone actions start on a thread of the disk's (the data is copied there, not in the
 * caller's thread); smaller ones start in the calling thread when nothing of the disk's is
 * queued. Operations start in the order they were submitted. */
typedef struct sef_bridge_disk sef_bridge_disk;

#define SEF_BRIDGE_DISK_BLOCK 1u
#define SEF_BRIDGE_DISK_ZONED 2u

/* sef_bridge_disk_write / _append `flags` bits. */
#define SEF_BRIDGE_FUA 0x1u /* durable when the completion is queued */

/* Zone Management Send actions (NVMe ZSA). */
#define SEF_BRIDGE_ZONE_CLOSE 0x1u
#define SEF_BRIDGE_ZONE_FINISH 0x2u
#define SEF_BRIDGE_ZONE_OPEN 0x3u
#define SEF_BRIDGE_ZONE_RESET 0x4u
#define SEF_BRIDGE_ZONE_OFFLINE 0x5u

typedef struct sef_bridge_disk_options {
  uint32_t kind;             /* SEF_BRIDGE_DISK_BLOCK or SEF_BRIDGE_DISK_ZONED */
  uint32_t domain;           /* QoS domain id, 1..65535 */
  const char* user;          /* who uses it, for "in use by ..." messages; may be NULL */
  uint64_t zone_size;        /* zoned: blocks, a power of two; 0 = the super block's */
  uint32_t max_open_zones;   /* zoned: 0 = what the domain allows */
  uint32_t max_active_zones; /* zoned: 0 = what the domain allows */
  uint32_t rsvd[8];          /* zero */
} sef_bridge_disk_options;

typedef struct sef_bridge_disk_info {
  uint32_t abi_version;
  uint32_t kind;
  uint32_t block_bytes;          /* 4096 */
  uint32_t volatile_write_cache; /* 1: completed writes may be lost at a power cut until a
                                    flush (the unit's write cache is volatile) */
  uint64_t blocks;               /* capacity */
  uint64_t zone_size;            /* zoned: blocks per zone (a power of two) */
  uint64_t zone_capacity;        /* zoned: writable blocks per zone */
  uint32_t zones;                /* zoned */
  uint32_t max_open_zones;       /* zoned: one-based */
  uint32_t max_active_zones;     /* zoned: one-based */
  uint32_t max_transfer_blocks;  /* zoned: per device command (informational) */
  char description[200];         /* "QoS domain 3 of unit 0 (...)", NUL-terminated */
} sef_bridge_disk_info;          /* 256 bytes */

typedef struct sef_bridge_zone {
  uint64_t start;         /* ZSLBA */
  uint64_t capacity;      /* ZCAP, blocks */
  uint64_t write_pointer; /* WP; ~0 when full, read only or offline */
  uint8_t type;           /* ZT: 2 = sequential write required */
  uint8_t state;          /* ZS: 1 empty, 2 implicitly open, 3 explicitly open, 4 closed,
                             0xD read only, 0xE full, 0xF offline */
  uint8_t attributes;     /* ZA: bit 0 finished by controller */
  uint8_t rsvd[5];
} sef_bridge_zone; /* 32 bytes */

/* Opens (mounting or formatting) a disk on QoS domain options->domain of `unit`.
 * Returns 0 and sets *out, or a negative code, *out = NULL and one line in `err`:
 *   -EINVAL  bad argument, malformed unit name, a zone size or zone limits out of range, a
 *            zone size other than the one the domain was formatted with
 *   -ENOENT  no such unit or QoS domain; -EACCES permission denied
 *   -EBUSY   the domain holds another kind (or foreign data), is used by another handle, or
 *            the unit is used by another process
 *   -EIO     a device or file failure (a corrupt FTL checkpoint); -ENOMEM out of memory */
SEF_BRIDGE_API int sef_bridge_disk_open(const char* unit, const sef_bridge_disk_options* options,
                                        sef_bridge_disk** out, char* err, size_t err_len);
/* Unmounts (waits for the disk's operations, makes every completed write durable) and
 * closes. Completions not polled, and those of operations still running, are discarded.
 * NULL is a no-op. An unmount failure is reported on stderr (it has no other channel); the
 * next open then recovers as after a crash. */
SEF_BRIDGE_API void sef_bridge_disk_close(sef_bridge_disk* disk);
/* Fills *out. Returns 0 or -EINVAL. */
SEF_BRIDGE_API int sef_bridge_disk_get_info(sef_bridge_disk* disk, sef_bridge_disk_info* out);
/* As sef_bridge_event_fd / sef_bridge_poll, for the disk's queue. */
SEF_BRIDGE_API int sef_bridge_disk_event_fd(sef_bridge_disk* disk);
SEF_BRIDGE_API size_t sef_bridge_disk_poll(sef_bridge_disk* disk, sef_bridge_completion* out,
                                           size_t max);

/* I/O. Each returns 0 (accepted; it completes through the queue) or a negative code. */
SEF_BRIDGE_API int sef_bridge_disk_read(sef_bridge_disk* disk, uint64_t lba, uint32_t blocks,
                                        const struct iovec* iov, uint32_t iovcnt, uint64_t tag);
SEF_BRIDGE_API int sef_bridge_disk_write(sef_bridge_disk* disk, uint64_t lba, uint32_t blocks,
                                         const struct iovec* iov, uint32_t iovcnt, uint32_t flags,
                                         uint64_t tag);
/* Zoned: Zone Append to the zone starting at `zslba`; result = the first LBA written. */
SEF_BRIDGE_API int sef_bridge_disk_append(sef_bridge_disk* disk, uint64_t zslba, uint32_t blocks,
                                          const struct iovec* iov, uint32_t iovcnt, uint32_t flags,
                                          uint64_t tag);
/* Block: deallocate; the blocks read zeros afterwards, durable at the next flush. */
SEF_BRIDGE_API int sef_bridge_disk_trim(sef_bridge_disk* disk, uint64_t lba, uint64_t blocks,
                                        uint64_t tag);
/* Block: Write Zeroes. Done as a trim (the blocks read zeros afterwards, no flash is
 * written), so it is durable at the next flush; with SEF_BRIDGE_FUA the disk flushes before
 * completing it. */
SEF_BRIDGE_API int sef_bridge_disk_write_zeroes(sef_bridge_disk* disk, uint64_t lba,
                                                uint64_t blocks, uint32_t flags, uint64_t tag);
/* Makes every write (and trim) completed before the call durable. */
SEF_BRIDGE_API int sef_bridge_disk_flush(sef_bridge_disk* disk, uint64_t tag);
/* Zoned: Zone Management Send `action` (SEF_BRIDGE_ZONE_*) on the zone starting at `zslba`,
 * or with `all` non-zero on every zone in the states NVMe selects for the action. */
SEF_BRIDGE_API int sef_bridge_disk_zone_send(sef_bridge_disk* disk, uint32_t action, uint64_t zslba,
                                             int all, uint64_t tag);
/* Zoned: Zone Management Receive, answered at once (from the zoned layer's memory, no device
 * I/O): up to `max` descriptors of zones matching `filter` (NVMe Zone Receive Action
 * Specific: 0 all, 1 empty, 2 implicitly open, 3 explicitly open, 4 closed, 5 full, 6 read
 * only, 7 offline) from the zone holding `start` on. *matching = the number of matching
 * zones from there (with `partial` non-zero: the number returned). Returns the number of
 * descriptors written; a refusal (LBA Out of Range, Invalid Field, Invalid Opcode on a block
 * disk) returns 0 with the NVMe status in *status (0 on success). -EINVAL for NULL
 * arguments. */
SEF_BRIDGE_API int sef_bridge_disk_zone_report(sef_bridge_disk* disk, uint64_t start,
                                               uint32_t filter, int partial, sef_bridge_zone* out,
                                               uint32_t max, uint64_t* matching, uint16_t* status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SEF_QEMU_BRIDGE_SEF_BRIDGE_H_ */
