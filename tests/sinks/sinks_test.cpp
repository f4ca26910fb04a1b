// The file and stdout sinks and SinkSet: appending, size rotation (path -> path.1 -> ... with
// the oldest removed), errors that name the path and the OS reason, the fan-out's error rule.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "sink_test_util.h"
#include "sinks/alert_sink.h"

namespace kestrel::sinks {
namespace {

using testing::AlertLine;
using testing::ReadLines;
using testing::TempDir;

std::unique_ptr<AlertSink> MustOpenFile(const FileSinkOptions& options) {
  auto sink = OpenFileSink(options);
  EXPECT_TRUE(sink) << (sink ? "" : sink.error().ToString());
  return sink ? std::move(*sink) : nullptr;
}

// A line of exactly `size` bytes with its '\n', numbered so that order can be checked.
std::string FixedLine(int n, size_t size) {
  std::string line = fmt::format("{{\"n\":{:05},\"pad\":\"", n);
  line.append(size - line.size() - 3, 'x');
  line += "\"}\n";
  return line;
}

TEST(FileSinkTest, AppendsAndContinuesAnExistingFile) {
  TempDir dir;
  FileSinkOptions options{dir.File("alerts.json"), 0, 3};
  {
    auto sink = MustOpenFile(options);
    ASSERT_TRUE(sink);
    EXPECT_EQ(sink->name(), "file");
    ASSERT_TRUE(sink->Write(AlertLine(1)));
    ASSERT_TRUE(sink->Write(AlertLine(2)));
    ASSERT_TRUE(sink->Close());
    EXPECT_EQ(sink->stats().written, 2u);
  }
  // Reopened with a limit the file already nearly fills: the first write rotates.
  uint64_t size = std::filesystem::file_size(options.path);
  options.max_bytes = size + 10;
  auto sink = MustOpenFile(options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Write(AlertLine(3)));
  ASSERT_TRUE(sink->Close());
  EXPECT_EQ(sink->stats().rotations, 1u);
  EXPECT_EQ(ReadLines(options.path + ".1").size(), 2u);
  std::vector<std::string> current = ReadLines(options.path);
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0] + "\n", AlertLine(3));
  EXPECT_FALSE(sink->Write(AlertLine(4)));  // after Close
}

TEST(FileSinkTest, RotatesBySizeAndRemovesTheOldest) {
  TempDir dir;
  const size_t kLine = 50;
  FileSinkOptions options{dir.File("alerts.json"), 4 * kLine, 3};  // four lines per file
  auto sink = MustOpenFile(options);
  ASSERT_TRUE(sink);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(sink->Write(FixedLine(i, kLine)));
  ASSERT_TRUE(sink->Close());

  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 30u);
  EXPECT_EQ(stats.rotations, 7u);  // 30 lines = 7 full files + 2 lines
  EXPECT_FALSE(std::filesystem::exists(options.path + ".4"));
  // Oldest first: path.3, path.2, path.1, path hold the last 14 lines, in order.
  std::vector<std::string> kept;
  for (const std::string& file : {options.path + ".3", options.path + ".2", options.path + ".1", options.path}) {
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    EXPECT_LE(std::filesystem::file_size(file), options.max_bytes) << file;
    for (std::string& line : ReadLines(file)) kept.push_back(line + "\n");
  }
  ASSERT_EQ(kept.size(), 14u);
  for (int i = 0; i < 14; ++i) EXPECT_EQ(kept[i], FixedLine(16 + i, kLine)) << i;
}

TEST(FileSinkTest, NoBackupsAndNoRotation) {
  TempDir dir;
  auto truncating = MustOpenFile({dir.File("a.json"), 100, 0});
  ASSERT_TRUE(truncating);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(truncating->Write(FixedLine(i, 40)));
  EXPECT_EQ(truncating->stats().rotations, 2u);
  EXPECT_EQ(ReadLines(dir.File("a.json")).size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir.File("a.json.1")));

  auto unlimited = MustOpenFile({dir.File("b.json"), 0, 3});
  ASSERT_TRUE(unlimited);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(unlimited->Write(FixedLine(i, 40)));
  EXPECT_EQ(unlimited->stats().rotations, 0u);
  EXPECT_EQ(ReadLines(dir.File("b.json")).size(), 100u);

  // A single line longer than max_bytes still gets written, into a file of its own.
  auto small = MustOpenFile({dir.File("c.json"), 30, 2});
  ASSERT_TRUE(small);
  ASSERT_TRUE(small->Write(FixedLine(1, 40)));
  ASSERT_TRUE(small->Write(FixedLine(2, 40)));
  EXPECT_EQ(small->stats().rotations, 1u);
  EXPECT_EQ(ReadLines(dir.File("c.json")).size(), 1u);
}

