#include "sef/hal/kernel/kernel_transport.h"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/nvme_ioctl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sef/base/mutex.h"
#include "sef/base/status_macros.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/requests.h"
#include "sef/hal/cmd/wire.h"
#include "sef/hal/kernel/kernel_transport_for_testing.h"
#include "sef/hal/kernel/os_error.h"
#include "sef/hal/kernel/passthru.h"
#include "sef/hal/kernel/uevent.h"
#include "sef/hal/kernel/uring_cmd.h"
#include "sef/hal/kernel/worker_pool.h"

namespace sef::hal {
namespace {

using kernel::AdminPassthru;
using kernel::ErrnoStatus;
using kernel::IoPassthru;

constexpr unsigned kRingDepth = 256;
// Commands in flight on the ring. The CQ has 2 * kRingDepth entries, so the completion
// thread's own submissions (which do not wait) still fit without relying on CQ overflow.
constexpr size_t kMaxInFlight = kRingDepth;
constexpr auto kReaperPoll = std::chrono::milliseconds(100);
// Depth of a synchronous caller's own ring (RunAndWait); commands beyond it go to the shared
// ring. Its CQ has twice as many entries, so it cannot overflow.
constexpr unsigned kSyncRingDepth = 64;

// A file descriptor closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The generic character device of one namespace (QoS domain). Shared by every command in
// flight on it, so a rescan never closes a descriptor the kernel or a worker still uses.
struct NsDevice {
  std::string path;
  Fd fd;
};
using NsDevicePtr = std::shared_ptr<const NsDevice>;
using NsMap = absl::flat_hash_map<uint32_t, NsDevicePtr>;

struct ScanResult {
  NsMap devices;
  std::string problems;  // devices that could not be opened or asked, for messages
};

// Opens every /dev/ng<instance>n<M> and asks it for its NSID.
absl::StatusOr<ScanResult> ScanNamespaces(int instance) {
  DIR* dir = opendir("/dev");
  if (dir == nullptr) return ErrnoStatus(errno, "opendir", "/dev");
  const std::string prefix = absl::StrCat("ng", instance, "n");
  ScanResult scan;
  while (const dirent* entry = readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (!name.starts_with(prefix) || name.size() == prefix.size()) continue;
    const std::string_view suffix = name.substr(prefix.size());
    if (!std::all_of(suffix.begin(), suffix.end(),
                     [](char ch) { return absl::ascii_isdigit(static_cast<unsigned char>(ch)); })) {
      continue;  // e.g. a per-path device ngXcYnZ
    }
    auto device = std::make_shared<NsDevice>();
    device->path = absl::StrCat("/dev/", entry->d_name);
    device->fd = Fd(open(device->path.c_str(), O_RDWR | O_CLOEXEC));
    if (device->fd.get() < 0) {
      absl::StrAppend(&scan.problems, "; ", ErrnoStatus(errno, "open", device->path).message());
      continue;
    }
    const int nsid = ioctl(device->fd.get(), NVME_IOCTL_ID);
    if (nsid <= 0) {
      absl::StrAppend(&scan.problems, "; ",
                      nsid < 0 ? ErrnoStatus(errno, "ioctl NVME_IOCTL_ID", device->path).message()
                               : absl::StrCat(device->path, " reports no NSID"));
      continue;
    }
    scan.devices[static_cast<uint32_t>(nsid)] = std::move(device);
  }
  closedir(dir);
  return scan;
}

// The kernel name of a character device ("nvme0", "null"): the target of
// /sys/dev/char/<major>:<minor>, or, without sysfs, the last component of `path`.
std::string CharDeviceName(const struct stat& st, const std::string& path) {
  const std::string link =
      absl::StrFormat("/sys/dev/char/%u:%u", major(st.st_rdev), minor(st.st_rdev));
  char target[4096];
  const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
  std::string_view full = n > 0 ? std::string_view(target, static_cast<size_t>(n)) : path;
  const size_t slash = full.rfind('/');
  return std::string(slash == std::string_view::npos ? full : full.substr(slash + 1));
}

// The controller instance N of "nvmeN", or nullopt.
std::optional<int> ControllerInstance(std::string_view name) {
  if (!name.starts_with("nvme")) return std::nullopt;
  name.remove_prefix(4);
  if (name.empty() || name.size() > 6) return std::nullopt;
  if (!std::all_of(name.begin(), name.end(),
                   [](char ch) { return absl::ascii_isdigit(static_cast<unsigned char>(ch)); })) {
    return std::nullopt;
  }
  int instance = 0;
  if (!absl::SimpleAtoi(absl::string_view(name.data(), name.size()), &instance)) {
    return std::nullopt;
  }
  return instance;
}

// Pins the calling thread to one CPU for its lifetime and restores the old mask after.
// blk-mq maps the submitting CPU to a hardware queue, so two threads pinned to one CPU
// submit to the same SQ.
class CpuPin {
 public:
  explicit CpuPin(int cpu) {
    if (cpu < 0 || pthread_getaffinity_np(pthread_self(), sizeof(old_), &old_) != 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
  }
  CpuPin(const CpuPin&) = delete;
  CpuPin& operator=(const CpuPin&) = delete;
  ~CpuPin() {
    if (pinned_) pthread_setaffinity_np(pthread_self(), sizeof(old_), &old_);
  }

 private:
  cpu_set_t old_;
  bool pinned_ = false;
};

// Waits (at most `limit`) until thread `tid` of this process is inside an ioctl system
// call, as /proc/self/task/<tid>/syscall shows, or `returned` is set. Returns at once when
// that file is unreadable.
void WaitUntilInIoctl(pid_t tid, const std::atomic<bool>& returned,
                      std::chrono::microseconds limit) {
  const std::string file = absl::StrCat("/proc/self/task/", tid, "/syscall");
  const std::string want = absl::StrCat(SYS_ioctl, " ");
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!returned && std::chrono::steady_clock::now() < deadline) {
    Fd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return;
    char line[64];
    const ssize_t n = read(fd.get(), line, sizeof(line));
    if (n <= 0) return;
    if (std::string_view(line, static_cast<size_t>(n)).starts_with(want)) return;
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

// One I/O command on its way to the kernel.
struct Work {
  NsDevicePtr device;
  Command command;
  TransportCallback done;
};

// Sets up `ring` with kUringSetupFlags (plus SUBMIT_ALL where the kernel has it, 5.18: the
// kernel then takes every SQE of a submission even when one fails early, so a submission
// error is always a ring-level one).
int InitRing(unsigned depth, io_uring* ring, io_uring_params* params) {
  *params = {};
  params->flags = kernel::kUringSetupFlags | IORING_SETUP_SUBMIT_ALL;
  int ret = io_uring_queue_init_params(depth, ring, params);
  if (ret == -EINVAL) {
    *params = {};
    params->flags = kernel::kUringSetupFlags;
    ret = io_uring_queue_init_params(depth, ring, params);
  }
  return ret;
}

// The ring of one synchronous caller (KernelTransport::RunAndWait): used by one thread at a
// time, kept in a pool between calls. No IORING_SETUP_SINGLE_ISSUER, for that reason.
struct SyncRing {
  SyncRing() = default;
  SyncRing(const SyncRing&) = delete;
  SyncRing& operator=(const SyncRing&) = delete;
  ~SyncRing() {
    if (ready) io_uring_queue_exit(&ring);
  }
  io_uring ring{};
  bool ready = false;
  bool broken = false;     // io_uring_enter failed: no more submissions here
  unsigned in_flight = 0;  // submitted, not yet reaped
};

// The synchronous call running on this thread, if any (innermost first).
struct SyncCall {
  const void* transport;
  SyncRing* ring;
  SyncCall* outer;
};
thread_local SyncCall* current_sync_call = nullptr;

class KernelTransport final : public Transport {
 public:
  static absl::StatusOr<std::unique_ptr<Transport>> Open(const std::string& path,
                                                         const TransportOptions& options);
  ~KernelTransport() override;

  const std::string& name() const override { return path_; }
  void Submit(const Command& c, TransportCallback done) override;
  void RunAndWait(absl::FunctionRef<void()> start, SyncWaiter& waiter) override;
  void SubmitPair(const Command& first, TransportCallback first_done, const Command& second,
                  TransportCallback second_done) override;
  absl::Status WatchEvents(absl::AnyInvocable<void(const TransportEvent&)> on_event) override;
  absl::Status NamespacesChanged() override;

 private:
  // A URING_CMD the kernel has not completed yet, keyed by user_data.
  struct Pending {
    Work work;
    uint64_t partner = 0;  // user_data of the other half of a pair; 0 for a single command
    bool first_of_pair = false;
  };
  // A CQE copied out of the ring.
  struct Cqe {
    uint64_t user_data;
    int32_t res;
    uint64_t result;
  };

  KernelTransport(std::string path, Fd controller, int instance, ScanResult scan,
                  bool fixed_namespaces = false)
      : path_(std::move(path)),
        controller_(std::move(controller)),
        instance_(instance),
        fixed_namespaces_(fixed_namespaces),
        devices_(std::move(scan.devices)),
        scan_problems_(std::move(scan.problems)) {}

  friend absl::StatusOr<std::unique_ptr<Transport>> kernel::OpenKernelTransportForTesting(
      const std::string& controller_path, int controller_instance,
      const std::map<uint32_t, std::string>& namespaces, const TransportOptions& options);

  absl::Status SetUpRing();
  absl::StatusOr<NsDevicePtr> Device(uint32_t nsid);
  absl::Status RescanLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_mu_);

  void SubmitAdmin(const Command& c, TransportCallback done);
  // Sends 1 or 2 commands (a pair, first first) by ioctl, on the calling thread's own ring
  // inside RunAndWait, or on the shared ring.
  void SubmitWorks(std::span<Work> works);
  // Queues 1 or 2 commands on the shared ring, or on the ioctl path when the ring has been
  // given up.
  void UringSubmit(std::span<Work> works);
  // The same on the calling thread's ring of a RunAndWait. REQUIRES: room for works.size().
  void SyncSubmit(SyncRing& ring, std::span<Work> works);
  // Registers `works` in pending_ under fresh user_data values (ids), a pair's halves linked.
  void AddPendingLocked(std::span<Work> works, uint64_t* ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(pending_mu_);
  // Prepares the SQEs of `works` in `ring` and submits them. Returns 0, or the errno of a
  // ring-level failure; then `*lost` of our SQEs (the last ones) were not taken.
  static int PrepareAndSubmit(io_uring* ring, std::span<Work> works, const uint64_t* ids,
                              unsigned* lost);
  // Removes the last `lost` of the `n` commands `ids` from pending_; returns their callbacks
  // with `error` as the result, to be run once no lock is held.
  std::vector<std::pair<TransportCallback, TransportResult>> FailLost(const uint64_t* ids, size_t n,
                                                                      unsigned lost, int error);
  std::unique_ptr<SyncRing> TakeSyncRing();
  // Copies every CQE of `ring` into `batch` and advances the CQ; returns how many.
  static unsigned DrainCq(io_uring* ring, std::vector<Cqe>* batch);
  void ReapLoop();
  void Complete(std::span<const Cqe> cqes);
  void IoctlSubmit(Work work);
  void IoctlPair(Work first, Work second);

  const std::string path_;
  const Fd controller_;
  const int instance_;
  const bool fixed_namespaces_;  // tests: never rescan /dev

  Mutex ns_mu_;
  NsMap devices_ ABSL_GUARDED_BY(ns_mu_);
  std::string scan_problems_ ABSL_GUARDED_BY(ns_mu_);

  // Set once, before Open returns: the ring exists (else I/O always goes by ioctl).
  bool ring_ready_ = false;
  io_uring ring_{};
  std::thread reaper_;
  std::thread::id reaper_id_;
  std::atomic<bool> stop_reaper_{false};
  // I/O goes by ioctl: forced, or the ring turned out not to carry URING_CMD.
  std::atomic<bool> use_ioctl_{false};
  // A URING_CMD has completed with res >= 0, so -EOPNOTSUPP no longer means "unsupported".
  std::atomic<bool> uring_confirmed_{false};

  // Held around get_sqe + prepare + io_uring_submit. Order: submit_mu_ before pending_mu_.
  Mutex submit_mu_;
  std::atomic<uint64_t> next_user_data_{1};
  bool ring_broken_ ABSL_GUARDED_BY(submit_mu_) = false;

  Mutex pending_mu_;
  CondVar pending_cv_;  // an entry left pending_ or stashed_
  absl::flat_hash_map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(pending_mu_);
  // First halves of pairs that failed with -EOPNOTSUPP, waiting for their second half to be
  // re-run together through the ioctl path.
  absl::flat_hash_map<uint64_t, std::pair<Pending, TransportResult>> stashed_
      ABSL_GUARDED_BY(pending_mu_);

  // Idle rings of synchronous callers (RunAndWait), reused across calls and threads.
  Mutex sync_mu_;
  std::vector<std::unique_ptr<SyncRing>> idle_sync_rings_ ABSL_GUARDED_BY(sync_mu_);
  // A synchronous caller's ring could not be set up: RunAndWait uses the shared ring.
  std::atomic<bool> no_sync_rings_{false};

  std::unique_ptr<kernel::WorkerPool> pool_ = std::make_unique<kernel::WorkerPool>();

  Mutex events_mu_;
  std::unique_ptr<kernel::UeventWatcher> watcher_ ABSL_GUARDED_BY(events_mu_);
};

absl::StatusOr<std::unique_ptr<Transport>> KernelTransport::Open(const std::string& path,
                                                                 const TransportOptions& options) {
  Fd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      return absl::NotFoundError(
          absl::StrCat(path, ": no such device (", ErrnoStatus(err, "open", path).message(), ")"));
    }
    if (err == EISDIR) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not an NVMe controller (it is a directory)"));
    }
    return ErrnoStatus(err, "open", path);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "fstat", path);
  if (!S_ISCHR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not an NVMe controller (not a character device)"));
  }
  // Check the name before sending an NVMe ioctl to what may be some other driver's device.
  const std::string device_name = CharDeviceName(st, path);
  const std::optional<int> instance = ControllerInstance(device_name);
  if (!instance.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not an NVMe controller (it is the character device \"", device_name,
                     "\", not nvmeN)"));
  }

