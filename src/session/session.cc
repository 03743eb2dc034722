#include "session/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/logging.h"

namespace lx::session {
namespace {

using events::SessionState;

// The worker reads ~100 ms at a time, waiting at most 50 ms, so requests are noticed promptly.
constexpr size_t kChunkSamples = 1600;
constexpr int kReadTimeoutMs = 50;

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool HasEnded(SessionState state) {
  return state == SessionState::kStopping || state == SessionState::kStopped ||
         state == SessionState::kError;
}

// What viewers and the API are told of a failed worker.
struct FailureReport {
  std::string detail;                        // the status event's detail and SessionInfo::error
  std::optional<events::ServerError> error;  // for an internal failure, published before it
};

// An internal failure (an exception, an internal status, a finals log that cannot be written)
// gets a fixed detail and an error id, its text going only to the log: like a 500's, it may
// hold internals. Any other failure (a device unplugged) is the user's to see, as it is.
FailureReport DescribeFailure(const Status& result, bool log_failed) {
  constexpr char kStorage[] = "cannot save the session's captions";
  constexpr char kInternal[] = "internal error";
  if (log_failed) return {kStorage, events::ServerError{"storage", kStorage, NewLogId()}};
  if (result.code() == Status::Code::kInternal) {
    return {kInternal, events::ServerError{"internal", kInternal, NewLogId()}};
  }
  return {result.message(), std::nullopt};
}

// A source that cannot drop audio (a push queue) sheds partials only.
OverloadConfig OverloadFor(OverloadConfig config, const AudioInput* input) {
  if (input == nullptr || !input->CanDrop()) config.max_lag_s = 0;
  return config;
}

}  // namespace

// The segmenter's captions: partials are published, finals logged and then published.
class Session::Captions final : public asr::CaptionSink {
 public:
  explicit Captions(Session* session) : session_(session) {}
  void OnPartial(const asr::Partial& partial) override { session_->OnPartial(partial); }
  void OnFinal(const asr::Final& final_caption) override { session_->OnFinal(final_caption); }

