#include "services/storage/db/key_source.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"

namespace coffer::storage::db {
namespace {

constexpr char kKey[] = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
constexpr char kKeyLower[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// A fresh path under TEST_TMPDIR, with any leftover files removed.
std::string TempPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  unlink(path.c_str());
  unlink((path + ".key").c_str());
  return path;
}

KeyOptions Options(const std::string& database_path, const std::string& key_file,
                   const std::string& env_var) {
  KeyOptions options;
  options.database_path = database_path;
  options.key_file = key_file;
  options.env_var = env_var;
  return options;
}

void WriteFile(const std::string& path, const std::string& contents, mode_t mode) {
  unlink(path.c_str());
  std::ofstream(path) << contents;
  chmod(path.c_str(), mode);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Collects what is logged while it lives.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string Text() const { return absl::StrJoin(sink_->last_formatted(), ""); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(LoadDatabaseKeyTest, FromEnvironment) {
  setenv("COFFER_TEST_KEY_ENV", kKey, 1);
  KeyOptions options = Options(TempPath("env.db"), "", "COFFER_TEST_KEY_ENV");
  absl::StatusOr<SecretString> key = LoadDatabaseKey(options);
  unsetenv("COFFER_TEST_KEY_ENV");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->Reveal(), kKeyLower);
}

TEST(LoadDatabaseKeyTest, DefaultVariableIsCofferDbKey) {
  setenv("COFFER_DB_KEY", kKeyLower, 1);
  absl::StatusOr<SecretString> key =
      LoadDatabaseKey(Options(TempPath("default.db"), "", "COFFER_DB_KEY"));
  unsetenv("COFFER_DB_KEY");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->Reveal(), kKeyLower);
}

TEST(LoadDatabaseKeyTest, FromFileIgnoringTrailingNewline) {
  const std::string key_file = TempPath("key-file");
  WriteFile(key_file, std::string(kKey) + "\n", 0600);
  absl::StatusOr<SecretString> key = LoadDatabaseKey(Options(TempPath("file.db"), key_file, ""));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->Reveal(), kKeyLower);
}

TEST(LoadDatabaseKeyTest, LooseFilePermissionsWarn) {
  const std::string key_file = TempPath("loose-key");
  WriteFile(key_file, kKey, 0644);
  LogCapture log;
  absl::StatusOr<SecretString> key = LoadDatabaseKey(Options(TempPath("loose.db"), key_file, ""));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_TRUE(absl::StrContains(log.Text(), "0644")) << log.Text();
}

TEST(LoadDatabaseKeyTest, MissingFileIsNotFound) {
  absl::StatusOr<SecretString> key =
      LoadDatabaseKey(Options(TempPath("x.db"), TempPath("absent"), ""));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound);
}

TEST(LoadDatabaseKeyTest, BadFormatIsInvalidArgumentAndNeverEchoed) {
  const std::string secret_like = "correct horse battery staple, my very secret passphrase";
  const std::string key_file = TempPath("bad-key");
  WriteFile(key_file, secret_like, 0600);
  LogCapture log;
  absl::StatusOr<SecretString> from_file =
      LoadDatabaseKey(Options(TempPath("bad.db"), key_file, ""));
  EXPECT_EQ(from_file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(from_file.status().message(), key_file));
  EXPECT_FALSE(absl::StrContains(from_file.status().message(), "horse"));

  // 63 hex characters plus one that is not hex.
  const std::string almost = std::string(63, 'a') + "g";
  setenv("COFFER_TEST_BAD_KEY", almost.c_str(), 1);
  absl::StatusOr<SecretString> from_env =
      LoadDatabaseKey(Options(TempPath("bad.db"), "", "COFFER_TEST_BAD_KEY"));
  unsetenv("COFFER_TEST_BAD_KEY");
  EXPECT_EQ(from_env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(from_env.status().message(), "COFFER_TEST_BAD_KEY"));
  EXPECT_FALSE(absl::StrContains(from_env.status().message(), "aaaa"));
  EXPECT_FALSE(absl::StrContains(log.Text(), "horse"));
  EXPECT_FALSE(absl::StrContains(log.Text(), "aaaa"));
}

TEST(LoadDatabaseKeyTest, TooShortAndTooLongAreRejected) {
  EXPECT_EQ(ParseDatabaseKey(std::string(62, 'a'), "test").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDatabaseKey(std::string(66, 'a'), "test").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDatabaseKey("", "test").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadDatabaseKeyTest, FileAndEnvironmentTogetherAreRefused) {
  const std::string key_file = TempPath("both-key");
  WriteFile(key_file, kKey, 0600);
  setenv("COFFER_TEST_BOTH", kKey, 1);
  absl::StatusOr<SecretString> key =
      LoadDatabaseKey(Options(TempPath("both.db"), key_file, "COFFER_TEST_BOTH"));
  unsetenv("COFFER_TEST_BOTH");
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadDatabaseKeyTest, DevelopmentKeyIsGeneratedPrivateAndReused) {
  const std::string db = TempPath("dev.db");
  const KeyOptions options = Options(db, "", "");
  std::string first_key;
  {
    LogCapture log;
    absl::StatusOr<SecretString> key = LoadDatabaseKey(options);
    ASSERT_TRUE(key.ok()) << key.status();
    ASSERT_TRUE(ParseDatabaseKey(key->Reveal(), "generated").ok());
    first_key = std::string(key->Reveal());
    EXPECT_TRUE(absl::StrContains(log.Text(), "DEVELOPMENT KEY")) << log.Text();
    EXPECT_FALSE(absl::StrContains(log.Text(), first_key));
  }
  struct stat st;
  ASSERT_EQ(stat((db + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(ReadFile(db + ".key"))), first_key);

  // The database now exists (as the service would have created it): the key
  // beside it is used again, not replaced.
  WriteFile(db, "not really a database", 0600);
  absl::StatusOr<SecretString> again = LoadDatabaseKey(options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->Reveal(), first_key);
}

TEST(LoadDatabaseKeyTest, ExistingDatabaseWithoutAnyKeyIsRefused) {
  const std::string db = TempPath("orphan.db");
  WriteFile(db, "some database", 0600);
  absl::StatusOr<SecretString> key = LoadDatabaseKey(Options(db, "", ""));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  struct stat st;
  EXPECT_NE(stat((db + ".key").c_str(), &st), 0) << "no key may be invented for existing data";
}

}  // namespace
}  // namespace coffer::storage::db