  std::vector<uint64_t> vectors(sizeof(wire::CommandSetVectors) / sizeof(uint64_t));
  SEF_ASSIGN_OR_RETURN(const Command identify,
                       cmd::Encode(cmd::IdentifyCommandSetVectorRequest{
                           .buffer = {reinterpret_cast<uint8_t*>(vectors.data()),
                                      static_cast<uint32_t>(sizeof(wire::CommandSetVectors))}}));
  const TransportResult r = AdminPassthru(fd.get(), identify, path);
  if (!r.os.ok()) {
    if (r.os.code() == absl::StatusCode::kPermissionDenied) return r.os;
    // ENOTTY (and EINVAL): the driver behind the device does not know the NVMe ioctl.
    if (r.os.code() == absl::StatusCode::kInvalidArgument) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not an NVMe controller (", r.os.message(), ")"));
    }
    return r.os;
  }
  if (!r.nvme.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a SEF unit (Identify CNS 1Ch, I/O command set vectors, failed: ",
        ToStatus(r.nvme, "Identify CNS 1Ch").message(), ")"));
  }
  if ((vectors[0] & wire::kCommandSetVectorSefBit) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a SEF unit (CSI 0x30 is not in its I/O command set vector)"));
  }

  SEF_ASSIGN_OR_RETURN(ScanResult scan, ScanNamespaces(*instance));
  std::unique_ptr<KernelTransport> t(
      new KernelTransport(path, std::move(fd), *instance, std::move(scan)));
  if (options.force_ioctl || !t->SetUpRing().ok()) t->use_ioctl_ = true;
  return std::unique_ptr<Transport>(std::move(t));
}

