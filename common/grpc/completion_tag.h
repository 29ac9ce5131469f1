// The object behind every `void* tag` that coffer puts into a completion
// queue.
//
// A polling thread takes `(tag, ok)` from CompletionQueue::Next and calls
// `static_cast<CompletionTag*>(tag)->OnComplete(ok)`. Nothing else is ever
// passed as a tag, so the cast is always valid.
//
// Call objects keep one tag member per kind of operation (request, write,
// finish, done), never `this` for two operations at once (grpc#20155), and
// start at most one operation per tag at a time.
#ifndef COFFER_COMMON_GRPC_COMPLETION_TAG_H_
#define COFFER_COMMON_GRPC_COMPLETION_TAG_H_

#include <string_view>

namespace coffer::grpc_util {

class CompletionTag {
 public:
  // Runs on the polling thread that dequeued the tag. `ok` is the queue's
  // verdict on the operation (false: cancelled, failed, or queue shut down).
  virtual void OnComplete(bool ok) = 0;

  // What the tag belongs to ("/coffer.v1.Admin/GetStatus"), for debug-mode
  // reports of slow handlers. Read on the polling thread before OnComplete.
  virtual std::string_view Describe() const { return "unknown"; }

 protected:
  ~CompletionTag() = default;
};

// A tag that forwards to a member function of its owner, so a call object
// declares its tags as members:
//
//   MemberTag<UnaryCall, &UnaryCall::OnRequested> request_tag_{this};
//
// The owner provides `std::string_view Describe() const`.
template <typename Owner, void (Owner::*kHandler)(bool)>
class MemberTag final : public CompletionTag {
 public:
  explicit MemberTag(Owner* owner) : owner_(owner) {}
  MemberTag(const MemberTag&) = delete;
  MemberTag& operator=(const MemberTag&) = delete;

  void OnComplete(bool ok) override { (owner_->*kHandler)(ok); }
  std::string_view Describe() const override { return owner_->Describe(); }

 private:
  Owner* const owner_;
};

}  // namespace coffer::grpc_util

#endif  // COFFER_COMMON_GRPC_COMPLETION_TAG_H_
