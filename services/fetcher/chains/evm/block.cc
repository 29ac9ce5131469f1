#include "services/fetcher/chains/evm/block.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"

#include "services/fetcher/chains/evm/hex_quantity.h"

namespace coffer::fetcher::evm {
namespace {

bool IsBlockHash(absl::string_view hash) {
  if (hash.size() != 66 || hash[0] != '0' || (hash[1] != 'x' && hash[1] != 'X')) return false;
  for (char c : hash.substr(2)) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<v1::BlockRef> ParseBlock(absl::string_view json, const std::string& chain_id,
                                        absl::string_view asked) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError()) return absl::DataLossError("block: not JSON");
  if (document.IsNull()) {
    return absl::OutOfRangeError(absl::StrCat("block ", asked, " is not known to the node"));
  }
  if (!document.IsObject()) return absl::DataLossError("block: not an object");
  // A member's text; empty when it is missing or null.
  auto text = [&document](const char* field) -> absl::StatusOr<absl::string_view> {
    auto member = document.FindMember(field);
    if (member == document.MemberEnd() || member->value.IsNull()) return absl::string_view();
    if (!member->value.IsString()) {
      return absl::DataLossError(absl::StrCat("block.", field, ": not a string"));
    }
    return absl::string_view(member->value.GetString(), member->value.GetStringLength());
  };

  absl::StatusOr<absl::string_view> number = text("number");
  if (!number.ok()) return number.status();
  if (number->empty()) return absl::DataLossError("block.number: missing");
  absl::StatusOr<uint64_t> height = ParseUint64Quantity(*number);
  if (!height.ok()) {
    return absl::DataLossError(absl::StrCat("block.number: ", height.status().message()));
  }
  v1::BlockRef block;
  block.set_chain_id(chain_id);
  block.set_number(*height);

  absl::StatusOr<absl::string_view> hash = text("hash");
  if (!hash.ok()) return hash.status();
  if (!hash->empty()) {
    if (!IsBlockHash(*hash)) return absl::DataLossError("block.hash: not 0x and 64 hex digits");
    block.set_hash(absl::AsciiStrToLower(*hash));
  }

  absl::StatusOr<absl::string_view> timestamp = text("timestamp");
  if (!timestamp.ok()) return timestamp.status();
  if (!timestamp->empty()) {
    absl::StatusOr<uint64_t> seconds = ParseUint64Quantity(*timestamp);
    if (!seconds.ok()) {
      return absl::DataLossError(absl::StrCat("block.timestamp: ", seconds.status().message()));
    }
    // Protobuf Timestamps end at year 9999; a node claiming later is wrong.
    constexpr uint64_t kMaxTimestampSeconds = 253402300799;
    if (*seconds > kMaxTimestampSeconds) {
      return absl::DataLossError("block.timestamp: after the year 9999");
    }
    block.mutable_time()->set_seconds(static_cast<int64_t>(*seconds));
  }
  return block;
}

}  // namespace coffer::fetcher::evm
