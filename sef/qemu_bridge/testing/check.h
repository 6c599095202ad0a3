/* Checks and helpers shared by the bridge's C tests (sef_bridge_test.c, disk_test.c): each
 * failed check prints one line; CheckSummary prints "N passed, M failed". One test program per
 * translation unit: the counters are static. */
#ifndef SEF_QEMU_BRIDGE_TESTING_CHECK_H_
#define SEF_QEMU_BRIDGE_TESTING_CHECK_H_

#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int g_passed;
static int g_failed;

static void Check(int ok, const char* expr, const char* file, int line, const char* fmt, ...) {
  if (ok) {
    ++g_passed;
    return;
  }
  ++g_failed;
  fprintf(stderr, "%s:%d: FAILED: %s", file, line, expr);
  if (fmt != NULL && fmt[0] != '\0') {
    va_list args;
    va_start(args, fmt);
    fputs(" -- ", stderr);
    vfprintf(stderr, fmt, args);
    va_end(args);
  }
  fputc('\n', stderr);
}

#define EXPECT(cond) Check(!!(cond), #cond, __FILE__, __LINE__, NULL)
#define EXPECTF(cond, ...) Check(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)

static inline uint64_t Ptr(const void* p) { return (uint64_t)(uintptr_t)p; }

static inline const char* TempDir(void) {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

/* 1 when the fd is readable right now. */
static inline int Readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

/* Unit numbers resolve in a clean environment: a units file that turns host discovery off,
 * and the embedded default unit (unit 0) in <TEST_TMPDIR>/data. */
static inline void UseCleanUnitEnvironment(void) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/units.json", TempDir());
  FILE* f = fopen(path, "w");
  if (f != NULL) {
    fputs("{\"discover\": false}\n", f);
    fclose(f);
  }
  setenv("SEF_UNITS_FILE", path, 1);
  snprintf(path, sizeof(path), "%s/data", TempDir());
  setenv("SEF_DATA_DIR", path, 1);
}

/* Prints the counts; returns the exit status of the test program. */
static inline int CheckSummary(void) {
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

#endif /* SEF_QEMU_BRIDGE_TESTING_CHECK_H_ */
