#include "sef/base/strong_int.h"

#include <cstdint>
#include <sstream>
#include <type_traits>
#include <unordered_set>

#include "gtest/gtest.h"

namespace sef {
namespace {

struct ATag {};
struct BTag {};
using A = StrongInt<ATag, uint32_t>;
using B = StrongInt<BTag, uint32_t>;
using Small = StrongInt<struct SmallTag, uint8_t>;

static_assert(!std::is_convertible_v<uint32_t, A>, "no implicit construction");
static_assert(!std::is_convertible_v<A, uint32_t>, "no implicit unwrapping");
static_assert(!std::is_convertible_v<A, B>, "no mixing of address spaces");
static_assert(sizeof(A) == sizeof(uint32_t));

TEST(StrongIntTest, ComparesAndHashes) {
  EXPECT_EQ(A{3}, A{3});
  EXPECT_LT(A{3}, A{4});
  EXPECT_NE(A{3}, A{4});
  std::unordered_set<A> set{A{1}, A{2}, A{1}};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(A{}.value(), 0u);
}

TEST(StrongIntTest, PrintsNumbersEvenForBytes) {
  std::ostringstream os;
  os << Small{65} << " " << A{7};
  EXPECT_EQ(os.str(), "65 7");
}

}  // namespace
}  // namespace sef
