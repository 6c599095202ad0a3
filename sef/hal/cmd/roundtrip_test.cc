// decode(encode(x)) == x for every command over randomised valid inputs, and the commands the
// encoder builds satisfy the invariants every backend relies on.
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/cmd/codec.h"
#include "sef/hal/cmd/testing/transferred_part.h"
#include "sef/hal/cmd/wire.h"

namespace sef::cmd {
namespace {

constexpr int kIterations = 300;

class Gen {
 public:
  explicit Gen(uint32_t seed) : rng_(seed) {}

  uint64_t U(uint64_t lo, uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool B() { return U(0, 1) == 1; }
  template <typename T>
  T Any() {
    return static_cast<T>(U(0, std::numeric_limits<T>::max()));
  }

  MutableBytes Bytes(uint32_t size) {
    auto& b = blocks_.emplace_back(std::make_unique<std::vector<uint8_t>>(size));
    return {b->data(), size};
  }
  // A dword-multiple buffer of 4..max bytes.
  MutableBytes DataIn(uint32_t min, uint32_t max) {
    return Bytes(static_cast<uint32_t>(U(min / 4, max / 4) * 4));
  }
  IoVecs Vecs(uint64_t total) {
    auto& v = vecs_.emplace_back(std::make_unique<std::vector<iovec>>());
    uint64_t left = total;
    while (left > 0) {
      const uint64_t n = std::min<uint64_t>(left, U(1, 4) * wire::kAduDataBytes);
      MutableBytes b = Bytes(static_cast<uint32_t>(n));
      v->push_back({b.data, n});
      left -= n;
    }
    return {v->data(), static_cast<uint32_t>(v->size())};
  }

  QosDomainId Domain() { return QosDomainId(static_cast<uint16_t>(U(1, 0xFFFF))); }
  VirtualDeviceId Vd() { return VirtualDeviceId(static_cast<uint16_t>(U(1, 0xFFFE))); }
  DomainFormat Format() {
    DomainFormat f;
    f.address.sb_bits = static_cast<uint8_t>(U(1, 32));
    f.address.adu_offset_bits = static_cast<uint8_t>(U(1, std::min(32, 48 - f.address.sb_bits)));
    f.num_placement_ids = static_cast<uint32_t>(U(1, 0x10000));
    return f;
  }
  SuperBlockId Sb(const DomainFormat& f) {
    return SuperBlockId(static_cast<uint32_t>(U(0, f.address.max_super_block_id())));
  }
  AduCount Adus(uint32_t max = 64) { return AduCount(static_cast<uint32_t>(U(1, max))); }

 private:
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> blocks_;
  std::vector<std::unique_ptr<std::vector<iovec>>> vecs_;
};

AdminRequest RandomAdmin(Gen& g, size_t which) {
  switch (which) {
    case 0:
      return IdentifyControllerRequest{g.Bytes(4096)};
    case 1:
      return IdentifySefControllerRequest{g.Bytes(4096)};
    case 2:
      return IdentifySefNamespaceRequest{g.Domain(), g.Bytes(4096)};
    case 3:
      return IdentifyVirtualDeviceListRequest{VirtualDeviceId(g.Any<uint16_t>()), g.Bytes(4096)};
    case 4:
      return IdentifyCommandSetVectorRequest{g.Bytes(4096)};
    case 5:
      return VdInfoLogRequest{g.B() ? kPendingEventVirtualDevice : g.Vd(), g.B(),
                              g.DataIn(200, 1 << 20)};
    case 6:
      return QosDomainListLogRequest{g.Vd(), g.DataIn(4, 4096)};
    case 7:
      return SuperBlockListLogRequest{g.Domain(), static_cast<SbListOrder>(g.U(0, 4)),
                                      g.U(0, uint64_t{1} << 40) * 4, g.DataIn(8, 1 << 19)};
    case 8:
      return SuperBlockInfoLogRequest{g.B() ? kPendingEventVirtualDevice : g.Vd(),
                                      SuperBlockId(g.Any<uint32_t>()), g.B(), g.DataIn(256, 512)};
    case 9:
      return UserAddressListLogRequest{g.Domain(), SuperBlockId(g.Any<uint32_t>()),
                                       static_cast<uint32_t>(g.U(0, 0x3FFFFFFF) * 4),
                                       g.DataIn(8, 1 << 18)};
    case 10:
      return AddressChangeOrderLogRequest{g.Domain(), static_cast<uint32_t>(g.U(1, 0xFFFFFFFF)),
                                          g.DataIn(56, 4096)};
    case 11:
      return ReadFifoLogRequest{g.Vd(), g.DataIn(8, 4096)};
    case 12:
      return SetDiesPerSuperBlockRequest{g.Vd(), static_cast<uint16_t>(g.U(1, 256))};
    case 13:
      return SetReadFifoRequest{g.Vd(), g.B() ? ReadFifoAction::kAttach : ReadFifoAction::kChange,
                                ReadFifoId(static_cast<uint32_t>(g.U(0, 0x7FFFFFFF))),
                                g.Any<uint16_t>(), g.B()};
    case 14:
      return DetachReadFifoRequest{g.Vd(), ReadFifoId(g.Any<uint32_t>())};
    case 15:
      return SetPslcSuperBlocksRequest{g.Vd(), g.Any<uint32_t>()};
    case 16:
      return SetVdAenControlRequest{g.Vd(), static_cast<uint8_t>(g.U(0, 7))};
    case 17:
      return SetSuspendConfigRequest{g.Vd(), g.Any<uint32_t>()};
    case 18:
      return ResetSchedulerRequest{g.Vd()};
    case 19:
      return GetReadFifoListRequest{g.Vd(), g.DataIn(8, 4096)};
    case 20:
      return SetRootPointerRequest{g.Domain(), static_cast<uint8_t>(g.U(0, 7)),
                                   FlashAddress::FromRaw(g.Any<uint64_t>())};
    case 21:
      return GetRootPointerRequest{g.Domain(), static_cast<uint8_t>(g.U(0, 7))};
    case 22: {
      const uint64_t cap = g.U(1, uint64_t{1} << 50);
      return SetQosDomainCapacityRequest{g.Domain(), g.B(), PlanePageCount(cap),
                                         PlanePageCount(g.U(cap, uint64_t{1} << 51))};
    }
    case 23:
      return SetWeightsRequest{g.Domain(), g.Any<uint16_t>(), g.Any<uint16_t>()};
    case 24:
      return SetReadDeadlineRequest{g.Domain(), static_cast<ReadDeadline>(g.U(0, 3))};
    case 25:
      return SetMaxOpenSuperBlocksRequest{g.Domain(), static_cast<uint16_t>(g.U(1, 0xFFFF))};
    case 26:
      return SetDefaultReadFifoRequest{g.Domain(), ReadFifoId(g.Any<uint32_t>())};
    case 27: {
      CapacityConfig config;
      config.id = static_cast<uint16_t>(g.U(1, 0xFFFF));
      uint16_t next_die = static_cast<uint16_t>(g.U(0, 100));
      const uint64_t vds = g.U(1, 8);
      for (uint64_t v = 0; v < vds; ++v) {
        VdDies vd{VirtualDeviceId(static_cast<uint16_t>(v + 1)), {}};
        const uint64_t dies = g.U(1, 16);
        for (uint64_t d = 0; d < dies; ++d) vd.dies.push_back(DieId(next_die++));
        config.vds.push_back(std::move(vd));
      }
      return SetCapacityConfigRequest{std::move(config), g.Bytes(0x20 + 8 * 0x58 + 128 * 8)};
    }
    case 28:
      return GetCapacityConfigRequest{g.DataIn(32, 4096)};
    case 29:
      return SelectCapacityConfigRequest{g.Any<uint16_t>()};
    case 30: {
      QosDomainSpec s;
      s.vd = g.Vd();
      s.capacity = PlanePageCount(g.U(0, uint64_t{1} << 40));
      s.quota = PlanePageCount(g.U(0, uint64_t{1} << 41));  // below capacity: device raises
      s.pslc_capacity = PlanePageCount(g.U(s.capacity.value() == 0 ? 1 : 0, 1 << 20));
      s.pslc_quota = PlanePageCount(g.U(0, 1 << 21));
      s.num_placement_ids = static_cast<uint16_t>(g.U(1, 0xFFFF));
      s.max_open_super_blocks = static_cast<uint16_t>(g.U(0, 0xFFFF));
      s.program_weight = g.Any<uint16_t>();
      s.erase_weight = g.Any<uint16_t>();
      s.default_read_fifo = ReadFifoId(g.Any<uint32_t>());
      s.deadline = static_cast<ReadDeadline>(g.U(0, 3));
      s.defect = static_cast<DefectStrategy>(g.U(0, 2));
      return CreateQosDomainRequest{s, g.Bytes(4096)};
    }
    case 31:
      return DeleteQosDomainRequest{g.Domain()};
    case 32:
      return AttachQosDomainRequest{g.Domain(),
                                    g.B() ? AttachAction::kAttach : AttachAction::kDetach,
                                    g.Any<uint16_t>(), g.Bytes(4096)};
  }
  ADD_FAILURE() << "no generator for admin request " << which;
  return {};
}

IoRequest RandomIo(Gen& g, size_t which, const DomainFormat& f) {
  switch (which) {
    case 0: {
      static constexpr SbOperation kOps[] = {SbOperation::kErase, SbOperation::kClose,
                                             SbOperation::kFree,  SbOperation::kPatrol,
                                             SbOperation::kFlush, SbOperation::kPslcErase};
      const SbOperation op = kOps[g.U(0, 5)];
      const bool erase = op == SbOperation::kErase || op == SbOperation::kPslcErase;
      return SuperBlockManagementRequest{g.Domain(), op,
                                         erase && g.B() ? kDeviceChoosesSuperBlock : g.Sb(f),
                                         op == SbOperation::kFree ? uint16_t{0} : g.Any<uint16_t>(),
                                         g.B() ? MutableBytes{} : g.DataIn(4, 1024)};
    }
    case 1: {
      FlashAddressRequest r;
      r.domain = g.Domain();
      if (g.B()) {
        r.target = g.Sb(f);
      } else {
        r.target = PlacementId(static_cast<uint16_t>(g.U(0, f.num_placement_ids - 1)));
      }
      r.nlwid = static_cast<uint32_t>(g.U(1, 0xFFFFFFFF));
      r.erase_weight = g.Any<uint16_t>();
      r.arr = g.Bytes(sizeof(wire::AddressRequestResponse));
      return r;
    }
    case 2: {
      NamelessWriteRequest r;
      r.domain = g.Domain();
      if (g.B()) {
        r.target = g.Sb(f);
      } else {
        r.target =
            ByPlacement{PlacementId(static_cast<uint16_t>(g.U(0, f.num_placement_ids - 1))), g.B()};
      }
      r.adus = g.Adus();
      r.start = *UserAddress::Make(Lba(g.U(0, UserAddress::kMaxLba - r.adus.value())),
                                   static_cast<uint32_t>(g.U(0, UserAddress::kMaxTag)));
      r.fua = g.B();
      r.limited_retry = g.B();
      r.nlwid = static_cast<uint32_t>(g.U(1, 0xFFFFFFFF));
      r.program_weight = g.Any<uint16_t>();
      r.data = g.Vecs(uint64_t{r.adus.value()} * wire::kAduDataBytes);
      if (g.B()) {
        MutableBytes m = g.Bytes(r.adus.value() * wire::kAduMetaBytes);
        r.metadata = {m.data, m.size};
      }
      return r;
    }
    case 3: {
      ReadRequest r;
      r.adus =
          g.Adus(static_cast<uint32_t>(std::min<uint64_t>(64, f.address.max_adu_offset() + 1)));
      const AduOffset offset(
          static_cast<uint32_t>(g.U(0, f.address.max_adu_offset() - (r.adus.value() - 1))));
      r.address = *FlashAddress::Make(g.Domain(), g.Sb(f), offset, f.address);
      r.verify = UserAddress::FromRaw(g.Any<uint64_t>());
      r.fifo = ReadFifoId(g.Any<uint32_t>());
      r.read_weight = g.Any<uint16_t>();
      const bool metadata_only = g.U(0, 3) == 0;
      if (!metadata_only) r.data = g.Vecs(uint64_t{r.adus.value()} * wire::kAduDataBytes);
      if (metadata_only || g.B()) r.metadata = g.Bytes(r.adus.value() * wire::kAduMetaBytes);
      return r;
    }
    case 4: {
      NamelessCopyRequest r;
      r.destination = g.Domain();
      r.destination_sb = g.Sb(f);
      const uint64_t n = g.U(1, 300);
      if (g.B()) {
        CopyBitmap b{FlashAddress::FromRaw(g.Any<uint64_t>()), {}};
        for (uint64_t i = 0; i < n; ++i) b.words.push_back(g.Any<uint32_t>());
        r.source = std::move(b);
      } else {
        CopyList l;
        for (uint64_t i = 0; i < n; ++i)
          l.addresses.push_back(FlashAddress::FromRaw(g.Any<uint64_t>()));
        r.source = std::move(l);
      }
      if (g.B()) {
        r.filter =
            UserAddressFilter{UserAddress::FromRaw(g.Any<uint64_t>()), g.U(1, 1 << 30), g.B()};
      }
      r.nlcid = static_cast<uint32_t>(g.U(1, 0xFFFFFFFF));
      r.program_weight = g.Any<uint16_t>();
      r.payload = g.Bytes(24 + 300 * 8);
      return r;
    }
    case 5:
      return GetCopyResultRequest{g.Domain(), static_cast<uint32_t>(g.U(1, 0xFFFFFFFF)), g.B(),
                                  g.Bytes(static_cast<uint32_t>(24 + 24 * g.U(1, 100)))};
  }
  ADD_FAILURE() << "no generator for I/O request " << which;
  return {};
}

TEST(RoundTripTest, EveryAdminCommand) {
  for (size_t which = 0; which < std::variant_size_v<AdminRequest>; ++which) {
    for (int i = 0; i < kIterations; ++i) {
      Gen g(static_cast<uint32_t>(which * 100003 + i));
      const AdminRequest request = RandomAdmin(g, which);
      ASSERT_EQ(request.index(), which) << "generator out of order";
      absl::StatusOr<Command> c = Encode(request);
      ASSERT_TRUE(c.ok()) << "request " << which << " seed " << i << ": " << c.status();
      EXPECT_EQ(c->queue, QueueType::kAdmin);
      EXPECT_EQ(c->direction, DirectionOfOpcode(c->opcode()));
      absl::StatusOr<AdminRequest> decoded = DecodeAdmin(*c);
      ASSERT_TRUE(decoded.ok()) << "request " << which << " seed " << i << ": " << decoded.status();
      ASSERT_TRUE(*decoded == TransferredPart(request, *c)) << "request " << which << " seed " << i;
    }
  }
}

TEST(RoundTripTest, EveryIoCommand) {
  for (size_t which = 0; which < std::variant_size_v<IoRequest>; ++which) {
    for (int i = 0; i < kIterations; ++i) {
      Gen g(static_cast<uint32_t>(which * 7919 + i));
      const DomainFormat f = g.Format();
      const IoRequest request = RandomIo(g, which, f);
      ASSERT_EQ(request.index(), which) << "generator out of order";
      absl::StatusOr<Command> c = Encode(request, f);
      ASSERT_TRUE(c.ok()) << "request " << which << " seed " << i << ": " << c.status();
      EXPECT_EQ(c->queue, QueueType::kIo);
      EXPECT_EQ(c->direction, DirectionOfOpcode(c->opcode()));
      absl::StatusOr<IoRequest> decoded = DecodeIo(*c, f);
      ASSERT_TRUE(decoded.ok()) << "request " << which << " seed " << i << ": " << decoded.status();
      ASSERT_TRUE(*decoded == TransferredPart(request, *c)) << "request " << which << " seed " << i;
    }
  }
}

// Encoding the same request twice yields the same bytes: the encoder is a function of the
// request alone.
TEST(RoundTripTest, EncodeIsDeterministic) {
  Gen g(42);
  const DomainFormat f = g.Format();
  for (size_t which = 0; which < std::variant_size_v<IoRequest>; ++which) {
    const IoRequest request = RandomIo(g, which, f);
    absl::StatusOr<Command> a = Encode(request, f), b = Encode(request, f);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(std::memcmp(&a->sqe, &b->sqe, sizeof(a->sqe)), 0);
  }
}

}  // namespace
}  // namespace sef::cmd