absl::Status KernelTransport::SetUpRing() {
  io_uring_params params;
  const int ret = InitRing(kRingDepth, &ring_, &params);
  if (ret < 0) return ErrnoStatus(-ret, "io_uring_setup for", path_);
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  const bool supported =
      probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_URING_CMD) != 0;
  if (probe != nullptr) io_uring_free_probe(probe);
  // The reaper waits with a timeout, which needs IORING_FEAT_EXT_ARG (5.11) so that liburing
  // does not put a timeout SQE into the SQ from the reaper thread.
  if (!supported || (params.features & IORING_FEAT_EXT_ARG) == 0) {
    io_uring_queue_exit(&ring_);
    return absl::UnimplementedError(
        absl::StrCat(path_, ": io_uring here lacks URING_CMD or EXT_ARG"));
  }
  ring_ready_ = true;
  reaper_ = std::thread([this] { ReapLoop(); });
  reaper_id_ = reaper_.get_id();
  return absl::OkStatus();
}

KernelTransport::~KernelTransport() {
  {
    MutexLock lock(&events_mu_);
    watcher_.reset();
  }
  if (ring_ready_) {
    {
      MutexLock lock(&pending_mu_);
      while (!pending_.empty() || !stashed_.empty()) pending_cv_.Wait(&pending_mu_);
    }
    stop_reaper_ = true;
    {
      // Wake the reaper with a NOP (user_data 0 is never a command's) rather than waiting
      // out its poll timeout; a broken ring is left alone, the timeout covers it.
      MutexLock lock(&submit_mu_);
      if (!ring_broken_) {
        if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) {
          io_uring_prep_nop(sqe);
          io_uring_sqe_set_data64(sqe, 0);
          io_uring_submit(&ring_);
        }
      }
    }
    reaper_.join();
    io_uring_queue_exit(&ring_);
  }
  {
    MutexLock lock(&sync_mu_);
    idle_sync_rings_.clear();
  }
  pool_.reset();  // runs the queued ioctls and joins their threads
}

