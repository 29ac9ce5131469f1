#include "tests/integration/service_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

namespace coffer::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Starts `argv` with stdout and stderr appended to `log_path`, in `cwd`.
// Standard output and error go to `log_path` (appended), or error to
// `stderr_path` when that is set; standard input comes from `stdin_path`
// when set.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path,
                            const std::string& cwd, const std::vector<std::string>& extra_env,
                            const std::string& stderr_path = "",
                            const std::string& stdin_path = "") {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) env_strings.push_back(*entry);
  for (const std::string& entry : extra_env) env_strings.push_back(entry);
  std::vector<char*> env;
  for (std::string& entry : env_strings) env.push_back(entry.data());
  env.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      close(log);
    }
    if (!stderr_path.empty()) {
      int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) {
        dup2(err, STDERR_FILENO);
        close(err);
      }
    }
    if (!stdin_path.empty()) {
      int in = open(stdin_path.c_str(), O_RDONLY);
      if (in < 0) _exit(125);
      dup2(in, STDIN_FILENO);
      close(in);
    }
    if (chdir(cwd.c_str()) != 0) _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(args[0], args.data(), env.data());
    _exit(127);
  }
  return pid;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string RunfilePath(const std::string& workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string base = srcdir != nullptr ? std::string(srcdir) + "/coffer" : ".";
  return absl::StrCat(base, "/", workspace_relative);
}

std::string MakeTestDirectory(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, "-", getpid(), "-",
                                  counter.fetch_add(1));
  mkdir(path.c_str(), 0755);
  return path;
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    std::string name, std::string binary, std::vector<std::string> args, std::string directory,
    std::vector<std::string> environment, absl::Duration timeout) {
  auto process = std::unique_ptr<ServiceProcess>(new ServiceProcess());
  process->name_ = name;
  process->directory_ = directory;
  mkdir(directory.c_str(), 0755);
  process->log_path_ = absl::StrCat(directory, "/", name, ".log");
  std::string port_file = absl::StrCat(directory, "/", name, ".port");
  unlink(port_file.c_str());

  std::vector<std::string> argv = {binary, "--listen=127.0.0.1:0",
                                   absl::StrCat("--port_file=", port_file)};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<pid_t> pid = Spawn(argv, process->log_path_, directory, environment);
  if (!pid.ok()) return pid.status();
  process->pid_ = *pid;

  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::string contents(absl::StripAsciiWhitespace(ReadFile(port_file)));
    int port = 0;
    if (!contents.empty() && absl::SimpleAtoi(contents, &port) && port > 0) {
      process->port_ = port;
      return process;
    }
    if (!process->Running()) {
      return absl::UnavailableError(absl::StrCat(name, " exited with code ", process->exit_code_,
                                                 " before serving:\n", process->Log()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(name, " did not report a port within ",
                                                  absl::FormatDuration(timeout), ":\n",
                                                  process->Log()));
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0 && Running()) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

std::string ServiceProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

bool ServiceProcess::Running() {
  if (exited_) return false;
  int status = 0;
  pid_t result = waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    exited_ = true;
    exit_code_ = ExitCodeOf(status);
    return false;
  }
  return true;
}

absl::StatusOr<int> ServiceProcess::Stop(int signal, absl::Duration timeout) {
  if (!Running()) return exit_code_;
  kill(pid_, signal);
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!Running()) return exit_code_;
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exited_ = true;
  return absl::DeadlineExceededError(
      absl::StrCat(name_, " did not exit within ", absl::FormatDuration(timeout), ":\n", Log()));
}

int ServiceProcess::Kill() {
  if (!Running()) return exit_code_;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  exit_code_ = ExitCodeOf(status);
  return exit_code_;
}

std::string ServiceProcess::Log() const { return ReadFile(log_path_); }

absl::StatusOr<CommandResult> RunCommand(const std::string& binary,
                                         const std::vector<std::string>& args,
                                         absl::Duration timeout) {
  absl::StatusOr<CommandOutput> result =
      RunCommandWith({.binary = binary, .args = args, .timeout = timeout, .split_stderr = false});
  if (!result.ok()) return result.status();
  return CommandResult{result->exit_code, std::move(result->stdout_text)};
}

absl::StatusOr<CommandOutput> RunCommandWith(const CommandSpec& spec) {
  std::string directory = MakeTestDirectory("command");
  std::string stdout_path = directory + "/stdout.log";
  std::string stderr_path = spec.split_stderr ? directory + "/stderr.log" : "";
  std::string stdin_path;
  if (spec.stdin_text.has_value()) {
    stdin_path = directory + "/stdin.txt";
    std::ofstream(stdin_path) << *spec.stdin_text;
  }
  std::vector<std::string> argv = {spec.binary};
  argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  absl::StatusOr<pid_t> pid = Spawn(argv, stdout_path, spec.cwd.empty() ? directory : spec.cwd,
                                    spec.env, stderr_path, stdin_path);
  if (!pid.ok()) return pid.status();
  absl::Time deadline = absl::Now() + spec.timeout;
  int status = 0;
  while (waitpid(*pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(*pid, SIGKILL);
      waitpid(*pid, &status, 0);
      return absl::DeadlineExceededError(absl::StrCat(spec.binary, " did not finish"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return CommandOutput{ExitCodeOf(status), ReadFile(stdout_path),
                       spec.split_stderr ? ReadFile(stderr_path) : ""};
}

}  // namespace coffer::testing
