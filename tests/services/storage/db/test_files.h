// Helpers shared by the database tests: temporary paths and file contents.
#ifndef COFFER_TESTS_SERVICES_STORAGE_DB_TEST_FILES_H_
#define COFFER_TESTS_SERVICES_STORAGE_DB_TEST_FILES_H_

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "services/storage/db/secret.h"

namespace coffer::storage::db::testing {

inline constexpr char kTestKey[] =
    "6b8f1c2d3e4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344";
inline constexpr char kOtherKey[] =
    "0000000000000000000000000000000000000000000000000000000000000001";

inline SecretString Key(const char* hex = kTestKey) { return SecretString(std::string(hex)); }

// A path under TEST_TMPDIR with no database (nor WAL, shared memory or key
// file) left from an earlier run.
inline std::string FreshPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  for (const char* suffix : {"", "-wal", "-shm", "-journal", ".key"}) {
    unlink((path + suffix).c_str());
  }
  return path;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

inline bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace coffer::storage::db::testing

#endif  // COFFER_TESTS_SERVICES_STORAGE_DB_TEST_FILES_H_
