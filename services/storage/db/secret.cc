#include "services/storage/db/secret.h"

#include <string.h>

#include <utility>

namespace coffer::storage::db {

SecretString::SecretString(std::string&& value) : value_(std::move(value)) { WipeString(value); }

SecretString::~SecretString() { WipeString(value_); }

SecretString::SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) {
  WipeString(other.value_);
}

SecretString& SecretString::operator=(SecretString&& other) noexcept {
  if (this != &other) {
    WipeString(value_);
    value_ = std::move(other.value_);
    WipeString(other.value_);
  }
  return *this;
}

void SecretString::Append(absl::string_view bytes) {
  if (value_.size() + bytes.size() <= value_.capacity()) {
    value_.append(bytes.data(), bytes.size());
    return;
  }
  std::string grown;
  grown.reserve(value_.size() + bytes.size());
  grown.append(value_);
  grown.append(bytes.data(), bytes.size());
  WipeString(value_);
  value_ = std::move(grown);
}

}  // namespace coffer::storage::db