TEST(FileSinkTest, ErrorsNameThePathAndTheReason) {
  TempDir dir;
  std::string missing = dir.File("no/such/dir/alerts.json");
  auto sink = OpenFileSink({missing, 1000, 2});
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().ToString(),
            "file " + missing + ": cannot open: No such file or directory (errno 2)");

  auto empty = OpenFileSink({"", 1000, 2});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), ErrorCode::kInvalidArgument);

  auto many = OpenFileSink({dir.File("x"), 1000, 100000});
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().ToString().find("max_files 100000"), std::string::npos);

  if (::geteuid() != 0) {  // root opens anything
    std::string locked = dir.File("locked.json");
    { std::ofstream(locked) << ""; }
    ::chmod(locked.c_str(), 0400);
    auto denied = OpenFileSink({locked, 1000, 2});
    ASSERT_FALSE(denied);
    EXPECT_NE(denied.error().ToString().find("Permission denied"), std::string::npos);
  }
}

TEST(FileSinkTest, BadLinesAreRefusedAndCounted) {
  TempDir dir;
  auto sink = MustOpenFile({dir.File("alerts.json"), 0, 1});
  ASSERT_TRUE(sink);
  auto inner = sink->Write("{\"a\":1}\n{\"b\":2}\n");
  ASSERT_FALSE(inner);
  EXPECT_NE(inner.error().ToString().find("file " + dir.File("alerts.json")), std::string::npos);
  EXPECT_NE(inner.error().ToString().find("newline inside"), std::string::npos);
  EXPECT_FALSE(sink->Write("\n"));
  EXPECT_FALSE(sink->Write(""));
  ASSERT_TRUE(sink->Write("{\"c\":3}"));  // the missing '\n' is added
  ASSERT_TRUE(sink->Close());
  EXPECT_EQ(ReadLines(dir.File("alerts.json")), std::vector<std::string>{"{\"c\":3}"});
  SinkStats stats = sink->stats();
  EXPECT_EQ(stats.written, 1u);
  EXPECT_EQ(stats.dropped, 3u);
  EXPECT_EQ(stats.failures, 0u);
}

TEST(StdoutSinkTest, WritesEachLine) {
  auto sink = OpenStdoutSink();
  ASSERT_TRUE(sink);
  ::testing::internal::CaptureStdout();
  EXPECT_TRUE((*sink)->Write(AlertLine(1)));
  EXPECT_TRUE((*sink)->Write(AlertLine(2)));
  EXPECT_TRUE((*sink)->Close());
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(out, AlertLine(1) + AlertLine(2));
  EXPECT_EQ((*sink)->stats().written, 2u);
  EXPECT_EQ((*sink)->name(), "stdout");
}

// A sink that refuses every line.
class BrokenSink final : public AlertSink {
 public:
  std::string_view name() const override { return "broken"; }
  Status Write(std::string_view) override {
    ++writes_;
    return MakeErrorAt("broken", ErrorCode::kIo, "refused");
  }
  Status Close() override { return MakeErrorAt("broken", ErrorCode::kIo, "close refused"); }
  SinkStats stats() const override { return SinkStats{0, writes_, 0, writes_, 0, 0}; }

 private:
  uint64_t writes_ = 0;
};

TEST(SinkSetTest, WritesEverySinkAndReturnsTheFirstError) {
  TempDir dir;
  SinkSet set;
  set.Add(MustOpenFile({dir.File("a.json"), 0, 1}));
  set.Add(std::make_unique<BrokenSink>());
  set.Add(MustOpenFile({dir.File("b.json"), 0, 1}));
  set.Add(nullptr);  // ignored
  ASSERT_EQ(set.size(), 3u);

  for (int i = 0; i < 3; ++i) {
    auto status = set.Write(AlertLine(i));
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().ToString(), "broken: refused");
  }
  auto closed = set.Close();
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().ToString(), "broken: close refused");
  EXPECT_EQ(ReadLines(dir.File("a.json")).size(), 3u);
  EXPECT_EQ(ReadLines(dir.File("b.json")).size(), 3u);

  auto stats = set.stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].first, "file");
  EXPECT_EQ(stats[0].second.written, 3u);
  EXPECT_EQ(stats[1].first, "broken");
  EXPECT_EQ(stats[1].second.failures, 3u);
  EXPECT_EQ(stats[2].second.written, 3u);
}

}  // namespace
}  // namespace kestrel::sinks
