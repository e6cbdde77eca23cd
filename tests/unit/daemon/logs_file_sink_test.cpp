// daemon/logs/file_sink: rotation by size with a kept count, never splitting a line, reopen
// after an outside move, and what happens when the directory cannot be written: lines wait
// in a bounded buffer, then are dropped and counted, and writing resumes once it works.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/logs/file_sink.hpp"

namespace kvd::logs {
namespace {

namespace fs = std::filesystem;

class FileSinkTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/kvd-filesink-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string read(unsigned index) const {
        std::ifstream in(rotated_path(dir_, "web", index));
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    bool exists(unsigned index) const { return fs::exists(rotated_path(dir_, "web", index)); }

    std::string dir_;
};

std::string numbered(int i) {
    std::string s = "line " + std::to_string(i) + " ";
    s.resize(99, 'x');
    return s + "\n";  // 100 bytes
}

TEST_F(FileSinkTest, RotatesAtTheSizeKeepingTheNewestFiles) {
    FileSink sink("web");
    sink.configure({dir_, 1000, 2});
    EXPECT_FALSE(exists(0)) << "no file before the first line";
    for (int i = 0; i < 35; ++i) {
        ASSERT_TRUE(sink.add(numbered(i)));
        if (i % 3 == 0) sink.flush(0);
    }
    sink.flush(0);
    // 35 lines of 100 bytes, 10 per file: .2 has 10-19, .1 has 20-29, the live file 30-34;
    // 0-9 went with the oldest rotation.
    EXPECT_FALSE(exists(3));
    EXPECT_EQ(read(2).size(), 1000u);
    EXPECT_EQ(read(1).size(), 1000u);
    EXPECT_EQ(read(0).size(), 500u);
    EXPECT_EQ(read(2).substr(0, 8), "line 10 ");
    EXPECT_EQ(read(1).substr(0, 8), "line 20 ");
    EXPECT_EQ(read(0).substr(0, 8), "line 30 ");
    EXPECT_EQ(sink.dropped(), 0u);
}

TEST_F(FileSinkTest, KeepZeroStartsOverAndLongLinesStayWhole) {
    FileSink sink("web");
    sink.configure({dir_, 250, 0});
    for (int i = 0; i < 5; ++i) sink.add(numbered(i));
    sink.flush(0);
    EXPECT_FALSE(exists(1));
    EXPECT_EQ(read(0).substr(0, 7), "line 4 ");
    std::string huge(600, 'h');
    sink.add(huge + "\n");
    sink.add(numbered(9));
    sink.flush(0);
    EXPECT_EQ(read(0).substr(0, 7), "line 9 ");
    EXPECT_FALSE(exists(1));
}

TEST_F(FileSinkTest, ReopenFollowsAMovedFile) {
    FileSink sink("web");
    sink.configure({dir_, 1 << 20, 3});
    sink.add("before\n");
    sink.flush(0);
    fs::rename(rotated_path(dir_, "web", 0), dir_ + "/moved");
    sink.add("still the old file\n");
    sink.flush(0);
    sink.reopen();
    sink.add("after\n");
    sink.flush(0);
    EXPECT_EQ(read(0), "after\n");
    std::ifstream moved(dir_ + "/moved");
    std::stringstream ss;
    ss << moved.rdbuf();
    EXPECT_EQ(ss.str(), "before\nstill the old file\n");
}

TEST_F(FileSinkTest, AnUnwritableDirectoryDropsBeyondTheBufferAndRecovers) {
    if (geteuid() == 0) GTEST_SKIP() << "root writes into read-only directories";
    FileSink sink("web");
    sink.configure({dir_, 1 << 20, 1});
    ASSERT_EQ(chmod(dir_.c_str(), 0500), 0);
    std::string line(1000, 'z');
    line += '\n';
    std::size_t fits = FileSink::kMaxPendingBytes / line.size();
    for (std::size_t i = 0; i < fits + 10; ++i) {
        sink.add(line);
        sink.flush(i);  // fails; retried at most once a second
    }
    EXPECT_EQ(sink.dropped(), 10u);
    EXPECT_LE(sink.pending_bytes(), FileSink::kMaxPendingBytes);
    ASSERT_EQ(chmod(dir_.c_str(), 0700), 0);
    sink.flush(500);  // too soon after the last try
    EXPECT_GT(sink.pending_bytes(), 0u);
    sink.flush(5000);
    EXPECT_EQ(sink.pending_bytes(), 0u);
    EXPECT_EQ(read(0).size(), fits * line.size());
}

}  // namespace
}  // namespace kvd::logs
