#include "sef/base/status_macros.h"

#include <memory>

#include "gtest/gtest.h"

namespace sef {
namespace {

absl::Status Fail() { return absl::InvalidArgumentError("bad"); }
absl::StatusOr<std::unique_ptr<int>> MakeInt(bool ok) {
  if (!ok) return absl::NotFoundError("none");
  return std::make_unique<int>(7);
}

absl::Status UsesReturnIfError(bool fail) {
  if (fail) SEF_RETURN_IF_ERROR(Fail());
  SEF_RETURN_IF_ERROR(absl::OkStatus());
  return absl::OkStatus();
}

absl::StatusOr<int> UsesAssignOrReturn(bool ok) {
  SEF_ASSIGN_OR_RETURN(std::unique_ptr<int> value, MakeInt(ok));
  SEF_ASSIGN_OR_RETURN(auto again, MakeInt(true));  // two on one function: unique names
  return *value + *again;
}

TEST(StatusMacrosTest, ReturnIfErrorPropagates) {
  EXPECT_TRUE(UsesReturnIfError(false).ok());
  absl::Status s = UsesReturnIfError(true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "bad");
}

TEST(StatusMacrosTest, AssignOrReturnMovesValueAndPropagates) {
  EXPECT_EQ(*UsesAssignOrReturn(true), 14);
  EXPECT_EQ(UsesAssignOrReturn(false).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sef
