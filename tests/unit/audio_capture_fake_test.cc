// The counting fake capture backend that session tests rely on: it must count opens and closes
// exactly and play its script faithfully, or those tests would prove nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "fakes/fake_capture.h"

namespace lx::testing {
namespace {

using audio::CaptureDevice;
using audio::CaptureDeviceInfo;

TEST(AudioCaptureFakeTest, CountsEveryDeviceOpenedAndDestroyed) {
  auto counters = std::make_shared<FakeCaptureCounters>();
  FakeCaptureBackend backend({}, counters);
  Result<std::unique_ptr<CaptureDevice>> first = backend.Open("mic");
  Result<std::unique_ptr<CaptureDevice>> second = backend.Open("");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ((*first)->info().name, "mic");
  EXPECT_EQ((*second)->info().name, "default");
  EXPECT_EQ(counters->opens, 2);
  EXPECT_EQ(counters->closes, 0);

  first->reset();
  EXPECT_EQ(counters->closes, 1);
  EXPECT_EQ(counters->open_now(), 1);
  second->reset();
  EXPECT_EQ(counters->open_attempts, 2);
  EXPECT_EQ(counters->open_now(), 0);
}

TEST(AudioCaptureFakeTest, AFailedOpenCountsAnAttemptButNoDevice) {
  FakeCaptureBackend backend({.open_error = Status::Unavailable("mic is busy")});
  Result<std::unique_ptr<CaptureDevice>> device = backend.Open("mic");
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(backend.counters().open_attempts, 1);
  EXPECT_EQ(backend.counters().opens, 0);
  EXPECT_EQ(backend.counters().closes, 0);
}

TEST(AudioCaptureFakeTest, DeviceOutlivingItsBackendStillCountsItsClose) {
  auto counters = std::make_shared<FakeCaptureCounters>();
  std::unique_ptr<CaptureDevice> device;
  {
    FakeCaptureBackend backend({.samples = {0.5f}}, counters);
    device = backend.Open("mic").value();
  }
  std::vector<float> out;
  EXPECT_EQ(device->Read(&out, 4, 0).value(), 1u);
  device.reset();
  EXPECT_EQ(counters->closes, 1);
}

TEST(AudioCaptureFakeTest, DeliversTheScriptThenIdlesForTheTimeout) {
  FakeCaptureBackend backend({.samples = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, .overruns = 3});
  std::unique_ptr<CaptureDevice> device = backend.Open("mic").value();
  std::vector<float> out;
  EXPECT_EQ(device->Read(&out, 3, 0).value(), 3u);
  EXPECT_EQ(out, (std::vector<float>{0.1f, 0.2f, 0.3f}));
  EXPECT_EQ(device->Read(&out, 3, 0).value(), 2u);
  EXPECT_EQ(out, (std::vector<float>{0.4f, 0.5f}));

  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(device->Read(&out, 3, 30).value(), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(device->overruns(), 3);
  EXPECT_EQ(device->Read(&out, 0, 0).status().code(), Status::Code::kInvalidArgument);
}

TEST(AudioCaptureFakeTest, FailsReadWithTheScriptedStatusOnceTheSamplesAreDelivered) {
  FakeCaptureBackend backend(
      {.samples = {0.25f}, .read_error = Status::Unavailable("audio device \"mic\" disappeared")});
  std::unique_ptr<CaptureDevice> device = backend.Open("mic").value();
  std::vector<float> out;
  EXPECT_EQ(device->Read(&out, 8, 0).value(), 1u);
  for (int i = 0; i < 2; ++i) {
    Result<size_t> read = device->Read(&out, 8, 0);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().message(), "audio device \"mic\" disappeared");
  }
}

TEST(AudioCaptureFakeTest, ThrowsFromReadWhenScripted) {
  FakeCaptureBackend backend({.throw_from_read = true});
  std::unique_ptr<CaptureDevice> device = backend.Open("mic").value();
  std::vector<float> out;
  EXPECT_THROW(device->Read(&out, 8, 0), std::runtime_error);
  device.reset();
  EXPECT_EQ(backend.counters().open_now(), 0);
}

TEST(AudioCaptureFakeTest, ListsTheScriptedDevices) {
  const std::vector<CaptureDeviceInfo> devices = {{"default", "Default"}, {"hw:1", "USB mic"}};
  FakeCaptureBackend backend({.devices = devices});
  Result<std::vector<CaptureDeviceInfo>> listed = backend.ListDevices();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, devices);
}

}  // namespace
}  // namespace lx::testing
