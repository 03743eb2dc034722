// Creates, finds and stops sessions; owns the loaded recognizer models.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "asr/engine.h"
#include "audio/audio_file_writer.h"
#include "audio/capture.h"
#include "base/clock.h"
#include "base/status.h"
#include "mt/translator.h"
#include "session/event_sink.h"
#include "session/session.h"
#include "session/session_config.h"

namespace lx::session {

// Creates the file a session saves its audio in (the real one: audio::CreateAudioFileWriter).
using AudioFileOpener = std::function<Result<std::unique_ptr<audio::AudioFileWriter>>(
    const std::string& path, audio::AudioFileFormat format)>;

struct SessionManagerOptions {
  std::string data_dir;               // per-session folders are created under it
  std::string default_model_dir;      // used when a config names none
  ThreadStarter start_thread;         // starts session workers; empty = std::thread
  AudioFileOpener open_audio_file{};  // creates saved-audio files; empty = CreateAudioFileWriter
  // Translates sessions that ask for it (config.mt); not owned, outlives the manager. Null: no
  // translation on this server, and `translation_unavailable` says why (shown in the 422).
  mt::TranslatorProvider* translators = nullptr;
  std::string translation_unavailable{};
  size_t translation_queue_limit_jobs = 16;  // each translating session's queue (see
                                             // TranslationWorkerOptions)
};

// Loads a recognizer model from a folder (the real one: asr::LoadPocketSphinxModel).
using ModelLoader =
    std::function<Result<std::unique_ptr<asr::EngineModel>>(const std::string& model_dir)>;
// Gives the sink a new session's events go to (the server's per-session fan-out). May throw;
// a throw fails Create.
using SinkFactory = std::function<std::shared_ptr<EventSink>(const std::string& session_id)>;

// Thread-safe. Sessions stay listed after they stop, until the manager is destroyed; a session
// must not outlive its manager (its recognizer stream comes from the manager's model).
class SessionManager {
 public:
  SessionManager(SessionManagerOptions options, audio::CaptureBackend& capture,
                 ModelLoader load_model, SinkFactory make_sink, const Clock& clock);
  // Stops every session and waits for their workers.
  ~SessionManager();
  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  // Validates the config, opens its translator (config.mt: English -> mt.target), opens its
  // source, loads (or reuses) its model, creates its stream, the session's data folder and log,
  // its translation log (mt.<target>.jsonl), its audio file (save_audio: audio.wav or
  // audio.flac beside finals.jsonl), its sink, and starts its worker — in that order; any
  // failure closes what was opened. InvalidArgument/NotFound name the bad field, file or device
  // (InvalidArgument "translation is not available: <why>" without a provider, NotFound listing
  // the installed targets for a target that is not); Unavailable for a model, translation engine
  // or thread that cannot be had; IOError for the data folder, the translation log or the audio
  // file; Internal when the sink factory fails. Blocks while a model loads (about a second, once
  // per folder) or a translation engine starts.
  Result<std::shared_ptr<Session>> Create(const SessionConfig& config);
  // Loads the model in `model_dir` now (once), so that the first session using it does not wait
  // for it. Fails as Create's model step does.
  Status Preload(const std::string& model_dir);
  // nullptr when unknown.
  std::shared_ptr<Session> Get(const std::string& id) const;
  // All sessions, newest first.
  std::vector<std::shared_ptr<Session>> List() const;
  // Stops every session and waits for their workers (graceful shutdown). From then on Create
  // is refused as Unavailable, also for a create already under way, whose session is stopped.
  void StopAll();
  // The session's folder under data_dir (exists once the session was created).
  std::string SessionDir(const std::string& id) const;
  // The translation provider (null when there is none) and, then, why.
  mt::TranslatorProvider* translators() const { return options_.translators; }
  const std::string& translation_unavailable() const { return options_.translation_unavailable; }

 private:
  Result<const asr::EngineModel*> Model(const std::string& model_dir);
  Result<std::shared_ptr<store::SessionLog>> OpenLog(const std::string& id) const;
  // The file the session saves its audio in; null when save_audio is off.
  Result<std::unique_ptr<audio::AudioFileWriter>> OpenAudioFile(const std::string& id,
                                                                SaveAudio save_audio) const;
  Result<std::shared_ptr<EventSink>> MakeSink(const std::string& id) const;
  // The translator of a session's mt config; null when it does not translate.
  Result<std::shared_ptr<mt::Translator>> OpenTranslator(const TranslationConfig& mt) const;
  // The session's translation worker (with its log); null without a translator.
  Result<std::unique_ptr<TranslationWorker>> MakeTranslationWorker(
      const std::string& id, const SessionConfig& config,
      std::shared_ptr<mt::Translator> translator) const;
  std::string NewId();

  const SessionManagerOptions options_;
  audio::CaptureBackend& capture_;
  const ModelLoader load_model_;
  const SinkFactory make_sink_;
  const Clock& clock_;

  // Held while a model loads, so a folder is loaded once; never taken inside mutex_.
  std::mutex models_mutex_;
  // Declared before sessions_ so that the sessions' streams go before their models.
  std::map<std::string, std::unique_ptr<asr::EngineModel>> models_;  // guarded by models_mutex_

  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Session>> sessions_;  // guarded by mutex_; oldest first
  bool closed_ = false;                             // guarded by mutex_; set by StopAll
  uint64_t next_id_ = 1;                            // guarded by mutex_
  std::mt19937_64 random_;                          // guarded by mutex_
};

}  // namespace lx::session
