#include "tools/cofferctl/progress_bar.h"

#include <algorithm>
#include <ostream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace coffer::cofferctl {
namespace {

// Redraws faster than this only flicker and cost a write per event.
constexpr absl::Duration kRedrawEvery = absl::Milliseconds(100);

}  // namespace

ProgressBar::ProgressBar(std::ostream& err, bool enabled, std::string label)
    : err_(err), enabled_(enabled), label_(std::move(label)) {}

ProgressBar::~ProgressBar() { Finish(); }

std::string ProgressBar::Render(const std::string& label, int64_t done, int64_t total,
                                const std::string& note, int width) {
  std::string line = label;
  if (total > 0) {
    const int64_t shown = std::clamp<int64_t>(done, 0, total);
    const int filled = static_cast<int>(shown * width / total);
    absl::StrAppend(&line, " [", std::string(filled, '#'), std::string(width - filled, ' '), "] ",
                    done, "/", total, " ", shown * 100 / total, "%");
  } else {
    absl::StrAppend(&line, " ", done);
  }
  if (!note.empty()) absl::StrAppend(&line, " ", note);
  return line;
}

void ProgressBar::Update(int64_t done, int64_t total, const std::string& note) {
  if (!enabled_) return;
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  const absl::Time now = absl::Now();
  if (now - last_draw_ < kRedrawEvery && !(total > 0 && done >= total)) return;
  last_draw_ = now;
  std::string line = Render(label_, done, total, note);
  const size_t width = line.size();
  // Spaces over what a longer previous line left behind.
  if (width < drawn_width_) line.append(drawn_width_ - width, ' ');
  drawn_width_ = width;
  err_ << '\r' << line << std::flush;
}

void ProgressBar::Finish() {
  if (!enabled_) return;
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  finished_ = true;
  if (drawn_width_ > 0) err_ << '\r' << std::string(drawn_width_, ' ') << '\r' << std::flush;
}

}  // namespace coffer::cofferctl
