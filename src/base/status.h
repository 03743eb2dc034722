// Status and Result<T>: errors that cross a module boundary are values, not exceptions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lx {

// The outcome of an operation: Ok, or a code with a human-readable message meant for the caller
// (it names what was wrong; it never carries internal state). Cheap to copy; thread-compatible.
class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,     // the caller asked for something malformed or unsupported
    kNotFound,            // a named thing (file, model, device, session) does not exist
    kIOError,             // reading or writing failed
    kCorruption,          // data exists but cannot be decoded
    kUnavailable,         // a resource (engine, device) cannot be used right now
    kFailedPrecondition,  // the operation is not allowed in the current state
    kInternal,            // a bug or an unexpected failure inside loquilex
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {Code::kFailedPrecondition, std::move(msg)};
  }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  // IOError "<what>: <strerror(errno_value)>", thread-safe.
  static Status FromErrno(std::string_view what, int errno_value);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: <message>", or "OK".
  std::string ToString() const;
  // Returns a copy whose message is "<context>: <message>"; Ok stays Ok.
  Status WithContext(std::string_view context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-Ok Status. Constructing from an Ok Status is a bug (it becomes
// kInternal).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status)                      // NOLINT(google-explicit-constructor)
      : v_(status.ok() ? Status::Internal("Result built from an Ok status") : std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; Ok when the result holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  // The value; calling these on an error is a bug (throws std::bad_variant_access).
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lx
