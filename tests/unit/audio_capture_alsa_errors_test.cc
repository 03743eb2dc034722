// What an ALSA error means to a caller depends on where it happened: ENOENT when opening is a
// missing device, ENODEV or EIO while reading is a device that went away (unplugged).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <ostream>
#include <string>

#include "audio/alsa_capture.h"

namespace lx::audio {
namespace {

struct Case {
  const char* label;  // names the test case
  AlsaStep step;
  int error;
  Status::Code code;
  std::string words;  // the message says this
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.label; }

class AudioCaptureAlsaErrorsTest : public ::testing::TestWithParam<Case> {};

TEST_P(AudioCaptureAlsaErrorsTest, NamesTheDeviceAndTheReason) {
  const Case& c = GetParam();
  const Status status = AlsaErrorStatus(c.step, "usb mic", -c.error);
  EXPECT_EQ(status.code(), c.code) << status.ToString();
  EXPECT_NE(status.message().find("audio device \"usb mic\" " + c.words), std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find(std::strerror(c.error)), std::string::npos) << status.ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Steps, AudioCaptureAlsaErrorsTest,
    ::testing::Values(
        Case{"OpenENOENT", AlsaStep::kOpen, ENOENT, Status::Code::kNotFound, "does not exist"},
        Case{"OpenENODEV", AlsaStep::kOpen, ENODEV, Status::Code::kNotFound, "does not exist"},
        Case{"OpenEINVAL", AlsaStep::kOpen, EINVAL, Status::Code::kInvalidArgument, "is not a"},
        Case{"OpenEBUSY", AlsaStep::kOpen, EBUSY, Status::Code::kUnavailable, "is busy"},
        Case{"OpenEAGAIN", AlsaStep::kOpen, EAGAIN, Status::Code::kUnavailable, "is busy"},
        Case{"OpenEACCES", AlsaStep::kOpen, EACCES, Status::Code::kIOError, "is not accessible"},
        Case{"OpenEPERM", AlsaStep::kOpen, EPERM, Status::Code::kIOError, "is not accessible"},
        Case{"OpenENOMEM", AlsaStep::kOpen, ENOMEM, Status::Code::kIOError, "cannot be opened"},
        Case{"ConfigureEBUSY", AlsaStep::kConfigure, EBUSY, Status::Code::kUnavailable, "is busy"},
        Case{"ConfigureENODEV", AlsaStep::kConfigure, ENODEV, Status::Code::kUnavailable,
             "disappeared"},
        Case{"ConfigureEINVAL", AlsaStep::kConfigure, EINVAL, Status::Code::kIOError,
             "cannot be set up"},
        Case{"ReadENODEV", AlsaStep::kRead, ENODEV, Status::Code::kUnavailable, "disappeared"},
        Case{"ReadEBADFD", AlsaStep::kRead, EBADFD, Status::Code::kIOError, "cannot be read"},
        Case{"ReadEIO", AlsaStep::kRead, EIO, Status::Code::kUnavailable, "stopped delivering"},
        Case{"ReadENOENT", AlsaStep::kRead, ENOENT, Status::Code::kIOError, "cannot be read"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace lx::audio
