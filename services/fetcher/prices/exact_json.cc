#include "services/fetcher/prices/exact_json.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace coffer::fetcher {
namespace {

constexpr unsigned kParseFlags = rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag;

// Forwards SAX events to the document and notes, in document order, which
// scalar strings were numbers; refuses nesting past kMaxJsonDepth.
class RecordingHandler {
 public:
  RecordingHandler(rapidjson::Document* document, std::vector<bool>* string_is_number)
      : document_(document), string_is_number_(string_is_number) {}

  bool Null() { return document_->Null(); }
  bool Bool(bool b) { return document_->Bool(b); }
  // Not called under kParseNumbersAsStringsFlag; numbers arrive as RawNumber.
  bool Int(int i) { return document_->Int(i); }
  bool Uint(unsigned i) { return document_->Uint(i); }
  bool Int64(int64_t i) { return document_->Int64(i); }
  bool Uint64(uint64_t i) { return document_->Uint64(i); }
  bool Double(double d) { return document_->Double(d); }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool copy) {
    string_is_number_->push_back(true);
    return document_->RawNumber(str, length, copy);
  }
  bool String(const char* str, rapidjson::SizeType length, bool copy) {
    string_is_number_->push_back(false);
    return document_->String(str, length, copy);
  }
  bool Key(const char* str, rapidjson::SizeType length, bool copy) {
    return document_->Key(str, length, copy);
  }
  bool StartObject() { return Enter() && document_->StartObject(); }
  bool EndObject(rapidjson::SizeType count) {
    --depth_;
    return document_->EndObject(count);
  }
  bool StartArray() { return Enter() && document_->StartArray(); }
  bool EndArray(rapidjson::SizeType count) {
    --depth_;
    return document_->EndArray(count);
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool Enter() {
    if (++depth_ > kMaxJsonDepth) too_deep_ = true;
    return !too_deep_;
  }

  rapidjson::Document* document_;
  std::vector<bool>* string_is_number_;
  int depth_ = 0;
  bool too_deep_ = false;
};

// Visits string values in document order (the order the SAX events came
// in), pairing each with its recorded flag. Depth is bounded by
// kMaxJsonDepth, so recursion is safe.
void CollectNumbers(const rapidjson::Value& value, const std::vector<bool>& string_is_number,
                    size_t* next, absl::flat_hash_set<const rapidjson::Value*>* numbers) {
  if (value.IsString()) {
    if (*next < string_is_number.size() && string_is_number[*next]) numbers->insert(&value);
    ++*next;
  } else if (value.IsObject()) {
    for (const auto& member : value.GetObject()) {
      CollectNumbers(member.value, string_is_number, next, numbers);
    }
  } else if (value.IsArray()) {
    for (const auto& element : value.GetArray()) {
      CollectNumbers(element, string_is_number, next, numbers);
    }
  }
}

absl::Status NotANumber() { return absl::DataLossError("is not a JSON number"); }

}  // namespace

absl::StatusOr<ExactJson> ExactJson::Parse(absl::string_view body, size_t max_bytes) {
  if (body.size() > max_bytes) {
    return absl::DataLossError(absl::StrCat("JSON body of ", body.size(),
                                            " bytes is larger than the limit of ", max_bytes));
  }
  // The stream reads NUL as its end, which would accept "{}\0garbage".
  if (const size_t nul = body.find('\0'); nul != absl::string_view::npos) {
    return absl::DataLossError(absl::StrCat("malformed JSON at offset ", nul, ": NUL byte"));
  }
  ExactJson json;
  json.document_ = std::make_unique<rapidjson::Document>();
  std::vector<bool> string_is_number;
  rapidjson::ParseResult result;
  bool too_deep = false;
  auto generator = [&](rapidjson::Document& document) {
    RecordingHandler handler(&document, &string_is_number);
    rapidjson::MemoryStream stream(body.data(), body.size());
    rapidjson::Reader reader;
    result = reader.Parse<kParseFlags>(stream, handler);
    too_deep = handler.too_deep();
    return !result.IsError();
  };
  json.document_->Populate(generator);
  if (too_deep) {
    return absl::DataLossError(absl::StrCat("malformed JSON at offset ", result.Offset(),
                                            ": nested deeper than ", kMaxJsonDepth));
  }
  if (result.IsError()) {
    return absl::DataLossError(absl::StrCat("malformed JSON at offset ", result.Offset(), ": ",
                                            rapidjson::GetParseError_En(result.Code())));
  }
  size_t next = 0;
  CollectNumbers(*json.document_, string_is_number, &next, &json.numbers_);
  return json;
}

absl::StatusOr<chain::DecimalAmount> DecimalFromJsonNumber(absl::string_view text) {
  // JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  size_t pos = 0;
  const bool negative = pos < text.size() && text[pos] == '-';
  if (negative) ++pos;
  const size_t int_start = pos;
  while (pos < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
  const absl::string_view int_digits = text.substr(int_start, pos - int_start);
  if (int_digits.empty() || (int_digits.size() > 1 && int_digits[0] == '0')) return NotANumber();
  absl::string_view frac_digits;
  if (pos < text.size() && text[pos] == '.') {
    const size_t frac_start = ++pos;
    while (pos < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    frac_digits = text.substr(frac_start, pos - frac_start);
    if (frac_digits.empty()) return NotANumber();
  }
  int64_t exponent = 0;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool exponent_negative = false;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      exponent_negative = text[pos] == '-';
      ++pos;
    }
    const size_t exp_start = pos;
    while (pos < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[pos]))) {
      // Past this the value is out of range anyway; stop before overflow.
      if (exponent < 100'000) exponent = exponent * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == exp_start) return NotANumber();
    if (exponent_negative) exponent = -exponent;
  }
  if (pos != text.size()) return NotANumber();

  // value = digits x 10^(exponent - frac_digits.size())
  std::string digits = absl::StrCat(int_digits, frac_digits);
  const size_t first_nonzero = digits.find_first_not_of('0');
  if (first_nonzero == std::string::npos) return chain::DecimalAmount{"0", 0};
  if (negative) return absl::DataLossError("is negative");
  digits.erase(0, first_nonzero);
  int64_t scale = static_cast<int64_t>(frac_digits.size()) - exponent;
  // Trailing zeros of the digits lower the scale; below zero they stay.
  while (scale > 0 && digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    --scale;
  }
  if (scale > static_cast<int64_t>(chain::kMaxDecimals)) {
    return absl::DataLossError(
        absl::StrCat("needs more than ", chain::kMaxDecimals, " decimal places"));
  }
  if (scale < 0) {
    if (static_cast<int64_t>(digits.size()) - scale >
        static_cast<int64_t>(chain::kMaxDerivedDigits)) {
      return absl::DataLossError(
          absl::StrCat("has more than ", chain::kMaxDerivedDigits, " digits"));
    }
    digits.append(static_cast<size_t>(-scale), '0');
    scale = 0;
  }
  if (digits.size() > chain::kMaxDerivedDigits) {
    return absl::DataLossError(absl::StrCat("has more than ", chain::kMaxDerivedDigits, " digits"));
  }
  return chain::DecimalAmount{std::move(digits), static_cast<uint32_t>(scale)};
}

absl::StatusOr<uint64_t> Uint64FromJsonNumber(absl::string_view text) {
  if (text.empty()) return NotANumber();
  if (text[0] == '-') return absl::DataLossError("is negative");
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::DataLossError("is not an integer");
    }
  }
  if (text.size() > 1 && text[0] == '0') return NotANumber();
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::DataLossError("does not fit in 64 bits");
  }
  return value;
}

}  // namespace coffer::fetcher
