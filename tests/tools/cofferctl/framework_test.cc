// cofferctl's framework on its own, no services: tables, JSON, formatting,
// time arguments, the progress bar, id lists, command lookup, flag checks
// and help.
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <google/protobuf/util/json_util.h>

#include "coffer/v1/common.pb.h"
#include "tools/cofferctl/command.h"
#include "tools/cofferctl/inputs.h"
#include "tools/cofferctl/output.h"
#include "tools/cofferctl/progress_bar.h"

namespace coffer::cofferctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(TableTest, AlignsColumnsRightAlignsNumbersAndLeavesNoTrailingSpaces) {
  Table table({"NAME", {"AMOUNT", Align::kRight}, "NOTE"});
  table.AddRow({"eth", "1.5", ""});
  table.AddRow({"bitcoin", "12345.25", "x"});
  table.AddRow({"only"});  // missing cells are empty
  EXPECT_EQ(table.rows(), 3u);
  EXPECT_EQ(table.Render(),
            "NAME       AMOUNT  NOTE\n"
            "eth           1.5\n"
            "bitcoin  12345.25  x\n"
            "only\n");
}

TEST(TableTest, WithoutRowsPrintsTheHeaderAlone) {
  Table table({"A", {"B", Align::kRight}});
  EXPECT_EQ(table.Render(), "A  B\n");
}

TEST(ToJsonTest, PrintsDefaultFieldsWithProtoNamesAndEndsInANewline) {
  v1::BalanceItem item;
  item.set_account_id("eip155:1:0xabc");
  item.mutable_amount()->set_units("0");
  const std::string json = ToJson(item);
  EXPECT_THAT(json, HasSubstr("\"account_id\": \"eip155:1:0xabc\""));
  // Defaults are present: scripts see every field of the schema.
  EXPECT_THAT(json, HasSubstr("\"decimals\": 0"));
  EXPECT_THAT(json, HasSubstr("\"asset_id\": \"\""));
  EXPECT_THAT(json, HasSubstr("\"source\": \"\""));
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.back(), '\n');
  v1::BalanceItem parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  EXPECT_EQ(parsed.account_id(), "eip155:1:0xabc");
  EXPECT_EQ(parsed.amount().units(), "0");
}

TEST(FormatAmountTest, IsExactWithDecimalsApplied) {
  EXPECT_EQ(FormatAmount("15", 1), "1.5");
  EXPECT_EQ(FormatAmount("1500000000000000000", 18), "1.5");
  EXPECT_EQ(FormatAmount("5", 3), "0.005");
  EXPECT_EQ(FormatAmount("1000", 3), "1");
  EXPECT_EQ(FormatAmount("0", 18), "0");
  EXPECT_EQ(FormatAmount("42", 0), "42");
  // 2^256 - 1 wei keeps every digit.
  EXPECT_EQ(
      FormatAmount("115792089237316195423570985008687907853269984665640564039457584007913129639935",
                   18),
      "115792089237316195423570985008687907853269984665640564039457.584007913129639935");
  v1::Amount amount;
  amount.set_units("123456789");
  amount.set_decimals(6);
  EXPECT_EQ(FormatAmount(amount), "123.456789");
}

TEST(FormatAmountTest, SaysWhyAMalformedAmountIsNotShown) {
  EXPECT_THAT(FormatAmount("12a", 0), ::testing::StartsWith("? ("));
  EXPECT_THAT(FormatAmount("-5", 2), ::testing::StartsWith("? ("));
  EXPECT_THAT(FormatAmount("", 2), ::testing::StartsWith("? ("));
}

google::protobuf::Duration ProtoDuration(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Duration duration;
  duration.set_seconds(seconds);
  duration.set_nanos(nanos);
  return duration;
}

TEST(FormatDurationTest, DropsZeroUnitsAndSubSecondNoise) {
  EXPECT_EQ(FormatDuration(ProtoDuration(300)), "5m");
  EXPECT_EQ(FormatDuration(ProtoDuration(5400)), "1h30m");
  EXPECT_EQ(FormatDuration(ProtoDuration(7200)), "2h");
  EXPECT_EQ(FormatDuration(ProtoDuration(3725)), "1h2m5s");
  EXPECT_EQ(FormatDuration(ProtoDuration(0, 250'000'000)), "250ms");
  EXPECT_EQ(FormatDuration(ProtoDuration(1, 500'000'000)), "1s");
  EXPECT_EQ(FormatDuration(ProtoDuration(0)), "-");
  EXPECT_EQ(FormatAbslDuration(absl::Minutes(90)), "1h30m");
  EXPECT_EQ(FormatAbslDuration(absl::Microseconds(1500)), "1ms");
  EXPECT_EQ(FormatAbslDuration(absl::ZeroDuration()), "-");
}

