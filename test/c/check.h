/* check — the smallest test harness: one behaviour per test function, a line per failure.
 *
 *   static void test_late_tool_completion_keeps_llm_parent(void) { CHECK(x == 1); }
 *   int main(void) { RUN(test_late_tool_completion_keeps_llm_parent); return check_done(); }
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures, check_tests, check_tests_failed, check_test_failed;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                   \
      check_failures++;                                                                            \
      check_test_failed = 1;                                                                       \
    }                                                                                              \
  } while (0)

#define CHECK_STR(a, b)                                                                            \
  do {                                                                                             \
    const char *check_a_ = (a), *check_b_ = (b);                                                   \
    if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                               \
      fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,          \
              check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");                     \
      check_failures++;                                                                            \
      check_test_failed = 1;                                                                       \
    }                                                                                              \
  } while (0)

#define CHECK_INT(a, b)                                                                            \
  do {                                                                                             \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);                                \
    if (check_a_ != check_b_) {                                                                    \
      fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, check_a_,    \
              check_b_);                                                                           \
      check_failures++;                                                                            \
      check_test_failed = 1;                                                                       \
    }                                                                                              \
  } while (0)

#define RUN(test)                                                                                  \
  do {                                                                                             \
    check_test_failed = 0;                                                                         \
    check_tests++;                                                                                 \
    test();                                                                                        \
    check_tests_failed += check_test_failed;                                                       \
    fprintf(stderr, "%s %s\n", check_test_failed ? "FAIL" : "ok  ", #test);                        \
  } while (0)

/* The POSIX permission bits of mode are want. Windows has none (a new file or directory takes
 * the ACL of its parent, the user's profile): always true there. */
#ifdef _WIN32
#define MODE_IS(mode, want) ((void)(mode), 1)
#else
#define MODE_IS(mode, want) (((mode)&0777) == (want))
#endif

/* Prints the closing line and returns the exit status for main. */
static inline int check_done(void) {
  fprintf(stderr, "%d passed, %d failed\n", check_tests - check_tests_failed, check_tests_failed);
  return check_failures ? 1 : 0;
}

#endif