absl::Status KernelTransport::RescanLocked() {
  if (fixed_namespaces_) return absl::OkStatus();
  SEF_ASSIGN_OR_RETURN(ScanResult scan, ScanNamespaces(instance_));
  devices_ = std::move(scan.devices);
  scan_problems_ = std::move(scan.problems);
  return absl::OkStatus();
}

absl::Status KernelTransport::NamespacesChanged() {
  MutexLock lock(&ns_mu_);
  return RescanLocked();
}

absl::StatusOr<NsDevicePtr> KernelTransport::Device(uint32_t nsid) {
  MutexLock lock(&ns_mu_);
  auto it = devices_.find(nsid);
  if (it != devices_.end()) return it->second;
  // Another process (or a caller that did not call NamespacesChanged) may have created the
  // domain since the last scan.
  SEF_RETURN_IF_ERROR(RescanLocked());
  it = devices_.find(nsid);
  if (it != devices_.end()) return it->second;
  return absl::NotFoundError(absl::StrCat(path_, ": no generic device /dev/ng", instance_,
                                          "n* for namespace (QoS domain) ", nsid, scan_problems_));
}

void KernelTransport::Submit(const Command& c, TransportCallback done) {
  if (c.queue == QueueType::kAdmin) {
    SubmitAdmin(c, std::move(done));
    return;
  }
  absl::StatusOr<NsDevicePtr> device = Device(c.nsid());
  if (!device.ok()) {
    std::move(done)(TransportResult{.os = device.status()});
    return;
  }
  // A metadata-only Read carries a scratch data buffer (see WithScratchData), kept alive by
  // the completion callback.
  auto scratch = std::make_shared<kernel::ReadScratch>();
  const std::optional<Command> with_data = kernel::WithScratchData(c, *scratch);
  if (with_data.has_value()) {
    done = [scratch, done = std::move(done)](TransportResult r) mutable {
      std::move(done)(std::move(r));
    };
  }
  Work work{*std::move(device), with_data.value_or(c), std::move(done)};
  SubmitWorks(std::span<Work>(&work, 1));
}