TEST(FormatTimeTest, IsRfc3339InUtcToTheSecondAndDashWhenUnset) {
  google::protobuf::Timestamp time;
  EXPECT_EQ(FormatTime(time), "-");
  time.set_seconds(1790000000);
  time.set_nanos(999'000'000);
  EXPECT_EQ(FormatTime(time), "2026-09-21T14:13:20Z");
  EXPECT_EQ(FormatAbslTime(
                absl::FromCivil(absl::CivilSecond(2026, 11, 27, 8, 0, 0), absl::UTCTimeZone())),
            "2026-11-27T08:00:00Z");
  EXPECT_EQ(FormatAbslTime(absl::UnixEpoch()), "-");
  EXPECT_EQ(FormatAbslTime(absl::InfinitePast()), "-");
}

TEST(ParseTimeArgumentTest, TakesRfc3339DatesAndAges) {
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  auto utc = [](int y, int mo, int d, int h = 0, int mi = 0) {
    return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), absl::UTCTimeZone());
  };
  EXPECT_EQ(*ParseTimeArgument("2026-11-01T12:00:00Z", now), utc(2026, 11, 1, 12));
  EXPECT_EQ(*ParseTimeArgument("2026-11-01T12:00:00+02:00", now), utc(2026, 11, 1, 10));
  EXPECT_EQ(*ParseTimeArgument("2026-11-01", now), utc(2026, 11, 1));
  EXPECT_EQ(*ParseTimeArgument(" 2026-11-01 ", now), utc(2026, 11, 1));
  EXPECT_EQ(*ParseTimeArgument("24h", now), now - absl::Hours(24));
  EXPECT_EQ(*ParseTimeArgument("90m", now), now - absl::Minutes(90));
  EXPECT_EQ(*ParseTimeArgument("7d", now), now - absl::Hours(7 * 24));
  EXPECT_EQ(*ParseTimeArgument("0d", now), now);
}

TEST(ParseTimeArgumentTest, RejectsGarbageSayingWhatItTakes) {
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  for (const char* text : {"garbage", "", "yesterday", "-5d", "-24h", "7x", "2026-13-01", "d"}) {
    absl::StatusOr<absl::Time> parsed = ParseTimeArgument(text, now);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("RFC 3339")) << text;
  }
}

TEST(ProgressBarTest, RendersABarCountsAndPercent) {
  EXPECT_EQ(ProgressBar::Render("refresh", 50, 100, "", 10), "refresh [#####     ] 50/100 50%");
  EXPECT_EQ(ProgressBar::Render("query", 0, 4, "", 4), "query [    ] 0/4 0%");
  EXPECT_EQ(ProgressBar::Render("q", 1, 3, "items", 3), "q [#  ] 1/3 33% items");
  // More done than expected (a total that grew late) stays a full bar.
  EXPECT_EQ(ProgressBar::Render("q", 5, 4, "", 4), "q [####] 5/4 100%");
  // Unknown total: a count.
  EXPECT_EQ(ProgressBar::Render("scan", 7, 0, ""), "scan 7");
  EXPECT_EQ(ProgressBar::Render("scan", 7, 0, "resolving"), "scan 7 resolving");
  EXPECT_EQ(ProgressBar::Render("x", 30, 30, "").size(),
            std::string("x [] 30/30 100%").size() + 30);
}

TEST(ProgressBarTest, DisabledWritesNothing) {
  std::ostringstream err;
  {
    ProgressBar bar(err, /*enabled=*/false, "query");
    bar.Update(1, 2, "note");
    bar.Update(2, 2);
    bar.Finish();
  }
  EXPECT_EQ(err.str(), "");
}

