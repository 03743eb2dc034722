// A live captioning session: its audio input, its recognizer stream and the worker thread that
// drives them, with a lifecycle state that only the worker sets.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "asr/engine.h"
#include "asr/segmenter.h"
#include "asr/stream_metrics.h"
#include "audio/audio_file_writer.h"
#include "base/clock.h"
#include "base/status.h"
#include "events/event.h"
#include "session/audio_input.h"
#include "session/event_sink.h"
#include "session/overload.h"
#include "session/session_config.h"
#include "session/translation_worker.h"
#include "session/vu_meter.h"
#include "store/session_log.h"

namespace lx::session {

// How far a session's recognizer is behind its real-time source, and what it shed.
struct OverloadStats {
  double lag_s = 0;            // the latest lag measured (s behind the real-time source)
  double max_lag_s = 0;        // the largest lag measured
  bool overloaded = false;     // shedding load now
  size_t overloads = 0;        // times the session became overloaded
  double dropped_audio_s = 0;  // audio dropped unrecognized
};

// What a session can tell about itself, copied under its lock.
struct SessionInfo {
  std::string id;
  SessionConfig config;
  events::SessionState state = events::SessionState::kStarting;
  std::string error;  // why the worker failed (state kError), else ""; see Session
  int64_t started_at_wall_ns = 0;
  double audio_seconds = 0;  // audio recognized so far
  asr::StreamMetrics metrics;
  OverloadStats overload;
  std::string audio_path;   // the file the session saves its audio in; "" when it saves none
  std::string audio_error;  // why saving audio stopped early (the file keeps what came before)
};

// Starts a thread running `body`; throws (like std::thread, std::system_error) when it cannot.
// The seam through which tests make thread creation fail.
using ThreadStarter = std::function<std::thread(std::function<void()> body)>;

// One session. Created by SessionManager; all methods are thread-safe.
//
// Lifecycle: kStarting until the worker thread runs; kRunning / kPaused while it does; kStopping
// while the worker flushes the last final (after Stop, or when the input ended); kStopped when
// the worker has exited normally, kError when it exited on a failure or an exception (the error
// text says why). The worker sets every state except kStarting and releases the input (closing
// a capture device) before it sets kStopped or kError, so a worker that exited is never reported
// as running and a stopped session holds no device.
//
// Events, all published from the worker thread, in this order: status running; then asr.partial,
// asr.final and vu (about every 100 ms of audio) as audio is recognized, with status paused /
// running around a pause; status stopping, the end-of-stream final, status stopped — or, on a
// failure, status error (detail: the reason) at once. session.overload events come between
// captions when the recognizer falls behind a real-time source (see OverloadGovernor): partials
// stop while it is overloaded, and past max_lag_s the open segment's final is forced and the
// oldest waiting audio dropped (a source that can drop: a paced file). An internal failure (an
// exception, an internal status, a final the log cannot take) is reported as server.error {code,
// detail, error_id} just before status error; both carry a fixed detail, which is also
// Info().error, and the failure's text is logged under error_id. Every final is appended to the log
// before it is published; a final the log cannot take is not published and fails the session.
//
// Translation (a `translation` worker given to Start): each partial is offered to it and each
// final handed to it after the final was published, so its mt.final follows the asr.final; its
// thread publishes mt.partial, mt.final and mt.error through the same sink (see
// translation_worker.h). The worker translates the finals still queued before the session
// reports stopped or error, so the last mt.final comes before that status.
//
// Saved audio (an `audio_file` given to Start): the worker writes exactly the samples it passes to
// the recognizer, so nothing while paused, and closes the file before it reports stopped or error.
// A failed write (disk full) must not cost finals, so it stops the saving only: the file is closed
// with what it holds, the reason is logged once and kept in Info().audio_error, a status event
// (the current state, detail "saving audio stopped: <reason>") tells the viewers, and recognition
// goes on.
class Session {
 public:
  // Starts the worker with `start_thread` (empty: std::thread), and the translation worker's
  // thread. `input`, `stream`, `audio_file` (null: the audio is not saved) and `translation`
  // (null: no translation) are owned from here on. Unavailable when a thread cannot be started;
  // the input and the audio file are closed by then.
  static Result<std::unique_ptr<Session>> Start(
      std::string id, SessionConfig config, std::unique_ptr<AudioInput> input,
      std::unique_ptr<asr::EngineStream> stream, std::shared_ptr<EventSink> sink,
      std::shared_ptr<store::SessionLog> log, std::unique_ptr<audio::AudioFileWriter> audio_file,
      const Clock& clock, const ThreadStarter& start_thread = {},
      std::unique_ptr<TranslationWorker> translation = nullptr);
  // Stops the worker (as Stop) and waits for it.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& id() const { return id_; }
  SessionInfo Info() const;
  events::SessionState state() const;
  // The translation figures; nullopt when the session does not translate.
  std::optional<TranslationMetrics> Translation() const;

