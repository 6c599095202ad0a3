// Status propagation macros. Abseil 20220623 (Debian 12) ships none.
//
//   SEF_RETURN_IF_ERROR(expr);          // expr yields absl::Status
//   SEF_ASSIGN_OR_RETURN(lhs, expr);    // expr yields absl::StatusOr<T>; lhs may declare
//
// Both return the error status unchanged from the enclosing function, which must return
// absl::Status or absl::StatusOr<U>.
#ifndef SEF_BASE_STATUS_MACROS_H_
#define SEF_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SEF_RETURN_IF_ERROR(expr)                          \
  do {                                                     \
    const ::absl::Status sef_status_macro_status = (expr); \
    if (!sef_status_macro_status.ok()) {                   \
      return sef_status_macro_status;                      \
    }                                                      \
  } while (false)

#define SEF_STATUS_MACROS_CONCAT_INNER(x, y) x##y
#define SEF_STATUS_MACROS_CONCAT(x, y) SEF_STATUS_MACROS_CONCAT_INNER(x, y)

#define SEF_ASSIGN_OR_RETURN(lhs, expr) \
  SEF_ASSIGN_OR_RETURN_IMPL(SEF_STATUS_MACROS_CONCAT(sef_statusor_, __LINE__), lhs, expr)

#define SEF_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) {                                \
    return std::move(statusor).status();               \
  }                                                    \
  lhs = std::move(statusor).value()

#endif  // SEF_BASE_STATUS_MACROS_H_