TEST(ProgressBarTest, EnabledDrawsInPlaceAndClearsItsLine) {
  std::ostringstream err;
  ProgressBar bar(err, /*enabled=*/true, "query");
  // A finished count is drawn whatever the redraw rate.
  bar.Update(4, 4);
  const std::string line = ProgressBar::Render("query", 4, 4, "");
  EXPECT_EQ(err.str(), "\r" + line);
  bar.Finish();
  EXPECT_EQ(err.str(), "\r" + line + "\r" + std::string(line.size(), ' ') + "\r");
  bar.Update(4, 4);  // after Finish: nothing
  bar.Finish();      // idempotent
  EXPECT_EQ(err.str(), "\r" + line + "\r" + std::string(line.size(), ' ') + "\r");
}

TEST(InputsTest, SplitIdsTakesLinesSpacesCommasAndDropsCommentsAndDuplicates) {
  EXPECT_THAT(SplitIds("a b,c\n# a comment\nd  # after an id\n\n\tb\r\na,e\n"),
              ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_THAT(SplitIds(""), IsEmpty());
  EXPECT_THAT(SplitIds("# only\n , ,\n"), IsEmpty());
}

TEST(InputsTest, ReadIdsFromArgumentsFileOrStdin) {
  std::istringstream no_stdin("");
  EXPECT_THAT(*ReadIds({"x", "y,z", "x"}, "", no_stdin), ElementsAre("x", "y", "z"));

  const std::string path = ::testing::TempDir() + "/ids.txt";
  std::ofstream(path) << "# accounts\nf1\nf2 # second\nf1\n";
  EXPECT_THAT(*ReadIds({}, path, no_stdin), ElementsAre("f1", "f2"));

  std::istringstream in("s1\ns2,s3\n");
  EXPECT_THAT(*ReadIds({"-"}, "", in), ElementsAre("s1", "s2", "s3"));
}

TEST(InputsTest, ReadIdsUsageErrors) {
  std::istringstream empty("");
  const std::string path = ::testing::TempDir() + "/ids2.txt";
  std::ofstream(path) << "f1\n";
  absl::StatusOr<std::vector<std::string>> both = ReadIds({"x"}, path, empty);
  ASSERT_FALSE(both.ok());
  EXPECT_TRUE(IsUsageError(both.status())) << both.status();

  absl::StatusOr<std::vector<std::string>> none = ReadIds({}, "", empty);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(IsUsageError(none.status())) << none.status();

  std::istringstream comments_only("# nothing\n");
  absl::StatusOr<std::vector<std::string>> nothing = ReadIds({"-"}, "", comments_only);
  ASSERT_FALSE(nothing.ok());
  EXPECT_TRUE(IsUsageError(nothing.status())) << nothing.status();

  absl::StatusOr<std::vector<std::string>> missing =
      ReadIds({}, ::testing::TempDir() + "/no-such-file", empty);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(IsUsageError(missing.status()));
}

// A command with only what lookup, flag checks and help read.
Command Make(std::vector<std::string> words, std::vector<std::string> flags = {},
             std::string summary = "") {
  Command command;
  command.words = std::move(words);
  command.flags = std::move(flags);
  command.summary = std::move(summary);
  return command;
}

std::vector<Command> SomeCommands() {
  return {
      Make({"accounts"}, {}, "the group itself"),
      Make({"accounts", "add"}, {}, "add"),
      Make({"accounts", "ls"}, {}, "list"),
      Make({"status"}, {}, "status"),
  };
}

TEST(FindCommandTest, TakesTheLongestMatch) {
  const std::vector<Command> commands = SomeCommands();
  size_t matched = 99;
  const Command* add = FindCommand(commands, {"accounts", "add", "eip155:1:0xabc"}, &matched);
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(CommandName(*add), "accounts add");
  EXPECT_EQ(matched, 2u);

  const Command* group = FindCommand(commands, {"accounts", "rm"}, &matched);
  ASSERT_NE(group, nullptr);
  EXPECT_EQ(CommandName(*group), "accounts");
  EXPECT_EQ(matched, 1u);

  EXPECT_EQ(FindCommand(commands, {"status"}, &matched)->summary, "status");
  EXPECT_EQ(matched, 1u);
  EXPECT_EQ(FindCommand(commands, {"frobnicate", "add"}, &matched), nullptr);
  EXPECT_EQ(matched, 0u);
  EXPECT_EQ(FindCommand(commands, {}, nullptr), nullptr);
}

// Flags are defined by //tools/cofferctl:flags, linked into this test.
TEST(ForeignFlagsTest, NamesFlagsTheCommandDoesNotRead) {
  const Command command = Make({"query"}, {"asset", "force"});
  EXPECT_THAT(ForeignFlags(command, {"query", "--asset=a", "-force", "--output", "json",
                                     "--timeout=5s", "--fetcher=x:1", "eip155:1:0xabc"}),
              IsEmpty());
  EXPECT_THAT(ForeignFlags(command, {"query", "--chain=eip155:1", "--asset=a", "-account", "x"}),
              ElementsAre("chain", "account"));
  // After "--" everything is an argument.
  EXPECT_THAT(ForeignFlags(command, {"query", "--", "--chain=eip155:1"}), IsEmpty());
  // Names Abseil does not know are Abseil's to reject, and its own flags
  // stay available.
  EXPECT_THAT(ForeignFlags(command, {"--no_such_flag", "--flagfile=f", "--help"}), IsEmpty());
}

TEST(ForeignFlagsTest, ResolvesTheNoPrefixOfBooleans) {
  const Command reads_force = Make({"query"}, {"force"});
  EXPECT_THAT(ForeignFlags(reads_force, {"--noforce"}), IsEmpty());
  EXPECT_THAT(ForeignFlags(reads_force, {"--nowait"}), ElementsAre("wait"));
  const Command reads_nothing = Make({"status"});
  EXPECT_THAT(ForeignFlags(reads_nothing, {"--noforce", "--force=false"}),
              ElementsAre("force", "force"));
}

TEST(CommandHelpTest, ListsTheCommandsFlagsWithHelpAndTheCommonOnes) {
  Command command = Make({"query"}, {"asset", "force", "limit"}, "read balances");
  command.arguments = "ID... | -";
  command.details = "More words.\nExample: cofferctl query x\n\n";
  const std::string help = CommandHelp(command);
  EXPECT_THAT(help, ::testing::StartsWith("Usage: cofferctl query [flags] ID... | -\n\n"
                                          "read balances\n\nMore words.\n"
                                          "Example: cofferctl query x\n\nFlags:\n"));
  EXPECT_THAT(help, HasSubstr("  --asset"));
  EXPECT_THAT(help, HasSubstr("Asset ids (CAIP-19"));
  EXPECT_THAT(help, HasSubstr("  --force"));
  EXPECT_THAT(help, HasSubstr("  --limit"));
  EXPECT_THAT(help, HasSubstr("Flags of every command:\n"));
  EXPECT_THAT(help, HasSubstr("(default: 10s)"));  // --timeout's
  EXPECT_THAT(help, Not(HasSubstr("--chain")));
  EXPECT_THAT(help, Not(HasSubstr("undefined flag")));
  // Falsy defaults (false, 0, empty) say nothing.
  EXPECT_THAT(help, Not(HasSubstr("(default: false)")));
  EXPECT_THAT(help, Not(HasSubstr("(default: 0)")));

  const Command undefined = Make({"x"}, {"no_such_flag_anywhere"});
  EXPECT_THAT(CommandHelp(undefined), HasSubstr("undefined flag"));
}

TEST(CommandHelpTest, GroupHelpListsTheGroupsCommands) {
  const std::string help = GroupHelp(SomeCommands(), "accounts");
  EXPECT_THAT(help, HasSubstr("cofferctl accounts add"));
  EXPECT_THAT(help, HasSubstr("cofferctl accounts ls"));
  EXPECT_THAT(help, Not(HasSubstr("status")));
  EXPECT_EQ(GroupHelp(SomeCommands(), "nothing"), "");
}

TEST(UsageErrorTest, IsMarkedApartFromOtherInvalidArguments) {
  absl::Status usage = UsageError("no ids given");
  EXPECT_TRUE(IsUsageError(usage));
  EXPECT_EQ(usage.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(usage.message(), "no ids given");
  EXPECT_FALSE(IsUsageError(absl::InvalidArgumentError("no ids given")));
  EXPECT_FALSE(IsUsageError(absl::OkStatus()));
  EXPECT_FALSE(IsUsageError(absl::UnavailableError("down")));
}

}  // namespace
}  // namespace coffer::cofferctl