  // Asks the worker to pause: it stops reading and recognizing until Resume (the paused status
  // event says when it did). FailedPrecondition when the session is not running (resp. not
  // paused or about to be). Does not block.
  Status Pause();
  Status Resume();
  // Forces the open segment's final (eou_reason "forced") at the worker's next step, paused or
  // not. FailedPrecondition when the session is ending or ended.
  Status Finalize();
  // Asks the worker to flush the last final and exit; returns at once. Idempotent.
  void Stop();
  // Waits until the worker has exited. Not from the worker's own thread (e.g. a sink).
  void Join();

  // Queues a frame of pushed PCM (a push-source session's audio). FailedPrecondition when the
  // session takes no pushed audio, is paused (the caller tells the client), or has ended;
  // otherwise as PushInput::Push. Does not block on recognition.
  Status Push(std::span<const unsigned char> frame);

 private:
  class Captions;
  enum class Request { kRead, kPause, kResume, kFinalize, kStop };

  Session(std::string id, SessionConfig config, std::unique_ptr<AudioInput> input,
          std::unique_ptr<asr::EngineStream> stream, std::shared_ptr<EventSink> sink,
          std::shared_ptr<store::SessionLog> log,
          std::unique_ptr<audio::AudioFileWriter> audio_file,
          std::unique_ptr<TranslationWorker> translation, const Clock& clock);
  void Run();
  Status RunLoop();
  Request NextRequest();
  Status Recognize(std::span<const float> samples);
  // Measures the lag after a chunk and sheds load as the governor decides.
  Status ShedLoad();
  void WriteAudio(std::span<const float> samples);
  // Closes the audio file (if still open); a failure, its own or a Write's, is logged and kept.
  void CloseAudioFile();
  Status Flush();
  Status Checked(const Status& status) const;
  void OnPartial(const asr::Partial& partial);
  void OnFinal(const asr::Final& final_caption);
  // Hands one event to the sink; thread-safe (the worker's and the translation's thread call
  // it), and the sink's Publish calls never overlap.
  void Publish(events::Payload payload);
  void SetState(events::SessionState state);
  // Copies the segmenter's figures for Info(); the full metrics only when worth it (see .cc).
  void CopyMetrics(bool always);
  void ReleaseInput();
  void Exit(const Status& result);

  const std::string id_;
  const SessionConfig config_;
  const Clock& clock_;
  const int64_t started_at_wall_ns_;
  const std::shared_ptr<EventSink> sink_;
  const std::shared_ptr<store::SessionLog> log_;
  const std::string audio_path_;  // "" when the audio is not saved
  std::mutex publish_mutex_;      // serializes sink_->Publish
  // Null when the session does not translate; finished before the session reports its end.
  const std::unique_ptr<TranslationWorker> translation_;

  // Worker thread only (after construction).
  std::unique_ptr<Captions> captions_;
  std::unique_ptr<asr::Segmenter> segmenter_;
  VuMeter vu_;
  std::vector<events::VuLevel> levels_;                 // scratch for vu_
  Status log_error_;                                    // the first final the log refused
  std::unique_ptr<audio::AudioFileWriter> audio_file_;  // null when not saving (any more)
  OverloadGovernor governor_;

  // The worker reads input_ without the lock (it alone replaces it); Push reads it under it.
  mutable std::mutex input_mutex_;
  std::unique_ptr<AudioInput> input_;  // guarded by input_mutex_ for writes; null once released
  PushInput* push_input_ = nullptr;    // guarded by input_mutex_; input_ when a push queue

  mutable std::mutex mutex_;
  std::condition_variable wake_;  // signalled on pause/resume/stop/finalize requests
  events::SessionState state_ = events::SessionState::kStarting;  // guarded by mutex_
  std::string error_;                                             // guarded by mutex_
  bool pause_requested_ = false;                                  // guarded by mutex_
  bool stop_requested_ = false;                                   // guarded by mutex_
  bool finalize_requested_ = false;                               // guarded by mutex_
  asr::StreamMetrics metrics_;  // guarded by mutex_ (copied from the worker)
  OverloadStats overload_;      // guarded by mutex_
  double audio_seconds_ = 0;    // guarded by mutex_
  std::string audio_error_;     // guarded by mutex_

  std::mutex join_mutex_;  // serializes Join
  std::thread worker_;     // guarded by join_mutex_ once started
};

}  // namespace lx::session