 private:
  Session* session_;
};

Result<std::unique_ptr<Session>> Session::Start(
    std::string id, SessionConfig config, std::unique_ptr<AudioInput> input,
    std::unique_ptr<asr::EngineStream> stream, std::shared_ptr<EventSink> sink,
    std::shared_ptr<store::SessionLog> log, std::unique_ptr<audio::AudioFileWriter> audio_file,
    const Clock& clock, const ThreadStarter& start_thread,
    std::unique_ptr<TranslationWorker> translation) {
  std::unique_ptr<Session> session(new Session(
      std::move(id), std::move(config), std::move(input), std::move(stream), std::move(sink),
      std::move(log), std::move(audio_file), std::move(translation), clock));
  Session* worker = session.get();
  if (session->translation_ != nullptr) {
    const Status started = session->translation_->Start(
        session->id_, [worker](events::Payload payload) { worker->Publish(std::move(payload)); });
    if (!started.ok()) return started;
  }
  auto body = [worker] { worker->Run(); };
  try {
    session->worker_ = start_thread ? start_thread(body) : std::thread(body);
  } catch (const std::exception& e) {
    // `session` goes out of scope here and closes the input and the audio file.
    return Status::Unavailable("cannot start a worker thread: " + std::string(e.what()));
  }
  if (!session->worker_.joinable()) return Status::Unavailable("cannot start a worker thread");
  return session;
}

Session::Session(std::string id, SessionConfig config, std::unique_ptr<AudioInput> input,
                 std::unique_ptr<asr::EngineStream> stream, std::shared_ptr<EventSink> sink,
                 std::shared_ptr<store::SessionLog> log,
                 std::unique_ptr<audio::AudioFileWriter> audio_file,
                 std::unique_ptr<TranslationWorker> translation, const Clock& clock)
    : id_(std::move(id)),
      config_(std::move(config)),
      clock_(clock),
      started_at_wall_ns_(WallNowNs()),
      sink_(std::move(sink)),
      log_(std::move(log)),
      audio_path_(audio_file != nullptr ? audio_file->path() : ""),
      translation_(std::move(translation)),
      captions_(std::make_unique<Captions>(this)),
      segmenter_(
          std::make_unique<asr::Segmenter>(std::move(stream), config_.asr, clock, captions_.get())),
      audio_file_(std::move(audio_file)),
      governor_(OverloadFor(config_.overload, input.get())),
      input_(std::move(input)),
      push_input_(dynamic_cast<PushInput*>(input_.get())) {}

Session::~Session() {
  Stop();
  Join();
  // Run finished it; this is for a session whose worker never started.
  if (translation_ != nullptr) translation_->Finish();
}

SessionInfo Session::Info() const {
  std::lock_guard lock(mutex_);
  return SessionInfo{.id = id_,
                     .config = config_,
                     .state = state_,
                     .error = error_,
                     .started_at_wall_ns = started_at_wall_ns_,
                     .audio_seconds = audio_seconds_,
                     .metrics = metrics_,
                     .overload = overload_,
                     .audio_path = audio_path_,
                     .audio_error = audio_error_};
}

std::optional<TranslationMetrics> Session::Translation() const {
  if (translation_ == nullptr) return std::nullopt;
  return translation_->metrics();
}

SessionState Session::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

Status Session::Pause() {
  std::lock_guard lock(mutex_);
  const bool can_pause = state_ == SessionState::kStarting || state_ == SessionState::kRunning;
  if (!can_pause || pause_requested_ || stop_requested_) {
    return Status::FailedPrecondition("session " + id_ + " is not running");
  }
  pause_requested_ = true;
  wake_.notify_all();
  return Status::Ok();
}

Status Session::Resume() {
  std::lock_guard lock(mutex_);
  if (!pause_requested_ || stop_requested_ || HasEnded(state_)) {
    return Status::FailedPrecondition("session " + id_ + " is not paused");
  }
  pause_requested_ = false;
  wake_.notify_all();
  return Status::Ok();
}

Status Session::Finalize() {
  std::lock_guard lock(mutex_);
  if (stop_requested_ || HasEnded(state_)) {
    return Status::FailedPrecondition("session " + id_ + " has ended");
  }
  finalize_requested_ = true;
  wake_.notify_all();
  return Status::Ok();
}

void Session::Stop() {
  std::lock_guard lock(mutex_);
  stop_requested_ = true;
  wake_.notify_all();
}

void Session::Join() {
  std::lock_guard lock(join_mutex_);
  if (worker_.joinable()) worker_.join();
}

Status Session::Push(std::span<const unsigned char> frame) {
  std::lock_guard lock(input_mutex_);  // keeps the worker from releasing the queue meanwhile
  if (push_input_ == nullptr) {
    return Status::FailedPrecondition("session " + id_ + " takes no pushed audio now");
  }
  if (state() == SessionState::kPaused) {
    return Status::FailedPrecondition("session " + id_ + " is paused");
  }
  return push_input_->Push(frame);
}

void Session::Run() {
  // Every line this worker logs (the engine's and the input's too) names its session.
  const ScopedLogFields log_fields({{"session_id", id_}});
  Status result;
  try {
    SetState(SessionState::kRunning);
    result = RunLoop();
  } catch (const std::exception& e) {
    result = Status::Internal("unexpected exception: " + std::string(e.what()));
  } catch (...) {
    result = Status::Internal("unexpected exception");
  }
  ReleaseInput();
  CloseAudioFile();  // complete before the state says the worker is done
  if (translation_ != nullptr) translation_->Finish();  // the last mt.final before the end
  Exit(result);
}

Status Session::RunLoop() {
  std::vector<float> chunk;
  while (true) {
    switch (NextRequest()) {
      case Request::kStop:
        return Flush();
      case Request::kPause:
        SetState(SessionState::kPaused);
        continue;
      case Request::kResume:
        input_->Resumed();
        SetState(SessionState::kRunning);
        continue;
      case Request::kFinalize:
        if (Status s = Checked(segmenter_->ForceFinal()); !s.ok()) return s;
        continue;
      case Request::kRead:
        break;
    }
    auto read = input_->Read(&chunk, kChunkSamples, kReadTimeoutMs);
    if (!read.ok()) return read.status();
    if (read.value() > 0) {
      if (Status s = Recognize(chunk); !s.ok()) return s;
      if (Status s = ShedLoad(); !s.ok()) return s;
    } else if (input_->ended()) {
      return Flush();
    }
  }
}

Session::Request Session::NextRequest() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (stop_requested_) return Request::kStop;
    if (finalize_requested_) {
      finalize_requested_ = false;
      return Request::kFinalize;
    }
    const bool paused = state_ == SessionState::kPaused;
    if (pause_requested_ != paused) return paused ? Request::kResume : Request::kPause;
    if (!paused) return Request::kRead;
    wake_.wait(lock);  // paused: neither read nor recognize until a request comes
  }
}

Status Session::Recognize(std::span<const float> samples) {
  // Saved first: if the recognizer chokes on these samples, the file shows what it was given.
  WriteAudio(samples);
  if (Status s = Checked(segmenter_->Feed(samples)); !s.ok()) return s;
  levels_.clear();
  vu_.Add(samples, &levels_);
  for (const events::VuLevel& level : levels_) Publish(level);
  CopyMetrics(/*always=*/false);
  return Status::Ok();
}

