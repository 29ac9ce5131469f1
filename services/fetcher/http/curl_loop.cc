#include "services/fetcher/http/curl_loop.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include <curl/curl.h>

#include "common/exec/thread_name.h"

namespace coffer::fetcher {
namespace {

CURLM* Multi(void* multi) { return static_cast<CURLM*>(multi); }

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Never paired with curl_global_cleanup: other threads of the process
    // may still use libcurl while it exits.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      spdlog::critical("fetcher: curl_global_init failed");
      std::abort();
    }
  });
}

// libcurl takes milliseconds as a long, where 0 means "no limit".
long TimeoutMillis(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return 0;
  return static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) <= ' ' || c == ':' || c == 0x7f) return false;
  }
  return true;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

absl::Status StatusForCurlCode(CURLcode code, bool body_too_large, const std::string& what) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(what);
    case CURLE_WRITE_ERROR:
      if (body_too_large) return absl::ResourceExhaustedError(what);
      return absl::InternalError(what);
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_OUT_OF_MEMORY:
      return absl::ResourceExhaustedError(what);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
      return absl::InvalidArgumentError(what);
    default:
      return absl::UnavailableError(what);
  }
}

}  // namespace

struct CurlLoop::Transfer {
  ~Transfer() {
    if (header_list != nullptr) curl_slist_free_all(header_list);
  }

  uint64_t id = 0;
  HttpRequest request;
  Done done;
  size_t max_body = 0;

  // Set while the transfer is in the multi handle.
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  HttpResponse response;
  bool body_too_large = false;
  char error[CURL_ERROR_SIZE] = {};

  static size_t OnBody(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    const size_t n = size * count;
    if (n > self->max_body - self->response.body.size()) {
      self->body_too_large = true;
      return 0;  // Aborts the transfer with CURLE_WRITE_ERROR.
    }
    self->response.body.append(data, n);
    return n;
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<Transfer*>(user);
    const size_t n = size * count;
    std::string_view line(data, n);
    if (line.starts_with("HTTP/")) {
      // A new response begins (after a 100 Continue, say): keep only its
      // headers.
      self->response.headers.clear();
      return n;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return n;  // The blank last line.
    // Bounded like the body: a server streaming headers forever is cut off
    // by libcurl's own 100 kB header limit, so this never grows unbounded.
    std::string name(absl::StripAsciiWhitespace(absl::string_view(line.data(), colon)));
    absl::AsciiStrToLower(&name);
    const absl::string_view value =
        absl::StripAsciiWhitespace(absl::string_view(line.data() + colon + 1, n - colon - 1));
    self->response.headers.emplace_back(std::move(name), std::string(value));
    return n;
  }

  // "POST node.example: Couldn't connect to server (Failed to connect to
  // node.example port 443 ...)". libcurl's detail is left out if it
  // mentions the path, which may carry an API key.
  std::string Describe(CURLcode code) const {
    std::string text =
        absl::StrCat(request.method, " ", HostForLog(request.url), ": ", curl_easy_strerror(code));
    const std::string_view detail(error);
    const std::string_view url(request.url);
    const size_t scheme_end = url.find("://");
    const size_t path_start =
        scheme_end == std::string_view::npos ? 0 : url.find_first_of("/?#", scheme_end + 3);
    const std::string_view path =
        path_start == std::string_view::npos ? std::string_view() : url.substr(path_start);
    const bool mentions_path = path.size() > 1 && detail.find(path) != std::string_view::npos;
    if (!detail.empty() && !mentions_path && detail.find(request.url) == std::string_view::npos) {
      absl::StrAppend(&text, " (", std::string(detail), ")");
    }
    if (body_too_large) absl::StrAppend(&text, " (response body over ", max_body, " bytes)");
    return text;
  }
};

void CurlLoop::RequestHandle::Cancel() {
  if (loop_ != nullptr) loop_->RequestCancel(id_);
}

CurlLoop::CurlLoop(Options options) : options_(std::move(options)) {
  InitCurlOnce();
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) {
    spdlog::critical("fetcher: curl_multi_init failed");
    std::abort();
  }
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, options_.max_total_connections);
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options_.max_host_connections);
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, options_.max_total_connections);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING,
                    options_.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
  multi_ = multi;
  std::lock_guard<std::mutex> lock(join_mu_);
  thread_ = std::thread([this] { Run(); });
}