void KernelTransport::SubmitPair(const Command& first, TransportCallback first_done,
                                 const Command& second, TransportCallback second_done) {
  absl::Status error;
  if (first.queue != QueueType::kIo || second.queue != QueueType::kIo) {
    error = absl::InvalidArgumentError(
        absl::StrCat(path_, ": SubmitPair takes two I/O commands (FAR+NLW or NLC+GCR)"));
  }
  absl::StatusOr<NsDevicePtr> first_device, second_device;
  if (error.ok()) {
    first_device = Device(first.nsid());
    error = first_device.status();
  }
  if (error.ok()) {
    second_device = Device(second.nsid());
    error = second_device.status();
  }
  if (!error.ok()) {
    // Sending one half alone would leave it parked on the device until its pair timeout.
    std::move(first_done)(TransportResult{.os = error});
    std::move(second_done)(TransportResult{.os = error});
    return;
  }
  Work works[2] = {{*std::move(first_device), first, std::move(first_done)},
                   {*std::move(second_device), second, std::move(second_done)}};
  SubmitWorks(works);
}

void KernelTransport::SubmitWorks(std::span<Work> works) {
  if (use_ioctl_) {
    if (works.size() == 2) {
      IoctlPair(std::move(works[0]), std::move(works[1]));
    } else {
      IoctlSubmit(std::move(works[0]));
    }
    return;
  }
  for (SyncCall* call = current_sync_call; call != nullptr; call = call->outer) {
    if (call->transport != this) continue;
    SyncRing& ring = *call->ring;
    if (!ring.broken && ring.in_flight + works.size() <= kSyncRingDepth) {
      SyncSubmit(ring, works);
      return;
    }
    break;
  }
  UringSubmit(works);
}

std::unique_ptr<SyncRing> KernelTransport::TakeSyncRing() {
  if (no_sync_rings_) return nullptr;
  {
    MutexLock lock(&sync_mu_);
    if (!idle_sync_rings_.empty()) {
      std::unique_ptr<SyncRing> ring = std::move(idle_sync_rings_.back());
      idle_sync_rings_.pop_back();
      return ring;
    }
  }
  auto ring = std::make_unique<SyncRing>();
  io_uring_params params;
  if (InitRing(kSyncRingDepth, &ring->ring, &params) < 0) {
    no_sync_rings_ = true;  // e.g. out of locked memory: the shared ring still works
    return nullptr;
  }
  ring->ready = true;
  return ring;
}

