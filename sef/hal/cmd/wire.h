// The SEF command set on the wire: constants and packed little-endian data structures.
//
// This header is the single source of truth for bit positions and structure layouts. The
// command encoders and decoders (codec.h) and the software device model both include it;
// a layout is never "fixed" on one side alone. Facts: SEF command set v1.13 as the public
// SEF SDK (seflib 0.44) encodes it. Where the SDK disagrees with itself or with other tools,
// the decision taken is written next to the field.
//
// Every structure is little endian (the only byte order of the machines we run on, checked
// below) and has static_asserts on its size and key offsets.
#ifndef SEF_HAL_CMD_WIRE_H_
#define SEF_HAL_CMD_WIRE_H_

#include <bit>
#include <cstddef>
#include <cstdint>

namespace sef::wire {

static_assert(std::endian::native == std::endian::little,
              "SEF wire structs are little endian and read in place");

// ---------------------------------------------------------------------------------------------
// Command set identity and opcodes (spec §1.2)

inline constexpr uint8_t kCsiSef = 0x30;  // in CDW11[31:24] of Identify and NS Management
inline constexpr uint32_t kAduDataBytes = 4096;
inline constexpr uint32_t kAduMetaBytes = 16;
inline constexpr uint32_t kMaxAdusPerCommand = 0x10000;  // FAR/NLW/Read/NLC element limit
inline constexpr uint32_t kNumRootPointers = 8;

enum class AdminOpcode : uint8_t {
  kGetLogPage = 0x02,
  kIdentify = 0x06,
  kSetFeatures = 0x09,
  kGetFeatures = 0x0A,
  kAsyncEventRequest = 0x0C,
  kNamespaceManagement = 0x0D,
  kNamespaceAttachment = 0x15,
  kCapacityManagement = 0x20,
};

enum class IoOpcode : uint8_t {
  kNamelessWrite = 0xD1,         // second of a FAR+NLW pair, host to controller
  kFlashAddressRequest = 0xD2,   // first of a FAR+NLW pair, controller to host (ARR)
  kRead = 0xD6,                  // controller to host
  kSuperBlockManagement = 0xDA,  // controller to host (SB info)
  kNamelessCopy = 0xDD,          // first of an NLC+GCR pair, host to controller (source)
  kGetCopyResult = 0xDE,         // second of an NLC+GCR pair, controller to host (ACR)
};
// The NVM command set's Flush (no data, no command dwords), which a host that sees a volatile
// write cache (Identify Controller VWC) sends to a namespace, or to all of them with the
// broadcast NSID. Not a SEF command, so it has no request type: the device model accepts it
// on a QoS domain.
inline constexpr uint8_t kNvmFlushOpcode = 0x00;
inline constexpr uint32_t kNsidBroadcast = 0xFFFFFFFF;

enum class IdentifyCns : uint8_t {
  kController = 0x01,
  kSefNamespace = 0x05,        // CSI 0x30, NSID = QoS domain
  kSefController = 0x06,       // CSI 0x30
  kEnduranceGroupList = 0x19,  // CNS-specific id = first ENDGID (VD id) to list
  kCommandSetVector = 0x1C,    // CNTID 0xFFFF
};
inline constexpr uint16_t kCntidAll = 0xFFFF;

enum class LogId : uint8_t {
  kVirtualDeviceInfo = 0xD0,
  kQosDomainList = 0xD1,
  kSuperBlockList = 0xD2,
  kSuperBlockInfo = 0xD3,
  kUserAddressList = 0xD4,
  kAddressChangeOrder = 0xD5,
  kReadFifoList = 0xD6,
};

// LSP[6:4] of Get Log Page 0xD2 (CDW10[14:12]).
enum class SbListOrder : uint8_t {
  kReuse = 0,         // closed, for wear levelling
  kRefresh = 1,       // closed, needing refresh
  kCheck = 2,         // closed, needing check/patrol
  kAll = 3,           // open and closed
  kClosedBySbId = 4,  // closed, by SB id (defined, unused by the SDK)
};

enum class FeatureId : uint8_t {
  kVirtualDeviceManagement = 0xD0,
  kQosDomainManagement = 0xD1,
  kCapacityConfiguration = 0xD2,
};

// CDW11[3:0] of Set/Get Features 0xD0.
enum class VdSelect : uint8_t {
  kDiesPerSuperBlock = 0,
  kAttachReadFifo = 1,  // Get: read FIFO list (deprecated in nvme-cli, kept for the model)
  kChangeReadFifo = 2,
  kDetachReadFifo = 3,
  kPslcSuperBlocks = 4,
  kAenControl = 5,
  kSuspendConfig = 6,
  kResetScheduler = 0xF,
};

// CDW11[3:0] of Set/Get Features 0xD1.
enum class QosdSelect : uint8_t {
  kRootPointer = 0,
  kCapacity = 1,
  kWeights = 2,
  kReadDeadline = 3,
  kMaxOpenSuperBlocks = 4,
  kDefaultReadFifo = 5,
};

// CDW11[19:16] of Super Block Management.
enum class SbOperation : uint8_t {
  kErase = 0,  // allocate
  kClose = 1,
  kFree = 2,  // release
  kPatrol = 3,
  kFlush = 4,
  kPslcErase = 8,
};

enum class ReadDeadline : uint8_t { kTypical = 0, kLong = 1, kHeroic = 2, kFastest = 3 };
enum class DefectStrategy : uint8_t { kPerfect = 0, kPacked = 1, kFragmented = 2 };

// Critical-warning bits of log 0xD0 and the AEN mask of SetF 0xD0 SEL5.
inline constexpr uint8_t kCritOutOfSuperBlocks = 1u << 0;
inline constexpr uint8_t kCritOutOfPslcSuperBlocks = 1u << 1;
inline constexpr uint8_t kCritCapacityReduced = 1u << 2;
inline constexpr uint8_t kCritAll = 0x7;

// SB state bits (SBS) in logs 0xD2 and 0xD3.
inline constexpr uint8_t kSbsFree = 0x01;
inline constexpr uint8_t kSbsClosed = 0x02;
inline constexpr uint8_t kSbsOpenByPlacement = 0x04;
inline constexpr uint8_t kSbsOpenByErase = 0x08;
inline constexpr uint8_t kSbsPslc = 0x40;
inline constexpr uint8_t kSbsOffline = 0x80;

// SB state transition (ST) in log 0xD3 after an SB state-change AEN.
inline constexpr uint8_t kStIntegrityUnknown = 1;  // needs patrol
inline constexpr uint8_t kStNlwClosed = 4;
inline constexpr uint8_t kStNlcClosed = 8;
inline constexpr uint8_t kStEraseClosed = 16;

// Capability bits of Identify 06h `cap`.
enum SefCapability : uint32_t {
  kCapFragmented = 1u << 0,
  kCapPacked = 1u << 1,
  kCapPerfect = 1u << 2,
  kCapMixed = 1u << 3,
  kCapIndependentNlw = 1u << 4,
  kCapCopyUaRange = 1u << 5,
  kCapCopyFlaList = 1u << 6,
  kCapSglRead = 1u << 7,
  kCapSglWrite = 1u << 8,
  kCapFarNlwAnyQueue = 1u << 9,
  kCapNlcGcrAnyQueue = 1u << 10,
  kCapExplicitAduOffset = 1u << 11,
  kCapSbByNlwAndNlc = 1u << 12,
  kCapSharedReadFifos = 1u << 13,
  kCapPslc = 1u << 14,
};

// NLC copy status bits (ACR copyStatus, NLC completion DW0[31:24]).
inline constexpr uint8_t kCopyConsumedSource = 1u << 0;
inline constexpr uint8_t kCopyClosedDestination = 1u << 1;
inline constexpr uint8_t kCopyFilledAcr = 1u << 2;
inline constexpr uint8_t kCopyFilteredUas = 1u << 3;
inline constexpr uint8_t kCopyReadError = 1u << 4;
inline constexpr uint8_t kCopyDestinationDefects = 1u << 5;
inline constexpr uint8_t kCopyNonClosedSource = 1u << 6;

// Asynchronous event result (spec §1.8): AET 6 in bits 2:0, AEI 0x40 in 15:8, LID in 23:16.
inline constexpr uint8_t kAenTypeCommandSetSpecific = 6;
inline constexpr uint8_t kAenInfoSef = 0x40;

// ---------------------------------------------------------------------------------------------
// NVMe status values (15-bit status field: SC[7:0], SCT[10:8], CRD[12:11], M[13], DNR[14]).

enum class StatusCodeType : uint8_t {
  kGeneric = 0,
  kCommandSpecific = 1,
  kMediaAndDataIntegrity = 2,
  kPath = 3,
  kVendorSpecific = 7,
};

namespace sc {  // status codes used by the SEF command set and the model
// Generic (SCT 0)
inline constexpr uint8_t kSuccess = 0x00;
inline constexpr uint8_t kInvalidOpcode = 0x01;
inline constexpr uint8_t kInvalidField = 0x02;
inline constexpr uint8_t kCommandIdConflict = 0x03;
inline constexpr uint8_t kDataTransferError = 0x04;
// Command Aborted due to Power Loss Notification
inline constexpr uint8_t kAbortedPowerLoss = 0x05;
inline constexpr uint8_t kInternalError = 0x06;
inline constexpr uint8_t kAbortRequested = 0x07;
inline constexpr uint8_t kInvalidNamespace = 0x0B;
inline constexpr uint8_t kCommandSequenceError = 0x0C;
inline constexpr uint8_t kLbaOutOfRange = 0x80;
inline constexpr uint8_t kCapacityExceeded = 0x81;  // also "first ADU defect" on LD2
inline constexpr uint8_t kNamespaceNotReady = 0x82;
// Command specific (SCT 1)
inline constexpr uint8_t kInvalidLogPage = 0x09;
inline constexpr uint8_t kFeatureNotChangeable = 0x0E;
inline constexpr uint8_t kNamespaceInsufficientCapacity = 0x15;
inline constexpr uint8_t kNamespaceIdUnavailable = 0x16;
inline constexpr uint8_t kNamespaceAlreadyAttached = 0x18;
inline constexpr uint8_t kNamespaceIsPrivate = 0x19;
inline constexpr uint8_t kNamespaceNotAttached = 0x1A;
inline constexpr uint8_t kInvalidControllerList = 0x1C;
inline constexpr uint8_t kAsyncEventLimitExceeded = 0x05;  // more AERs than the controller keeps
// NVMe ZNS (SCT 1). SEF v1.13 names no status for "too many open super blocks"; the model
// answers the ZNS one for the same condition.
inline constexpr uint8_t kZoneBoundaryError = 0xB8;
inline constexpr uint8_t kZoneIsFull = 0xB9;
inline constexpr uint8_t kZoneIsReadOnly = 0xBA;
inline constexpr uint8_t kZoneIsOffline = 0xBB;
inline constexpr uint8_t kZoneInvalidWrite = 0xBC;
inline constexpr uint8_t kTooManyActiveZones = 0xBD;
inline constexpr uint8_t kTooManyOpenZones = 0xBE;
inline constexpr uint8_t kTooManyOpenSuperBlocks = kTooManyOpenZones;
inline constexpr uint8_t kInvalidZoneStateTransition = 0xBF;
// Media and data integrity (SCT 2)
inline constexpr uint8_t kWriteFault = 0x80;
inline constexpr uint8_t kUnrecoveredReadError = 0x81;
inline constexpr uint8_t kCompareFailure = 0x85;  // user-address verify mismatch
inline constexpr uint8_t kAccessDenied = 0x86;    // an SB of another QoS domain
inline constexpr uint8_t kDeallocatedOrUnwritten = 0x87;
// Vendor specific (SCT 7)
inline constexpr uint8_t kPartialWrite = 0xF0;  // SEF_PARTIAL_WRITE = 0x7F0
}  // namespace sc

// ---------------------------------------------------------------------------------------------
// Data structures (spec §1.5). Offsets in comments are byte offsets.

#pragma pack(push, 1)

// Identify CNS 06h / CSI 30h: SEF controller structure.
struct IdentifySefController {
  uint32_t cap;    // 0  SefCapability bits
  uint8_t nch;     // 4  channels, 0-based
  uint8_t nbnk;    // 5  banks per channel, 0-based
  uint16_t nblk;   // 6  blocks per die, 0-based
  uint16_t npag;   // 8  pages per block, 0-based
  uint8_t npl;     // 10 planes, 0-based
  uint8_t plds;    // 11 log2(plane data size): ADUs per plane page = 2^(plds - 12)
  uint16_t eop;    // 12 expiration of open period, seconds
  uint16_t nplid;  // 14 max placement ids, 0-based
  uint32_t mxosb;  // 16 max open super blocks
  uint32_t nrf;    // 20 read FIFOs
  uint8_t npsi;    // 24 pages to secure integrity
  uint8_t rsvd25[39];
  uint32_t nurf;   // 64 read FIFOs in use
  uint16_t nvd;    // 68 virtual devices
  uint16_t nqosd;  // 70 QoS domains
  uint8_t rsvd72[4096 - 72];
};
static_assert(sizeof(IdentifySefController) == 4096);
static_assert(offsetof(IdentifySefController, plds) == 11);
static_assert(offsetof(IdentifySefController, mxosb) == 16);
static_assert(offsetof(IdentifySefController, npsi) == 24);
static_assert(offsetof(IdentifySefController, nurf) == 64);
static_assert(offsetof(IdentifySefController, nqosd) == 70);

// Standard Identify Controller (CNS 01h): only the fields this project reads or sets.
struct IdentifyController {
  uint16_t vid;            // 0
  uint16_t ssvid;          // 2
  char sn[20];             // 4
  char mn[40];             // 24
  char fr[8];              // 64
  uint8_t rab;             // 72
  uint8_t ieee[3];         // 73
  uint8_t cmic;            // 76
  uint8_t mdts;            // 77
  uint16_t cntlid;         // 78
  uint32_t ver;            // 80
  uint32_t rtd3r;          // 84
  uint32_t rtd3e;          // 88
  uint32_t oaes;           // 92
  uint32_t ctratt;         // 96  bit 13: delete endurance group supported
  uint8_t rsvd100[156];    // 100
  uint16_t oacs;           // 256
  uint8_t acl;             // 258
  uint8_t aerl;            // 259
  uint8_t frmw;            // 260
  uint8_t lpa;             // 261
  uint8_t elpe;            // 262
  uint8_t npss;            // 263
  uint8_t rsvd264[248];    // 264
  uint8_t sqes;            // 512
  uint8_t cqes;            // 513
  uint16_t maxcmd;         // 514
  uint32_t nn;             // 516 number of namespaces = max QoS domain id
  uint8_t rsvd520[5];      // 520 oncs, fuses, fna: not set
  uint8_t vwc;             // 525 bit 0: volatile write cache present; 2:1 broadcast Flush
  uint8_t rsvd526[242];    // 526
  char subnqn[256];        // 768
  uint8_t rsvd1024[3072];  // 1024
};
static_assert(sizeof(IdentifyController) == 4096);
static_assert(offsetof(IdentifyController, ctratt) == 96);
static_assert(offsetof(IdentifyController, oacs) == 256);
static_assert(offsetof(IdentifyController, nn) == 516);
static_assert(offsetof(IdentifyController, vwc) == 525);
static_assert(offsetof(IdentifyController, subnqn) == 768);
inline constexpr uint32_t kCtrattDeleteEnduranceGroup = 1u << 13;
inline constexpr uint8_t kVwcPresent = 1u << 0;
inline constexpr uint8_t kVwcFlushBroadcast = 3u << 1;  // bits 2:1 = 11b: Flush takes NSID ~0

// Super block statistics inside the SEF namespace structure (64 B).
struct NamespaceSbStats {
  uint64_t quota;  // 0  plane pages
  uint64_t gcap;   // 8  plane pages
  uint64_t ucap;   // 16 plane pages
  uint32_t nsb;    // 24
  uint16_t nwosb;  // 28 open for write
  uint8_t neosb;   // 30 open by erase
  uint8_t rsvd31[33];
};
static_assert(sizeof(NamespaceSbStats) == 64);
static_assert(offsetof(NamespaceSbStats, nsb) == 24);
static_assert(offsetof(NamespaceSbStats, neosb) == 30);

struct LbaFormat {
  uint16_t ms;    // metadata bytes per LBA (16 for SEF ADUs)
  uint8_t lbads;  // log2(LBA data size) (12 for SEF ADUs)
  uint8_t rp;
};
static_assert(sizeof(LbaFormat) == 4);

// Identify CNS 05h / CSI 30h; also the NS Management create payload (4096 B).
struct IdentifySefNamespace {
  uint64_t nsze;   // 0
  uint64_t ncap;   // 8
  uint64_t nuse;   // 16
  uint8_t nsfeat;  // 24
  uint8_t nlbaf;   // 25
  uint8_t flbas;   // 26
  uint8_t mc;      // 27
  uint8_t dpc;     // 28
  uint8_t dps;     // 29
  uint8_t rsvd30[72];
  uint16_t endgid;  // 102 virtual device id
  uint8_t rsvd104[24];
  LbaFormat lbaf[64];  // 128
  uint8_t rsvd384[384];
  uint32_t qosds;  // 768 bits 1:0 read deadline, bits 3:2 defect strategy
  uint16_t nplid;  // 772 placement ids, 0-based
  uint16_t mxosb;  // 774 max open super blocks
  uint16_t wwt;    // 776 program (write) weight
  uint16_t ewt;    // 778 erase weight
  uint32_t drfid;  // 780 default read FIFO
  uint8_t rsvd784[48];
  NamespaceSbStats sbsta;              // 832
  NamespaceSbStats psbsta;             // 896 pSLC
  uint64_t rootptr[kNumRootPointers];  // 960
  uint8_t rsvd1024[3072];
};
static_assert(sizeof(IdentifySefNamespace) == 4096);
static_assert(offsetof(IdentifySefNamespace, flbas) == 26);
static_assert(offsetof(IdentifySefNamespace, dps) == 29);
static_assert(offsetof(IdentifySefNamespace, endgid) == 102);
static_assert(offsetof(IdentifySefNamespace, lbaf) == 128);
static_assert(offsetof(IdentifySefNamespace, qosds) == 768);
static_assert(offsetof(IdentifySefNamespace, nplid) == 772);
static_assert(offsetof(IdentifySefNamespace, drfid) == 780);
static_assert(offsetof(IdentifySefNamespace, sbsta) == 832);
static_assert(offsetof(IdentifySefNamespace, psbsta) == 896);
static_assert(offsetof(IdentifySefNamespace, rootptr) == 960);

// An NVMe list of 16-bit ids: Identify CNS 19h (endurance groups = VDs) and the controller
// list of NS Attachment.
struct IdList16 {
  uint16_t count;  // 0
  uint16_t ids[2047];
};
static_assert(sizeof(IdList16) == 4096);

// Identify CNS 1Ch: I/O command set vectors. SEF is supported when vector[0] has bit 0x30.
struct CommandSetVectors {
  uint64_t vector[512];
};
static_assert(sizeof(CommandSetVectors) == 4096);
inline constexpr uint64_t kCommandSetVectorSefBit = uint64_t{1} << kCsiSef;

// Super block statistics inside the VD info log (64 B).
struct VdSbStats {
  uint64_t tcap;   // 0
  uint64_t tgcap;  // 8
  uint64_t ucap;   // 16
  uint32_t nfrsb;  // 24 free
  uint32_t nclsb;  // 28 closed
  uint32_t neosb;  // 32 open by erase
  uint32_t nwosb;  // 36 open for write
  uint8_t rsvd40[24];
};
static_assert(sizeof(VdSbStats) == 64);
static_assert(offsetof(VdSbStats, nwosb) == 36);

// Log 0xD0: virtual device information, followed by (ndie + 1) 16-bit die ids.
struct VdInfoLogHeader {
  uint16_t vdid;      // 0
  uint8_t crit_warn;  // 2
  uint8_t cwc;        // 3 enabled critical warnings
  uint32_t cesn;      // 4 current erase serial number
  uint8_t max_pe;     // 8
  uint8_t avg_pe;     // 9
  uint16_t nsbdie;    // 10 dies per super block
  uint8_t sbbw;       // 12 super block id bits, 0-based
  uint8_t aobw;       // 13 ADU offset bits, 0-based
  uint16_t rpc;       // 14 recommended patrol cycle, minutes
  uint32_t mxosb;     // 16
  uint32_t drfid;     // 20 default read FIFO
  uint32_t nrf;       // 24
  uint32_t npblk;     // 28 pSLC blocks
  uint64_t vdcap;     // 32
  uint64_t vdgcap;    // 40
  uint64_t vducap;    // 48
  uint8_t rsvd56[8];
  VdSbStats sbsta;    // 64
  VdSbStats psbsta;   // 128
  uint16_t ass_qosd;  // 192 associated QoS domains
  uint16_t ndie;      // 194 dies, 0-based
  // uint16_t die_ids[ndie + 1] follow at 196.
};
static_assert(sizeof(VdInfoLogHeader) == 196);
static_assert(offsetof(VdInfoLogHeader, sbbw) == 12);
static_assert(offsetof(VdInfoLogHeader, vdcap) == 32);
static_assert(offsetof(VdInfoLogHeader, sbsta) == 64);
static_assert(offsetof(VdInfoLogHeader, psbsta) == 128);
static_assert(offsetof(VdInfoLogHeader, ndie) == 194);

// Log 0xD2: super block list. A descriptor with sbid 0xFFFFFFFF ends the list.
struct SbListEntry {
  uint32_t sbid;  // 0
  uint8_t peci;   // 4 program/erase count index
  uint8_t sbs;    // 5 state bits (the SDK's DII/SBS byte is read as SBS; decision: SBS)
  uint16_t rsvd;
};
static_assert(sizeof(SbListEntry) == 8);
inline constexpr uint32_t kSbListEnd = 0xFFFFFFFF;

// Log 0xD3: super block information (256 B); also the data-in of SBM close and flush.
struct SbInfoLog {
  uint16_t vdid;    // 0
  uint8_t st;       // 2 state transition
  uint8_t sbs;      // 3 state bits
  uint32_t sbid;    // 4
  uint16_t pid;     // 8 placement id
  uint16_t qosdid;  // 10
  uint8_t peci;     // 12
  uint8_t dii;      // 13 data integrity index
  uint16_t tl;      // 14 time left, minutes
  uint32_t cap;     // 16 capacity, ADUs
  uint32_t aduptr;  // 20 written ADUs
  uint32_t esn;     // 24 erase serial number
  uint16_t dgid;    // 28 die group
  uint16_t ndpl;    // 30 defective planes
  uint8_t rsvd32[96];
  uint8_t dbm[128];  // 128 defect bitmap, one bit per plane
};
static_assert(sizeof(SbInfoLog) == 256);
static_assert(offsetof(SbInfoLog, cap) == 16);
static_assert(offsetof(SbInfoLog, aduptr) == 20);
static_assert(offsetof(SbInfoLog, ndpl) == 30);
static_assert(offsetof(SbInfoLog, dbm) == 128);

// Log 0xD4: user address list, one 64-bit user address per ADU of the SB (all-ones when
// unwritten). Decision: 8 B entries as the SDK library reads them; nvme-cli's 24 B decoder
// (UA + metadata) disagrees and is not followed.
using UserAddressListEntry = uint64_t;

// Log 0xD5: address change order, after an NLW completed with a non-zero ACO id.
struct AcoLogHeader {
  uint64_t sua;    // 0  starting user address
  uint64_t fla;    // 8  starting (tentative) flash address
  uint16_t nadu;   // 16 ADUs, 0-based
  uint16_t naco;   // 18 entries, 0-based. Decision: u16 at 18 as the library reads it;
                   //    nvme-cli's u32 at 20 would overlap nlwid.
  uint32_t nlwid;  // 20
  uint32_t nadul;  // 24 ADUs left in the SB
  uint16_t ndp;    // 28
  uint16_t rsvd30;
};
static_assert(sizeof(AcoLogHeader) == 32);
static_assert(offsetof(AcoLogHeader, naco) == 18);
static_assert(offsetof(AcoLogHeader, nlwid) == 20);

// An address change: ACO log entries and ACR entries share this 24-byte layout.
struct AddressChange {
  uint64_t ua;   // user address
  uint64_t ofa;  // old (tentative or source) flash address
  uint64_t nfa;  // new flash address; all-ones = not written
};
static_assert(sizeof(AddressChange) == 24);

// Log 0xD6: read FIFO list; an entry with rfid 0 ends it.
struct ReadFifoEntry {
  uint32_t rfid;    // 0
  uint16_t vdid;    // 4
  uint16_t weight;  // 6
};
static_assert(sizeof(ReadFifoEntry) == 8);

// FAR data-in: address request response (144 B).
struct SbExtent {
  uint32_t nfla;  // 0 flash addresses assigned in this SB
  uint16_t ndp;   // 4 defective planes
  uint16_t rsvd;
  uint64_t sfla;  // 8 first tentative address; ADU j of the extent is sfla + j
};
static_assert(sizeof(SbExtent) == 16);

inline constexpr int kMaxArrExtents = 8;
struct AddressRequestResponse {
  uint8_t nsb;     // 0 extents (<= 8)
  uint8_t ndpb;    // 1 defect bitmap bytes
  uint16_t npsp;   // 2 planes per super page
  uint32_t nradu;  // 4 ADUs remaining in the last SB (0 = it closed)
  uint8_t rsvd8[8];
  SbExtent sbis[kMaxArrExtents];  // 16
};
static_assert(sizeof(AddressRequestResponse) == 144);
static_assert(offsetof(AddressRequestResponse, nradu) == 4);
static_assert(offsetof(AddressRequestResponse, sbis) == 16);

// NLC data-out: the source descriptor. Always starts with the user-address range (all zero
// when no filter), then either a bitmap (sfla + 32-bit words; bit 0 <-> ADU offset
// sfla & ~0x3F) or a list of 64-bit flash addresses.
struct UserAddressRange {
  uint64_t start;   // 0
  uint64_t length;  // 8 ADUs; 0 = no filter
};
static_assert(sizeof(UserAddressRange) == 16);
inline constexpr uint32_t kNlcBitmapHeaderBytes = sizeof(UserAddressRange) + 8;  // UAR + sfla
inline constexpr uint64_t kNlcBitmapAlignMask = 0x3F;

// GCR data-in: address change request (ACR), followed by AddressChange entries.
struct AcrHeader {
  uint32_t processed_adus;   // 0
  uint32_t next_adu_offset;  // 4 bitmap: next ADU; list: next entry
  uint32_t read_error_adus;  // 8
  uint32_t adus_left;        // 12 in the destination
  uint8_t copy_status;       // 16 kCopy* bits
  uint8_t rsvd17[7];
};
static_assert(sizeof(AcrHeader) == 24);
static_assert(offsetof(AcrHeader, copy_status) == 16);

// Set Features 0xD2 data-out: capacity configuration descriptor. Header, then per
// endurance group (= virtual device) one 0x58-byte descriptor followed by chmus media-unit
// (die) descriptors. Total = 0x20 + egcn * 0x58 + total dies * 8.
struct CapacityConfigHeader {
  uint16_t cci;   // 0 capacity configuration id
  uint16_t di;    // 2 domain id
  uint16_t egcn;  // 4 endurance group descriptors
  uint8_t rsvd6[26];
};
static_assert(sizeof(CapacityConfigHeader) == 0x20);

struct EnduranceGroupConfig {
  uint16_t endgid;  // 0
  uint16_t caf;     // 2 capacity adjustment factor
  uint8_t rsvd4[76];
  uint16_t egsets;   // 80
  uint16_t egchans;  // 82 channel descriptors (the SDK always writes 1)
  uint16_t ch_id;    // 84 0xFFFF: "any channel"
  uint16_t chmus;    // 86 media units (dies) that follow
};
static_assert(sizeof(EnduranceGroupConfig) == 0x58);
static_assert(offsetof(EnduranceGroupConfig, egsets) == 80);
static_assert(offsetof(EnduranceGroupConfig, chmus) == 86);

struct MediaUnitConfig {
  uint16_t mu_id;  // 0 die id = channel + bank * channels
  uint8_t rsvd2[4];
  uint16_t mudl;  // 6
};
static_assert(sizeof(MediaUnitConfig) == 8);
inline constexpr uint16_t kAnyChannel = 0xFFFF;

#pragma pack(pop)

}  // namespace sef::wire

#endif  // SEF_HAL_CMD_WIRE_H_
