#include "obs/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "obs/obs_test_util.h"

namespace kestrel::obs {
namespace {

using testing::MakeTempDir;
using testing::ReadLines;

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override { ASSERT_TRUE(InitLogging({})); }  // back to stderr, info
};

TEST_F(LoggingTest, JsonFormatWritesOneParseableObjectPerLine) {
  std::string path = MakeTempDir() + "/kestrel.log";
  auto status = InitLogging({"debug", "json", path});
  ASSERT_TRUE(status) << status.error().ToString();
  spdlog::info("rules loaded: {}", 12);
  spdlog::debug("a \"quoted\"\nmulti-line message\twith \\ and \x01");
  spdlog::trace("below the level");
  spdlog::warn("invalid utf-8: \xff\xfe");
  spdlog::default_logger()->flush();

  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 3u);
  std::vector<nlohmann::json> parsed;
  for (const std::string& line : lines) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << line;
    for (const char* field : {"ts", "level", "msg", "logger"}) {
      EXPECT_TRUE(json.contains(field)) << field << " in " << line;
    }
    EXPECT_EQ(json["logger"], "kestrel");
    EXPECT_EQ(json["ts"].get<std::string>().size(),
              std::string("2024-05-01T12:00:00.123456Z").size())
        << line;
    parsed.push_back(json);
  }
  EXPECT_EQ(parsed[0]["level"], "info");
  EXPECT_EQ(parsed[0]["msg"], "rules loaded: 12");
  EXPECT_EQ(parsed[1]["level"], "debug");
  EXPECT_EQ(parsed[1]["msg"], "a \"quoted\"\nmulti-line message\twith \\ and \x01");
  EXPECT_EQ(parsed[2]["level"], "warn");
}

TEST_F(LoggingTest, TextFormatAppendsToTheFile) {
  std::string path = MakeTempDir() + "/kestrel.log";
  { std::ofstream(path) << "earlier line\n"; }
  ASSERT_TRUE(InitLogging({"warn", "text", path}));
  spdlog::info("filtered");
  spdlog::error("disk full");
  spdlog::default_logger()->flush();
  std::vector<std::string> lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "earlier line");
  EXPECT_NE(lines[1].find("error disk full"), std::string::npos) << lines[1];
}

TEST_F(LoggingTest, BadOptionsAreRejectedNamingThem) {
  auto level = InitLogging({"verbose", "text", ""});
  ASSERT_FALSE(level);
  EXPECT_EQ(level.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(level.error().ToString().find("'verbose'"), std::string::npos);

  auto format = InitLogging({"info", "xml", ""});
  ASSERT_FALSE(format);
  EXPECT_NE(format.error().ToString().find("'xml'"), std::string::npos);

  // A directory cannot be made under a regular file.
  std::string blocker = MakeTempDir() + "/file";
  { std::ofstream(blocker) << "x"; }
  auto file = InitLogging({"info", "text", blocker + "/sub/kestrel.log"});
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code(), ErrorCode::kIo);
  EXPECT_NE(file.error().ToString().find(blocker + "/sub/kestrel.log"), std::string::npos)
      << file.error().ToString();
}

}  // namespace
}  // namespace kestrel::obs