void KernelTransport::RunAndWait(absl::FunctionRef<void()> start, SyncWaiter& waiter) {
  // The commands `start` (and the callbacks run here) submit go to this thread's own ring,
  // and this thread waits for their completions in io_uring_enter. In Linux 6.1 a URING_CMD
  // completes as task work of the submitting thread: a thread that submits and then sleeps
  // elsewhere is woken to run it, which then wakes the reaper, whose callback wakes the
  // caller; here the one wake-up of the waiting thread does all three (docs/performance.md,
  // finding 2).
  std::unique_ptr<SyncRing> ring = use_ioctl_ ? nullptr : TakeSyncRing();
  if (ring == nullptr) {
    Transport::RunAndWait(start, waiter);
    return;
  }
  SyncCall call{this, ring.get(), current_sync_call};
  current_sync_call = &call;
  start();
  std::vector<Cqe> batch;
  while (ring->in_flight > 0) {
    io_uring_cqe* cqe = nullptr;
    const int ret = io_uring_wait_cqe(&ring->ring, &cqe);
    if (ret < 0) {
      if (ret != -EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const unsigned count = DrainCq(&ring->ring, &batch);
    ring->in_flight -= std::min(count, ring->in_flight);
    Complete(batch);  // may submit more to this ring
  }
  current_sync_call = call.outer;
  if (!ring->broken) {
    MutexLock lock(&sync_mu_);
    idle_sync_rings_.push_back(std::move(ring));
  }
  waiter.Wait();  // at once, unless the commands went elsewhere (ioctl, shared ring)
}

void KernelTransport::SubmitAdmin(const Command& c, TransportCallback done) {
  if (c.opcode() == static_cast<uint8_t>(wire::AdminOpcode::kAsyncEventRequest)) {
    std::move(done)(TransportResult{
        .os = absl::InvalidArgumentError(absl::StrCat(
            path_,
            ": an Asynchronous Event Request (admin opcode 0x0C) cannot be submitted from user "
            "space; the kernel reports AENs as uevents (WatchEvents)"))});
    return;
  }
  pool_->Run([this, c, done = std::move(done)]() mutable {
    std::move(done)(AdminPassthru(controller_.get(), c, path_));
  });
}

void KernelTransport::AddPendingLocked(std::span<Work> works, uint64_t* ids) {
  const size_t n = works.size();
  for (size_t i = 0; i < n; ++i) ids[i] = next_user_data_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    Pending p{.work = {works[i].device, works[i].command, std::move(works[i].done)}};
    if (n == 2) {
      p.partner = ids[1 - i];
      p.first_of_pair = i == 0;
    }
    pending_.emplace(ids[i], std::move(p));
  }
}

int KernelTransport::PrepareAndSubmit(io_uring* ring, std::span<Work> works, const uint64_t* ids,
                                      unsigned* lost) {
  const size_t n = works.size();
  // The SQ is empty here (every submission below drains it before the ring is handed on),
  // so preparation cannot run out of SQEs; the loop is the "SQ full: push and retry" path.
  while (true) {
    bool prepared = false;
    if (n == 2) {
      prepared = kernel::PrepareUringPair(ring, works[0].device->fd.get(), works[0].command, ids[0],
                                          works[1].device->fd.get(), works[1].command, ids[1]);
    } else if (io_uring_sqe* sqe = io_uring_get_sqe(ring)) {
      kernel::PrepareUringCmd(sqe, works[0].device->fd.get(), works[0].command, ids[0]);
      prepared = true;
    }
    if (prepared) break;
    io_uring_submit(ring);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  while (io_uring_sq_ready(ring) > 0) {
    const int ret = io_uring_submit(ring);
    if (ret > 0) continue;
    if (ret == 0 || ret == -EAGAIN || ret == -EBUSY || ret == -EINTR) {
      // Out of kernel resources or CQ space for now; completions will make room.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    // A ring-level failure: the kernel took none of the SQEs still in the SQ (ours, the
    // last ones prepared) and will take no more.
    *lost = std::min<unsigned>(io_uring_sq_ready(ring), n);
    return -ret;
  }
  *lost = 0;
  return 0;
}

std::vector<std::pair<TransportCallback, TransportResult>> KernelTransport::FailLost(
    const uint64_t* ids, size_t n, unsigned lost, int error) {
  std::vector<std::pair<TransportCallback, TransportResult>> failed;
  const absl::Status status = ErrnoStatus(error, "io_uring_enter for", path_);
  MutexLock lock(&pending_mu_);
  for (size_t i = n - lost; i < n; ++i) {
    auto node = pending_.extract(ids[i]);
    failed.emplace_back(std::move(node.mapped().work.done), TransportResult{.os = status});
  }
  pending_cv_.SignalAll();
  return failed;
}

void KernelTransport::UringSubmit(std::span<Work> works) {
  const size_t n = works.size();
  std::vector<std::pair<TransportCallback, TransportResult>> failed;
  {
    MutexLock submit_lock(&submit_mu_);
    if (ring_broken_) {
      // Checked under the lock: a thread that saw use_ioctl_ == false just before the ring
      // broke must not touch the SQ, where SQEs given up for lost still sit.
      if (n == 2) {
        IoctlPair(std::move(works[0]), std::move(works[1]));
      } else {
        IoctlSubmit(std::move(works[0]));
      }
      return;
    }
    uint64_t ids[2] = {0, 0};
    {
      MutexLock lock(&pending_mu_);
      // The completion thread must never wait here: only it makes room.
      if (std::this_thread::get_id() != reaper_id_) {
        while (pending_.size() + n > kMaxInFlight) pending_cv_.Wait(&pending_mu_);
      }
      AddPendingLocked(works, ids);
    }
    unsigned lost = 0;
    if (const int error = PrepareAndSubmit(&ring_, works, ids, &lost); error != 0) {
      // Use the ioctl path from now on.
      ring_broken_ = true;
      use_ioctl_ = true;
      failed = FailLost(ids, n, lost, error);
    }
  }
  for (auto& [done, result] : failed) std::move(done)(std::move(result));
}

void KernelTransport::SyncSubmit(SyncRing& ring, std::span<Work> works) {
  const size_t n = works.size();
  uint64_t ids[2] = {0, 0};
  {
    MutexLock lock(&pending_mu_);
    AddPendingLocked(works, ids);
  }
  unsigned lost = 0;
  const int error = PrepareAndSubmit(&ring.ring, works, ids, &lost);
  ring.in_flight += static_cast<unsigned>(n) - lost;
  if (error != 0) {
    ring.broken = true;  // later commands of this call go to the shared ring
    for (auto& [done, result] : FailLost(ids, n, lost, error)) std::move(done)(std::move(result));
  }
}

unsigned KernelTransport::DrainCq(io_uring* ring, std::vector<Cqe>* batch) {
  batch->clear();
  io_uring_cqe* cqe;
  unsigned head;
  unsigned count = 0;
  io_uring_for_each_cqe(ring, head, cqe) {
    batch->push_back({cqe->user_data, cqe->res, kernel::BigCqeResult(*cqe)});
    ++count;
  }
  io_uring_cq_advance(ring, count);
  return count;
}

void KernelTransport::ReapLoop() {
  std::vector<Cqe> batch;
  while (!stop_reaper_) {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec timeout{
        .tv_sec = 0,
        .tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(kReaperPoll).count()};
    const int ret = io_uring_wait_cqe_timeout(&ring_, &cqe, &timeout);
    if (ret < 0) continue;  // -ETIME: look at stop_reaper_; -EINTR: wait again
    DrainCq(&ring_, &batch);
    Complete(batch);
  }
}

void KernelTransport::Complete(std::span<const Cqe> cqes) {
  std::vector<std::pair<TransportCallback, TransportResult>> ready;
  std::vector<Work> reissue;                         // single commands, by ioctl
  std::vector<std::pair<Work, Work>> reissue_pairs;  // pairs, by ioctl
  {
    MutexLock lock(&pending_mu_);
    for (const Cqe& cqe : cqes) {
      auto node = pending_.extract(cqe.user_data);
      if (node.empty()) continue;  // not ours (cannot happen: every SQE is registered first)
      Pending p = std::move(node.mapped());
      if (cqe.res >= 0) uring_confirmed_ = true;
      TransportResult result =
          kernel::ResultFromCompletion(cqe.res, cqe.result, p.work.device->path);

      const bool unsupported = cqe.res == -EOPNOTSUPP && !uring_confirmed_;
      if (unsupported) use_ioctl_ = true;
      if (p.partner != 0) {
        // The two halves of a pair may complete in either order. A half refused with
        // EOPNOTSUPP waits in stashed_ while its partner is still pending; when both were
        // refused, the pair is re-run by ioctl, first first.
        auto other = stashed_.extract(p.partner);
        if (!other.empty()) {
          if (unsupported) {
            Work mine = std::move(p.work);
            Work theirs = std::move(other.mapped().first.work);
            if (p.first_of_pair) {
              reissue_pairs.emplace_back(std::move(mine), std::move(theirs));
            } else {
              reissue_pairs.emplace_back(std::move(theirs), std::move(mine));
            }
            continue;
          }
          // Only the partner was refused: report both as they came.
          ready.emplace_back(std::move(other.mapped().first.work.done),
                             std::move(other.mapped().second));
        } else if (unsupported && pending_.contains(p.partner)) {
          const uint64_t id = cqe.user_data;
          stashed_.emplace(id, std::make_pair(std::move(p), std::move(result)));
          continue;
        }
      } else if (unsupported) {
        reissue.push_back(std::move(p.work));
        continue;
      }
      ready.emplace_back(std::move(p.work.done), std::move(result));
    }
    pending_cv_.SignalAll();
  }
  for (Work& w : reissue) IoctlSubmit(std::move(w));
  for (auto& [first, second] : reissue_pairs) IoctlPair(std::move(first), std::move(second));
  for (auto& [done, result] : ready) std::move(done)(std::move(result));
}

void KernelTransport::IoctlSubmit(Work work) {
  pool_->Run([w = std::move(work)]() mutable {
    TransportResult r = IoPassthru(w.device->fd.get(), w.command, w.device->path);
    std::move(w.done)(std::move(r));
  });
}

void KernelTransport::IoctlPair(Work first, Work second) {
  // The second command is issued only once the first one's thread is inside its ioctl; both
  // threads run on the caller's CPU so that the two commands use the same hardware queue.
  struct Gate {
    Mutex mu;
    CondVar cv;
    pid_t first_tid ABSL_GUARDED_BY(mu) = 0;
    std::atomic<bool> first_returned{false};
    int cpu = -1;
  };
  auto gate = std::make_shared<Gate>();
  gate->cpu = sched_getcpu();
  pool_->Run([gate, w = std::move(first)]() mutable {
    TransportResult r;
    {
      CpuPin pin(gate->cpu);
      {
        MutexLock lock(&gate->mu);
        gate->first_tid = gettid();
      }
      gate->cv.SignalAll();
      r = IoPassthru(w.device->fd.get(), w.command, w.device->path);
      gate->first_returned = true;
    }
    std::move(w.done)(std::move(r));
  });
  pool_->Run([gate, w = std::move(second)]() mutable {
    TransportResult r;
    {
      CpuPin pin(gate->cpu);
      pid_t tid;
      {
        MutexLock lock(&gate->mu);
        while (gate->first_tid == 0) gate->cv.Wait(&gate->mu);
        tid = gate->first_tid;
      }
      WaitUntilInIoctl(tid, gate->first_returned, std::chrono::milliseconds(50));
      r = IoPassthru(w.device->fd.get(), w.command, w.device->path);
    }
    std::move(w.done)(std::move(r));
  });
}

absl::Status KernelTransport::WatchEvents(
    absl::AnyInvocable<void(const TransportEvent&)> on_event) {
  MutexLock lock(&events_mu_);
  if (watcher_ != nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": WatchEvents was already called (at most one watcher)"));
  }
  SEF_ASSIGN_OR_RETURN(watcher_, kernel::UeventWatcher::Start(
                                     [controller = absl::StrCat("nvme", instance_),
                                      f = std::move(on_event)](std::string_view message) mutable {
                                       if (auto aen = kernel::ParseAenUevent(message, controller))
                                         f(TransportEvent{.dw0 = *aen});
                                     },
                                     path_));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> OpenKernelTransport(const std::string& path,
                                                               const TransportOptions& options) {
  return KernelTransport::Open(path, options);
}

namespace kernel {

absl::StatusOr<std::unique_ptr<Transport>> OpenKernelTransportForTesting(
    const std::string& controller_path, int controller_instance,
    const std::map<uint32_t, std::string>& namespaces, const TransportOptions& options) {
  Fd controller(open(controller_path.c_str(), O_RDWR | O_CLOEXEC));
  if (controller.get() < 0) return ErrnoStatus(errno, "open", controller_path);
  ScanResult scan;
  for (const auto& [nsid, path] : namespaces) {
    auto device = std::make_shared<NsDevice>();
    device->path = path;
    device->fd = Fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (device->fd.get() < 0) return ErrnoStatus(errno, "open", path);
    scan.devices[nsid] = std::move(device);
  }
  std::unique_ptr<KernelTransport> t(new KernelTransport(controller_path, std::move(controller),
                                                         controller_instance, std::move(scan),
                                                         /*fixed_namespaces=*/true));
  if (options.force_ioctl || !t->SetUpRing().ok()) t->use_ioctl_ = true;
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace kernel
}  // namespace sef::hal
