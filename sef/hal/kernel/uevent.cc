#include "sef/hal/kernel/uevent.h"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "sef/hal/kernel/os_error.h"

namespace sef::hal::kernel {
namespace {

std::optional<uint32_t> ParseHex32(std::string_view s) {
  if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2);
  if (s.empty() || s.size() > 8) return std::nullopt;
  uint32_t value = 0;
  for (char ch : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(ch))) return std::nullopt;
    const uint32_t digit = absl::ascii_isdigit(static_cast<unsigned char>(ch))
                               ? ch - '0'
                               : absl::ascii_tolower(static_cast<unsigned char>(ch)) - 'a' + 10;
    value = (value << 4) | digit;
  }
  return value;
}

}  // namespace

std::optional<uint32_t> ParseAenUevent(std::string_view message, std::string_view controller) {
  if (controller.empty()) return std::nullopt;
  std::string_view action, devpath, subsystem, devname, aen;
  bool have_aen = false;
  while (!message.empty()) {
    const size_t end = message.find('\0');
    const std::string_view field = message.substr(0, end);
    message.remove_prefix(end == std::string_view::npos ? message.size() : end + 1);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) continue;  // the "action@devpath" header, or padding
    const std::string_view key = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    if (key == "ACTION") {
      action = value;
    } else if (key == "DEVPATH") {
      devpath = value;
    } else if (key == "SUBSYSTEM") {
      subsystem = value;
    } else if (key == "DEVNAME") {
      devname = value;
    } else if (key == "NVME_AEN") {
      aen = value;
      have_aen = true;
    }
  }
  if (action != "change" || !have_aen) return std::nullopt;
  if (!subsystem.empty() && subsystem != "nvme") return std::nullopt;
  // DEVNAME may be given relative to /dev or, by some senders, with the /dev/ prefix.
  if (devname.starts_with("/dev/")) devname.remove_prefix(5);
  // DEVNAME decides when present; DEVPATH otherwise.
  const bool ours = !devname.empty()
                        ? devname == controller
                        : devpath.size() > controller.size() && devpath.ends_with(controller) &&
                              devpath[devpath.size() - controller.size() - 1] == '/';
  if (!ours) return std::nullopt;
  return ParseHex32(aen);
}

absl::StatusOr<std::unique_ptr<UeventWatcher>> UeventWatcher::Start(
    absl::AnyInvocable<void(std::string_view message)> on_message, std::string_view what) {
  const int sock = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  if (sock < 0) return ErrnoStatus(errno, "socket NETLINK_KOBJECT_UEVENT for", what);
  // A burst of uevents (many devices changing at once) must not push out an AEN: ask for a
  // large buffer, beyond rmem_max when privileged.
  const int buffer_bytes = 4 << 20;
  if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof(buffer_bytes)) != 0) {
    (void)setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  }
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_pid = 0;     // the kernel picks a port id
  address.nl_groups = 1;  // kernel uevents (udev's re-broadcast is group 2)
  if (bind(sock, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int err = errno;
    close(sock);
    return ErrnoStatus(err, "bind NETLINK_KOBJECT_UEVENT for", what);
  }
  const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    const int err = errno;
    close(sock);
    return ErrnoStatus(err, "eventfd for", what);
  }
  std::unique_ptr<UeventWatcher> watcher(new UeventWatcher(sock, wake));
  watcher->thread_ = std::thread(
      [w = watcher.get(), f = std::move(on_message)]() mutable { w->Loop(std::move(f)); });
  return watcher;
}

UeventWatcher::UeventWatcher(int socket, int wake) : socket_(socket), wake_(wake) {}

UeventWatcher::~UeventWatcher() {
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a counter overflow, which one write cannot
  // cause.
  (void)!write(wake_, &one, sizeof(one));
  thread_.join();
  close(wake_);
  close(socket_);
}

void UeventWatcher::Loop(absl::AnyInvocable<void(std::string_view message)> on_message) {
  // A uevent carries at most 2 KiB of environment (UEVENT_BUFFER_SIZE) plus its header.
  char buffer[8192];
  while (true) {
    pollfd fds[2] = {{socket_, POLLIN, 0}, {wake_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;  // EFAULT/EINVAL/ENOMEM: nothing to wait on any more
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    sockaddr_nl sender{};
    iovec iov{buffer, sizeof(buffer)};
    msghdr msg{};
    msg.msg_name = &sender;
    msg.msg_namelen = sizeof(sender);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = recvmsg(socket_, &msg, MSG_DONTWAIT);
    if (n < 0) continue;  // EINTR, EAGAIN, or ENOBUFS (messages were lost; keep listening)
    if (sender.nl_pid != 0) continue;  // not from the kernel
    if ((msg.msg_flags & MSG_TRUNC) != 0) continue;
    on_message(std::string_view(buffer, static_cast<size_t>(n)));
  }
}

}  // namespace sef::hal::kernel
