// A progress bar on stderr for long work (a triggered run waited for, a
// query over many accounts, a watched run), drawn in place with '\r' and
// only when stderr is a terminal: piped or captured stderr gets nothing, so
// scripts and logs never see control characters.
//
//   ProgressBar bar(ctx.err, ctx.interactive, "refresh");
//   bar.Update(done, total);       // any thread; redrawn at most 10x a second
//   bar.Finish();                  // clears the line
#ifndef COFFER_TOOLS_COFFERCTL_PROGRESS_BAR_H_
#define COFFER_TOOLS_COFFERCTL_PROGRESS_BAR_H_

#include <cstdint>
#include <iosfwd>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace coffer::cofferctl {

class ProgressBar {
 public:
  ProgressBar(std::ostream& err, bool enabled, std::string label);
  ~ProgressBar();  // Finish()

  // `total` 0: unknown (a count without a bar). `note` is shown after it.
  void Update(int64_t done, int64_t total, const std::string& note = "");
  // Clears the bar's line. Idempotent.
  void Finish();

  // The line Update draws, without '\r': "refresh [#####     ] 50/100 50%".
  // Public for tests.
  static std::string Render(const std::string& label, int64_t done, int64_t total,
                            const std::string& note, int width = 30);

 private:
  std::ostream& err_;
  const bool enabled_;
  const std::string label_;
  absl::Mutex mu_;
  absl::Time last_draw_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  size_t drawn_width_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_PROGRESS_BAR_H_