Status Session::ShedLoad() {
  const double lag_s = input_->LagSeconds();
  const bool was_overloaded = governor_.overloaded();
  const OverloadGovernor::Decision decision = governor_.Update(lag_s, clock_.NowNs());
  segmenter_->set_partials_enabled(!governor_.overloaded());
  double dropped_s = 0;
  if (decision.drop_s > 0) {
    auto dropped = input_->Drop(decision.drop_s);
    if (!dropped.ok()) return dropped.status();
    dropped_s = dropped.value();
    // Ends the open segment with the words recognized so far: a drop never costs a final.
    if (Status s = Checked(segmenter_->SkipAudio(dropped_s)); !s.ok()) return s;
  }
  double dropped_total_s = 0;
  {
    std::lock_guard lock(mutex_);
    overload_.lag_s = lag_s;
    overload_.max_lag_s = std::max(overload_.max_lag_s, lag_s);
    overload_.overloaded = governor_.overloaded();
    if (governor_.overloaded() && !was_overloaded) ++overload_.overloads;
    overload_.dropped_audio_s += dropped_s;
    dropped_total_s = overload_.dropped_audio_s;
  }
  if (decision.report) {
    Publish(events::SessionOverload{.lag_s = lag_s,
                                    .shedding = std::string(SheddingName(decision.shedding)),
                                    .dropped_audio_s = dropped_total_s});
  }
  return Status::Ok();
}

void Session::WriteAudio(std::span<const float> samples) {
  if (audio_file_ == nullptr) return;
  const Status written = audio_file_->Write(samples);
  if (written.ok()) return;
  CloseAudioFile();
  Publish(events::StatusChange{.state = state(),
                               .detail = "saving audio stopped: " + written.message()});
}

void Session::CloseAudioFile() {
  if (audio_file_ == nullptr) return;
  const Status closed = audio_file_->Close();  // after a failed Write, that failure
  audio_file_.reset();
  if (closed.ok()) return;
  spdlog::warn("session {}: saving audio stopped, the file keeps what came before: {}", id_,
               closed.message());
  std::lock_guard lock(mutex_);
  audio_error_ = closed.message();
}

Status Session::Flush() {
  SetState(SessionState::kStopping);
  Status finished = Checked(segmenter_->Finish());
  CopyMetrics(/*always=*/true);
  return finished;
}

Status Session::Checked(const Status& status) const { return status.ok() ? log_error_ : status; }

void Session::OnPartial(const asr::Partial& partial) {
  Publish(partial);
  if (translation_ != nullptr) translation_->OnPartial(partial);
}

void Session::OnFinal(const asr::Final& final_caption) {
  if (!log_error_.ok()) return;
  log_error_ = log_->Append(final_caption);
  if (!log_error_.ok()) return;
  if (translation_ != nullptr) {
    translation_->CloseSegment(final_caption.segment_id);  // no draft of it after its final
  }
  Publish(final_caption);
  if (translation_ != nullptr) translation_->OnFinal(final_caption);  // its mt.final follows it
}

void Session::Publish(events::Payload payload) {
  std::lock_guard lock(publish_mutex_);
  sink_->Publish(events::Event{
      .payload = std::move(payload), .t_wall_ns = WallNowNs(), .t_mono_ns = clock_.NowNs()});
}

void Session::SetState(SessionState state) {
  {
    std::lock_guard lock(mutex_);
    state_ = state;
  }
  Publish(events::StatusChange{.state = state, .detail = ""});
}

void Session::CopyMetrics(bool always) {
  const asr::StreamMetrics& current = segmenter_->metrics();
  std::lock_guard lock(mutex_);
  audio_seconds_ = segmenter_->audio_seconds();
  // The latency samples make a full copy costly (up to a few hundred KB): refresh it at every
  // final and once per second of audio, not at every chunk.
  if (always || current.finals != metrics_.finals ||
      current.audio_seconds - metrics_.audio_seconds >= 1.0) {
    metrics_ = current;
  }
}

void Session::ReleaseInput() {
  std::lock_guard lock(input_mutex_);
  input_->Close();
  push_input_ = nullptr;
  input_.reset();  // closes a capture device
}

void Session::Exit(const Status& result) {
  const SessionState state = result.ok() ? SessionState::kStopped : SessionState::kError;
  const FailureReport failure =
      result.ok() ? FailureReport{} : DescribeFailure(result, !log_error_.ok());
  {
    std::lock_guard lock(mutex_);
    state_ = state;
    error_ = failure.detail;
  }
  if (failure.error) {
    LogWith(spdlog::level::err, {{"error_id", failure.error->error_id}}, "worker failed: {}",
            result.message());
  } else if (!result.ok()) {
    spdlog::warn("worker failed: {}", result.message());
  }
  try {
    if (failure.error) Publish(*failure.error);
    Publish(events::StatusChange{.state = state, .detail = failure.detail});
  } catch (const std::exception& e) {
    // The sink itself may be what failed; the state is set, which is what matters.
    spdlog::warn("cannot publish the final status: {}", e.what());
  } catch (...) {
    spdlog::warn("cannot publish the final status");
  }
}

}  // namespace lx::session
