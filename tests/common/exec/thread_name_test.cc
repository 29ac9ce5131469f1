#include "common/exec/thread_name.h"

#include <pthread.h>

#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace coffer::exec {
namespace {

TEST(ThreadNameTest, ShortNamesAreKept) { EXPECT_EQ(ThreadName("pool", "-3"), "pool-3"); }

TEST(ThreadNameTest, TruncatesTheBaseAndKeepsTheSuffix) {
  EXPECT_EQ(ThreadName("storage-readers", "-12"), "storage-read-12");
  EXPECT_EQ(ThreadName("a-very-long-thread-name"), "a-very-long-thr");
}

TEST(ThreadNameTest, SetsTheNameOfTheCallingThread) {
  std::string seen;
  std::thread thread([&seen] {
    SetCurrentThreadName("coffer-test-thread-name");
    char buffer[32] = {};
    ASSERT_EQ(pthread_getname_np(pthread_self(), buffer, sizeof(buffer)), 0);
    seen = buffer;
  });
  thread.join();
  EXPECT_EQ(seen, "coffer-test-thr");
}

}  // namespace
}  // namespace coffer::exec