CurlLoop::~CurlLoop() {
  if (InLoopThread()) {
    spdlog::critical("fetcher: CurlLoop destroyed on its own thread");
    std::abort();
  }
  Shutdown();
  for (void* easy : idle_easy_handles_) curl_easy_cleanup(static_cast<CURL*>(easy));
  curl_multi_cleanup(Multi(multi_));
}

CurlLoop::RequestHandle CurlLoop::Submit(HttpRequest request, Done done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  transfer->max_body = options_.max_response_bytes;
  RequestHandle handle;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      lock.unlock();
      transfer->done(absl::CancelledError("HTTP loop shut down"));
      return RequestHandle();
    }
    transfer->id = next_id_++;
    handle = RequestHandle(this, transfer->id);
    submitted_.push_back(std::move(transfer));
  }
  curl_multi_wakeup(Multi(multi_));
  return handle;
}

void CurlLoop::RunAt(absl::Time when, TimerCallback callback) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      lock.unlock();
      callback(absl::CancelledError("HTTP loop shut down"));
      return;
    }
    timers_set_.push_back(Timer{when, next_id_++, std::move(callback)});
  }
  curl_multi_wakeup(Multi(multi_));
}

void CurlLoop::RequestCancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Once stopping, the loop cancels everything anyway.
    if (stopping_) return;
    cancelled_.push_back(id);
  }
  curl_multi_wakeup(Multi(multi_));
}

void CurlLoop::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(Multi(multi_));
  if (InLoopThread()) return;
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

bool CurlLoop::InLoopThread() const { return loop_thread_id_.load() == std::this_thread::get_id(); }

CurlLoop::Counters CurlLoop::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void CurlLoop::Run() {
  loop_thread_id_.store(std::this_thread::get_id());
  exec::SetCurrentThreadName(options_.name);
  while (DrainInbox()) {
    int running = 0;
    curl_multi_perform(Multi(multi_), &running);
    FinishTransfers();
    RunDueTimers();
    // Callbacks that queued work have called curl_multi_wakeup, so this
    // returns at once for them; otherwise it sleeps until a socket is ready,
    // libcurl's own timeout, the next timer, or a wakeup.
    curl_multi_poll(Multi(multi_), nullptr, 0, MillisUntilNextTimer(1000), nullptr);
  }
  CancelEverything();
}

bool CurlLoop::DrainInbox() {
  std::vector<std::unique_ptr<Transfer>> submitted;
  std::vector<uint64_t> cancelled;
  std::vector<Timer> timers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    submitted.swap(submitted_);
    cancelled.swap(cancelled_);
    timers.swap(timers_set_);
  }
  for (Timer& timer : timers) timers_.push(std::move(timer));
  for (std::unique_ptr<Transfer>& transfer : submitted) StartTransfer(std::move(transfer));
  for (const uint64_t id : cancelled) {
    auto it = active_.find(id);
    // Finished already, or failed before reaching libcurl, or cancelled
    // twice. Cancellations are drained after the submissions queued before
    // them, so a request is never looked for before it is started.
    if (it == active_.end()) continue;
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    active_.erase(it);
    curl_multi_remove_handle(Multi(multi_), transfer->easy);
    curl_easy_reset(transfer->easy);
    idle_easy_handles_.push_back(transfer->easy);
    transfer->done(absl::CancelledError("HTTP request cancelled"));
  }
  return true;
}

