// One real coffer binary, started by a test: on a free loopback port (the
// binary binds port 0 and writes the port it got to --port_file), in its own
// directory, with its output in a log file the test can read.
#ifndef COFFER_TESTS_INTEGRATION_SERVICE_PROCESS_H_
#define COFFER_TESTS_INTEGRATION_SERVICE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace coffer::testing {

class ServiceProcess {
 public:
  // Starts `binary` with `args` plus --listen=127.0.0.1:0 and --port_file,
  // in `directory` (created if missing), and waits for its port. Fails when
  // the process exits first or no port appears within `timeout`.
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(
      std::string name, std::string binary, std::vector<std::string> args, std::string directory,
      std::vector<std::string> environment = {}, absl::Duration timeout = absl::Seconds(30));

  // Kills the process (SIGKILL) if it is still running.
  ~ServiceProcess();

  const std::string& name() const { return name_; }
  int port() const { return port_; }
  std::string address() const;
  pid_t pid() const { return pid_; }
  const std::string& directory() const { return directory_; }

  // Sends `signal` and waits up to `timeout` for the exit; answers the exit
  // code (128 + n for death by signal n). DEADLINE_EXCEEDED if it lingers
  // (it is then killed).
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout = absl::Seconds(30));

  // Kills the process with SIGKILL, as a crash would, and waits for it to be
  // gone (SIGKILL cannot be caught, so the wait is bounded). Answers the exit
  // code: 128 + SIGKILL, or the code it had already exited with.
  int Kill();

  // Whether the process is still running (reaps it if not).
  bool Running();

  // Everything the process wrote to stdout and stderr so far.
  std::string Log() const;

 private:
  ServiceProcess() = default;

  std::string name_;
  std::string directory_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
};

// Path of a binary built by Bazel and declared as the test's data, e.g.
// "services/storage/coffer-storage".
std::string RunfilePath(const std::string& workspace_relative);

// A fresh directory under the test's temporary directory.
std::string MakeTestDirectory(const std::string& name);

// Runs `binary` with `args` to completion (for --help and flag errors);
// answers its exit code and output.
struct CommandResult {
  int exit_code;
  std::string output;
};
absl::StatusOr<CommandResult> RunCommand(const std::string& binary,
                                         const std::vector<std::string>& args,
                                         absl::Duration timeout = absl::Seconds(30));

// A command run with its standard error apart from its output (a CLI's
// document on stdout, its progress and errors on stderr), text on its
// standard input, extra environment ("NAME=value") and a working directory
// (empty: a fresh one).
struct CommandSpec {
  std::string binary;
  std::vector<std::string> args;
  std::optional<std::string> stdin_text = std::nullopt;
  std::vector<std::string> env = {};
  std::string cwd = "";
  absl::Duration timeout = absl::Seconds(30);
  // False: stderr joins stdout_text.
  bool split_stderr = true;
};
struct CommandOutput {
  int exit_code;
  std::string stdout_text;
  std::string stderr_text;
};
absl::StatusOr<CommandOutput> RunCommandWith(const CommandSpec& spec);

}  // namespace coffer::testing

#endif  // COFFER_TESTS_INTEGRATION_SERVICE_PROCESS_H_
