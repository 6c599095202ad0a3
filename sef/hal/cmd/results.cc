#include "sef/hal/cmd/results.h"

namespace sef::cmd {
namespace {
constexpr uint32_t Dw0(uint64_t r) { return static_cast<uint32_t>(r); }
constexpr uint32_t Dw1(uint64_t r) { return static_cast<uint32_t>(r >> 32); }
constexpr uint64_t Make(uint32_t dw0, uint32_t dw1) { return (uint64_t{dw1} << 32) | dw0; }
}  // namespace

EraseResult EraseResult::FromResult(uint64_t r) { return {SuperBlockId(Dw0(r)), AduCount(Dw1(r))}; }
uint64_t EraseResult::ToResult() const { return Make(sb.value(), writable_adus.value()); }

CloseResult CloseResult::FromResult(uint64_t r) {
  return {SuperBlockId(Dw0(r)), (Dw1(r) >> 31) != 0};
}
uint64_t CloseResult::ToResult() const {
  return Make(sb.value(), closed_by_this_command ? 1u << 31 : 0);
}

FreeResult FreeResult::FromResult(uint64_t r) { return {SuperBlockId(Dw0(r))}; }
uint64_t FreeResult::ToResult() const { return sb.value(); }

PatrolResult PatrolResult::FromResult(uint64_t r) { return {static_cast<uint8_t>(r & 0xFF)}; }
uint64_t PatrolResult::ToResult() const { return integrity_index; }

FarResult FarResult::FromResult(uint64_t r) { return {Dw0(r)}; }
uint64_t FarResult::ToResult() const { return addresses; }

NlwResult NlwResult::FromResult(uint64_t r) { return {Dw0(r), Dw1(r)}; }
uint64_t NlwResult::ToResult() const { return Make(count, aco_id); }

NlcResult NlcResult::FromResult(uint64_t r) {
  return {Dw0(r) & 0xFFFFFF, static_cast<uint8_t>(Dw0(r) >> 24)};
}
uint64_t NlcResult::ToResult() const {
  return (adus_left & 0xFFFFFF) | (uint32_t{copy_status} << 24);
}

GcrResult GcrResult::FromResult(uint64_t r) { return {Dw0(r)}; }
uint64_t GcrResult::ToResult() const { return status; }

CreateQosDomainResult CreateQosDomainResult::FromResult(uint64_t r) {
  return {QosDomainId(static_cast<uint16_t>(Dw0(r)))};
}
uint64_t CreateQosDomainResult::ToResult() const { return domain.value(); }

RootPointerResult RootPointerResult::FromResult(uint64_t r) { return {FlashAddress::FromRaw(r)}; }
uint64_t RootPointerResult::ToResult() const { return value.raw(); }

AsyncEvent AsyncEvent::FromResult(uint32_t dw0) {
  return {static_cast<uint8_t>(dw0 & 0x7), static_cast<uint8_t>(dw0 >> 8),
          static_cast<uint8_t>(dw0 >> 16)};
}
uint32_t AsyncEvent::ToResult() const {
  return (type & 0x7u) | (uint32_t{info} << 8) | (uint32_t{log_id} << 16);
}

}  // namespace sef::cmd