void CurlLoop::StartTransfer(std::unique_ptr<Transfer> transfer) {
  const HttpRequest& request = transfer->request;
  if (!IsToken(request.method)) {
    transfer->done(absl::InvalidArgumentError("HTTP method is not a token"));
    return;
  }
  for (const auto& [name, value] : request.headers) {
    if (!IsToken(name) || HasLineBreak(value)) {
      transfer->done(absl::InvalidArgumentError(
          absl::StrCat("HTTP header '", IsToken(name) ? name : "?", "' is malformed")));
      return;
    }
    transfer->header_list =
        curl_slist_append(transfer->header_list, absl::StrCat(name, ": ", value).c_str());
  }
  // No "Expect: 100-continue" round trip before larger POST bodies.
  transfer->header_list = curl_slist_append(transfer->header_list, "Expect:");

  CURL* easy = nullptr;
  if (!idle_easy_handles_.empty()) {
    easy = static_cast<CURL*>(idle_easy_handles_.back());
    idle_easy_handles_.pop_back();
  } else {
    easy = curl_easy_init();
  }
  if (easy == nullptr) {
    transfer->done(absl::ResourceExhaustedError("curl_easy_init failed"));
    return;
  }
  transfer->easy = easy;
  Transfer* t = transfer.get();
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Transfer::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Transfer::OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, TimeoutMillis(request.connect_timeout));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, TimeoutMillis(request.timeout));
  curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT,
                   static_cast<long>(absl::ToInt64Seconds(options_.dns_cache_ttl)));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));
  if (options_.http2) {
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    // Over TLS, wait for a connection being set up to say (by ALPN) whether
    // it multiplexes rather than open another. Not for plain http: that
    // never multiplexes, and libcurl would hold every transfer to a new host
    // until the first response arrived.
    if (absl::StartsWithIgnoreCase(request.url, "https://")) {
      curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    }
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  }
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    if (request.method != "POST") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (request.method == "POST" || !request.body.empty()) {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    }
  }
  const CURLMcode added = curl_multi_add_handle(Multi(multi_), easy);
  if (added != CURLM_OK) {
    curl_easy_reset(easy);
    idle_easy_handles_.push_back(easy);
    transfer->done(
        absl::InternalError(absl::StrCat("curl_multi_add_handle: ", curl_multi_strerror(added))));
    return;
  }
  const uint64_t id = transfer->id;
  active_.emplace(id, std::move(transfer));
}

void CurlLoop::FinishTransfers() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(Multi(multi_), &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    const CURLcode code = message->data.result;
    Transfer* raw = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
    auto it = active_.find(raw->id);
    std::unique_ptr<Transfer> transfer = std::move(it->second);
    active_.erase(it);

    long connects = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
    absl::StatusOr<HttpResponse> outcome;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      curl_off_t total_us = 0;
      curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
      transfer->response.status = static_cast<int>(status);
      transfer->response.total_time = absl::Microseconds(total_us);
      outcome = std::move(transfer->response);
    } else {
      outcome = StatusForCurlCode(code, transfer->body_too_large, transfer->Describe(code));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.transfers_completed;
      counters_.connections_opened += static_cast<uint64_t>(std::max(0L, connects));
      if (code == CURLE_OK && connects == 0) ++counters_.connections_reused;
    }
    curl_multi_remove_handle(Multi(multi_), easy);
    curl_easy_reset(easy);
    idle_easy_handles_.push_back(easy);
    transfer->done(std::move(outcome));
  }
}

void CurlLoop::RunDueTimers() {
  const absl::Time now = absl::Now();
  while (!timers_.empty() && timers_.top().when <= now) {
    TimerCallback callback = std::move(timers_.top().callback);
    timers_.pop();
    callback(absl::OkStatus());
  }
}

int CurlLoop::MillisUntilNextTimer(int cap_ms) const {
  if (timers_.empty()) return cap_ms;
  const absl::Duration wait = timers_.top().when - absl::Now();
  if (wait <= absl::ZeroDuration()) return 0;
  // Rounded up: waking a little early would only spin until the timer is
  // due.
  const double ms = std::ceil(absl::ToDoubleMilliseconds(wait));
  return ms >= cap_ms ? cap_ms : static_cast<int>(ms);
}

void CurlLoop::CancelEverything() {
  const absl::Status cancelled = absl::CancelledError("HTTP loop shut down");
  // stopping_ is set, so callbacks run below cannot queue anything new.
  std::vector<std::unique_ptr<Transfer>> submitted;
  std::vector<Timer> timers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    submitted.swap(submitted_);
    timers.swap(timers_set_);
    cancelled_.clear();
  }
  for (std::unique_ptr<Transfer>& transfer : submitted) transfer->done(cancelled);
  std::map<uint64_t, std::unique_ptr<Transfer>> active;
  active.swap(active_);
  for (auto& [id, transfer] : active) {
    curl_multi_remove_handle(Multi(multi_), transfer->easy);
    curl_easy_reset(transfer->easy);
    idle_easy_handles_.push_back(transfer->easy);
  }
  for (auto& [id, transfer] : active) transfer->done(cancelled);
  for (Timer& timer : timers) timers_.push(std::move(timer));
  while (!timers_.empty()) {
    TimerCallback callback = std::move(timers_.top().callback);
    timers_.pop();
    callback(cancelled);
  }
}

}  // namespace coffer::fetcher
