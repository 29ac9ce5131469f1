// coffer-storage opens its encrypted database before it reports SERVING:
// a development key is generated (0600) for a new database and reused on
// restart; a wrong key stops startup with a clear message and leaves the
// file untouched.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

#include "coffer/v1/admin.grpc.pb.h"
#include "services/storage/schema/schema.h"
#include "tests/integration/integration_test_base.h"

namespace coffer::testing {
namespace {

class StorageDatabaseTest : public IntegrationTestBase {
 protected:
  std::string ReadBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  }

  std::map<std::string, std::string> Details(const ServiceProcess& process) {
    auto admin = Client<v1::Admin>(process);
    auto status =
        admin->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetStatus, v1::GetStatusRequest());
    EXPECT_TRUE(status.ok()) << status.status();
    if (!status.ok()) return {};
    return {status->details().begin(), status->details().end()};
  }
};

TEST_F(StorageDatabaseTest, DevelopmentKeyIsGeneratedAndReused) {
  std::string dir = directory() + "/storage-db";
  for (int start = 0; start < 2; ++start) {
    auto storage = Launch(Service::kStorage, "storage", {}, dir);
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE(WaitForHealth(**storage, "SERVING")) << (*storage)->Log();
    auto details = Details(**storage);
    EXPECT_EQ(details["database"], "data/coffer.db");
    EXPECT_EQ(details["schema_version"], std::to_string(storage::Migrations().back().version));
    if (start == 0) {
      EXPECT_NE((*storage)->Log().find("DEVELOPMENT KEY"), std::string::npos) << (*storage)->Log();
    }
    StopAndExpectCleanExit(**storage, SIGTERM);
  }
  struct stat key_stat {};
  ASSERT_EQ(stat((dir + "/data/coffer.db.key").c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600);
  // Encrypted at rest: no SQLite header, no schema text.
  std::string bytes = ReadBytes(dir + "/data/coffer.db");
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find("SQLite format 3"), std::string::npos);
  EXPECT_EQ(bytes.find("CREATE TABLE"), std::string::npos);
}

TEST_F(StorageDatabaseTest, WrongKeyStopsStartupAndLeavesTheFileUntouched) {
  std::string dir = directory() + "/storage-wrong-key";
  {
    auto storage = Launch(Service::kStorage, "storage", {}, dir);
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE(WaitForHealth(**storage, "SERVING"));
    StopAndExpectCleanExit(**storage, SIGTERM);
  }
  std::string before = ReadBytes(dir + "/data/coffer.db");
  std::string wrong_key(64, 'a');
  auto storage = Launch(Service::kStorage, "storage", {}, dir, {"COFFER_DB_KEY=" + wrong_key});
  // It may exit before or after reporting its port; either way it must not serve.
  if (storage.ok()) {
    auto code = (*storage)->Stop(SIGTERM);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 1) << (*storage)->Log();
    EXPECT_NE((*storage)->Log().find("wrong key or not a coffer database"), std::string::npos)
        << (*storage)->Log();
    EXPECT_EQ((*storage)->Log().find(wrong_key), std::string::npos) << "the key reached the log";
  } else {
    EXPECT_NE(storage.status().message().find("wrong key or not a coffer database"),
              std::string::npos)
        << storage.status();
  }
  EXPECT_EQ(ReadBytes(dir + "/data/coffer.db"), before);
}

}  // namespace
}  // namespace coffer::testing
