// Test fixture shared by the model's I/O and copy suites: a tiny unit with one VD of four
// dies (two per SB, 64-ADU SBs) and one QoS domain, plus helpers that drive FAR, NLW, NLC and
// GCR halves one by one.
#ifndef SEF_HAL_MODEL_TESTING_IO_FIXTURE_H_
#define SEF_HAL_MODEL_TESTING_IO_FIXTURE_H_

#include <sys/uio.h>

#include <cstring>
#include <deque>
#include <vector>

#include "gtest/gtest.h"
#include "sef/hal/model/testing/harness.h"

namespace sef::model::testing {

constexpr VirtualDeviceId kVd(1);
constexpr uint32_t kSbAdus = 64;
constexpr uint16_t kTag = 0x5EF;  // the harness's user-address tag

inline UserAddress Ua(uint64_t lba) { return *UserAddress::Make(Lba(lba), kTag); }

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.ok());
    h_.CreateVirtualDevice(kVd, {0, 1, 2, 3}, 2);
    d_ = h_.CreateDomain(h_.DefaultSpec(kVd));
    ASSERT_NE(d_.value(), 0);
    f_ = h_.FormatOf(d_);
  }

  FlashAddress Fla(QosDomainId d, uint32_t sb, uint32_t offset) {
    return *FlashAddress::Make(d, SuperBlockId(sb), AduOffset(offset), f_.address);
  }
  uint32_t SbOf(FlashAddress a) { return a.super_block(f_.address).value(); }
  uint32_t OffsetOf(FlashAddress a) { return a.adu_offset(f_.address).value(); }

  // A domain with its own limits on VD 1.
  QosDomainId Domain(uint64_t capacity, uint64_t quota, uint16_t max_open = 4,
                     uint64_t pslc_capacity = 0, uint64_t pslc_quota = 0) {
    cmd::QosDomainSpec spec = h_.DefaultSpec(kVd);
    spec.capacity = PlanePageCount(capacity);
    spec.quota = PlanePageCount(quota);
    spec.max_open_super_blocks = max_open;
    spec.pslc_capacity = PlanePageCount(pslc_capacity);
    spec.pslc_quota = PlanePageCount(pslc_quota);
    return h_.CreateDomain(spec);
  }

  Completion Sbm(QosDomainId d, wire::SbOperation op, uint32_t sb, std::vector<uint8_t>* info) {
    cmd::SuperBlockManagementRequest r{d, op, SuperBlockId(sb), 0, {}};
    if (info != nullptr) {
      info->assign(sizeof(wire::SbInfoLog), 0);
      r.buffer = cmd::MutableBytes::Of(*info);
    }
    return h_.Io(r, h_.FormatOf(d));
  }

  // The first half of a write pair, parked; its ARR lands in arr(index).
  ModelHarness::Slot Far(QosDomainId d, cmd::FarTarget target, uint32_t nlwid) {
    std::vector<uint8_t>& arr = bufs_.emplace_back(sizeof(wire::AddressRequestResponse), 0);
    last_arr_ = &arr;
    return h_.SubmitAsync(cmd::FlashAddressRequest{d, target, nlwid, 0, cmd::MutableBytes::Of(arr)},
                          h_.FormatOf(d));
  }
  wire::AddressRequestResponse LastArr() {
    wire::AddressRequestResponse arr{};
    std::memcpy(&arr, last_arr_->data(), sizeof(arr));
    return arr;
  }
  // The second half submitted alone (it may wait for its FAR): one ADU of Pattern(lba).
  ModelHarness::Slot NlwAsync(QosDomainId d, cmd::WriteTarget target, uint32_t nlwid,
                              uint64_t lba) {
    std::vector<uint8_t>& data =
        bufs_.emplace_back(wire::kAduDataBytes, ModelHarness::Pattern(lba));
    iovs_.push_back(iovec{data.data(), data.size()});
    cmd::NamelessWriteRequest nlw;
    nlw.domain = d;
    nlw.target = target;
    nlw.start = Ua(lba);
    nlw.adus = AduCount(1);
    nlw.nlwid = nlwid;
    nlw.data = {&iovs_.back(), 1};
    return h_.SubmitAsync(nlw, h_.FormatOf(d));
  }
  // The second half: `adus` ADUs of Pattern(lba + i), with metadata unless `no_metadata`.
  Completion Nlw(QosDomainId d, cmd::WriteTarget target, uint32_t nlwid, uint64_t lba,
                 uint32_t adus, bool no_metadata = false) {
    std::vector<uint8_t> data(uint64_t{adus} * wire::kAduDataBytes);
    std::vector<uint8_t> meta(uint64_t{adus} * wire::kAduMetaBytes);
    for (uint32_t i = 0; i < adus; ++i) {
      std::memset(data.data() + uint64_t{i} * wire::kAduDataBytes, ModelHarness::Pattern(lba + i),
                  wire::kAduDataBytes);
      std::memset(meta.data() + uint64_t{i} * wire::kAduMetaBytes, 0xA0 + i, wire::kAduMetaBytes);
    }
    iovec iov{data.data(), data.size()};
    cmd::NamelessWriteRequest nlw;
    nlw.domain = d;
    nlw.target = target;
    nlw.start = Ua(lba);
    nlw.adus = AduCount(adus);
    nlw.nlwid = nlwid;
    nlw.data = {&iov, 1};
    if (!no_metadata) nlw.metadata = cmd::ConstBytes::Of(meta);
    return h_.Io(nlw, h_.FormatOf(d));
  }

  ModelHarness::Slot Nlc(QosDomainId dest, uint32_t dest_sb, const cmd::CopySource& source,
                         uint32_t nlcid) {
    std::vector<uint8_t>& payload = bufs_.emplace_back(24 + 8 * 1024, 0);
    return h_.SubmitAsync(
        cmd::NamelessCopyRequest{dest, SuperBlockId(dest_sb), source, std::nullopt, nlcid, 0,
                                 cmd::MutableBytes::Of(payload)},
        h_.FormatOf(dest));
  }
  ModelHarness::Slot GcrAsync(QosDomainId dest, uint32_t nlcid) {
    std::vector<uint8_t>& acr = bufs_.emplace_back(sizeof(wire::AcrHeader) + 16 * 24, 0);
    return h_.SubmitAsync(cmd::GetCopyResultRequest{dest, nlcid, false, cmd::MutableBytes::Of(acr)},
                          h_.FormatOf(dest));
  }
  Completion Gcr(QosDomainId dest, uint32_t nlcid) {
    std::vector<uint8_t>& acr = bufs_.emplace_back(sizeof(wire::AcrHeader) + 16 * 24, 0);
    return h_.Io(cmd::GetCopyResultRequest{dest, nlcid, false, cmd::MutableBytes::Of(acr)},
                 h_.FormatOf(dest));
  }

  std::vector<uint64_t> UserAddresses(QosDomainId d, uint32_t sb, uint32_t offset,
                                      uint32_t entries) {
    std::vector<uint8_t> buf(entries * 8);
    const Completion c = h_.Admin(
        cmd::UserAddressListLogRequest{d, SuperBlockId(sb), offset, cmd::MutableBytes::Of(buf)});
    EXPECT_TRUE(c.status.ok()) << c.status;
    std::vector<uint64_t> out(entries);
    std::memcpy(out.data(), buf.data(), buf.size());
    return out;
  }

  std::deque<iovec> iovs_;                 // of NlwAsync, as bufs_
  std::deque<std::vector<uint8_t>> bufs_;  // outlives h_: parked commands write into it
  std::vector<uint8_t>* last_arr_ = nullptr;
  ModelHarness h_ = ModelHarness::Open("tiny");
  QosDomainId d_;
  cmd::DomainFormat f_;
};

}  // namespace sef::model::testing

#endif  // SEF_HAL_MODEL_TESTING_IO_FIXTURE_H_
