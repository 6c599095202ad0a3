// StrongInt<Tag, Rep>: an integer that does not mix with other integers.
//
//   struct SuperBlockIdTag {};
//   using SuperBlockId = StrongInt<SuperBlockIdTag, uint32_t>;
//   SuperBlockId sb{5};          // explicit construction only
//   uint32_t raw = sb.value();   // explicit unwrapping only
//
// Supports comparison, hashing (Abseil and std), and printing. It deliberately has no
// arithmetic: an address space's arithmetic belongs to the type that knows its bounds.
// Thread-safety: a value type; as safe as the integer it wraps.
#ifndef SEF_BASE_STRONG_INT_H_
#define SEF_BASE_STRONG_INT_H_

#include <compare>
#include <cstddef>
#include <functional>
#include <ostream>
#include <type_traits>
#include <utility>

namespace sef {

template <typename Tag, typename Rep>
class StrongInt {
  static_assert(std::is_integral_v<Rep> && std::is_unsigned_v<Rep>,
                "StrongInt wraps unsigned integers");

 public:
  using ValueType = Rep;

  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep value) : value_(value) {}

  constexpr Rep value() const { return value_; }

  friend constexpr auto operator<=>(StrongInt, StrongInt) = default;
  friend constexpr bool operator==(StrongInt, StrongInt) = default;

  template <typename H>
  friend H AbslHashValue(H h, StrongInt v) {
    return H::combine(std::move(h), v.value_);
  }

  friend std::ostream& operator<<(std::ostream& os, StrongInt v) {
    // Promote so that 8-bit types print as numbers, not characters.
    return os << +v.value_;
  }

 private:
  Rep value_ = 0;
};

}  // namespace sef

template <typename Tag, typename Rep>
struct std::hash<sef::StrongInt<Tag, Rep>> {
  size_t operator()(sef::StrongInt<Tag, Rep> v) const noexcept {
    return std::hash<Rep>{}(v.value());
  }
};

#endif  // SEF_BASE_STRONG_INT_H_
