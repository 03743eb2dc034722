#include "session/session_manager.h"

#include <exception>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace lx::session {

SessionManager::SessionManager(SessionManagerOptions options, audio::CaptureBackend& capture,
                               ModelLoader load_model, SinkFactory make_sink, const Clock& clock)
    : options_(std::move(options)),
      capture_(capture),
      load_model_(std::move(load_model)),
      make_sink_(std::move(make_sink)),
      clock_(clock),
      random_(std::random_device{}()) {}

SessionManager::~SessionManager() { StopAll(); }

namespace {
Status ShuttingDown() { return Status::Unavailable("the server is shutting down"); }
// The recognizer's language: what sessions translate from.
constexpr char kSourceLanguage[] = "eng";
}  // namespace

Result<std::shared_ptr<Session>> SessionManager::Create(const SessionConfig& config) {
  if (Status s = config.Validate(); !s.ok()) return s;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return ShuttingDown();
  }
  // Each step's result owns what it opened, so an early return closes it (the input last).
  auto translator = OpenTranslator(config.mt);
  if (!translator.ok()) return translator.status();
  auto input = OpenAudioInput(config.source, capture_);
  if (!input.ok()) return input.status();
  auto model = Model(config.model_dir.empty() ? options_.default_model_dir : config.model_dir);
  if (!model.ok()) return model.status();
  auto stream = model.value()->CreateStream(config.asr.EngineConfig());
  if (!stream.ok()) return stream.status();
  const std::string id = NewId();
  auto log = OpenLog(id);
  if (!log.ok()) return log.status();
  auto translation = MakeTranslationWorker(id, config, std::move(translator).value());
  if (!translation.ok()) return translation.status();
  // Opened here, not by the worker, so that an unwritable data folder fails the request.
  auto audio_file = OpenAudioFile(id, config.save_audio);
  if (!audio_file.ok()) return audio_file.status();
  auto sink = MakeSink(id);
  if (!sink.ok()) return sink.status();
  auto started =
      Session::Start(id, config, std::move(input).value(), std::move(stream).value(),
                     std::move(sink).value(), std::move(log).value(), std::move(audio_file).value(),
                     clock_, options_.start_thread, std::move(translation).value());
  if (!started.ok()) return started.status();
  std::shared_ptr<Session> session = std::move(started).value();
  {
    std::lock_guard lock(mutex_);
    if (!closed_) {
      sessions_.push_back(session);
      return session;
    }
  }
  // StopAll ran while this session started; it did not see it, so stop it here.
  session->Stop();
  session->Join();
  return ShuttingDown();
}

Status SessionManager::Preload(const std::string& model_dir) { return Model(model_dir).status(); }

std::shared_ptr<Session> SessionManager::Get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (const auto& session : sessions_) {
    if (session->id() == id) return session;
  }
  return nullptr;
}

std::vector<std::shared_ptr<Session>> SessionManager::List() const {
  std::lock_guard lock(mutex_);
  return {sessions_.rbegin(), sessions_.rend()};
}

void SessionManager::StopAll() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  const std::vector<std::shared_ptr<Session>> sessions = List();
  for (const auto& session : sessions) session->Stop();  // all flush at once...
  for (const auto& session : sessions) session->Join();  // ...then wait for each
}

std::string SessionManager::SessionDir(const std::string& id) const {
  return (std::filesystem::path(options_.data_dir) / id).string();
}

Result<const asr::EngineModel*> SessionManager::Model(const std::string& model_dir) {
  std::lock_guard lock(models_mutex_);
  if (auto it = models_.find(model_dir); it != models_.end()) return it->second.get();
  Result<std::unique_ptr<asr::EngineModel>> loaded =
      Status::Unavailable("cannot load the model in " + model_dir);
  try {
    loaded = load_model_(model_dir);
  } catch (const std::exception& e) {
    return Status::Internal("cannot load the model in " + model_dir + ": " + e.what());
  }
  if (!loaded.ok()) return loaded.status();
  const asr::EngineModel* model = loaded.value().get();
  models_.emplace(model_dir, std::move(loaded).value());
  return model;
}

Result<std::shared_ptr<store::SessionLog>> SessionManager::OpenLog(const std::string& id) const {
  const std::string dir = SessionDir(id);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::IOError("cannot create " + dir + ": " + error.message());
  auto log = store::SessionLog::Open(dir);
  if (!log.ok()) return log.status();
  return std::shared_ptr<store::SessionLog>(std::move(log).value());
}

Result<std::unique_ptr<audio::AudioFileWriter>> SessionManager::OpenAudioFile(
    const std::string& id, SaveAudio save_audio) const {
  audio::AudioFileFormat format = audio::AudioFileFormat::kWav;
  std::string name = "audio.wav";
  switch (save_audio) {
    case SaveAudio::kOff:
      return std::unique_ptr<audio::AudioFileWriter>();
    case SaveAudio::kWav:
      break;
    case SaveAudio::kFlac:
      format = audio::AudioFileFormat::kFlac;
      name = "audio.flac";
      break;
  }
  const std::string path = (std::filesystem::path(SessionDir(id)) / name).string();
  if (options_.open_audio_file) return options_.open_audio_file(path, format);
  return audio::CreateAudioFileWriter(path, format);
}

Result<std::shared_ptr<EventSink>> SessionManager::MakeSink(const std::string& id) const {
  std::shared_ptr<EventSink> sink;
  try {
    sink = make_sink_(id);
  } catch (const std::exception& e) {
    return Status::Internal("cannot create the event sink of session " + id + ": " + e.what());
  }
  if (sink == nullptr) return Status::Internal("no event sink for session " + id);
  return sink;
}

Result<std::shared_ptr<mt::Translator>> SessionManager::OpenTranslator(
    const TranslationConfig& mt) const {
  if (!mt.enabled) return std::shared_ptr<mt::Translator>();
  if (options_.translators == nullptr) {
    std::string why = "translation is not available";
    if (!options_.translation_unavailable.empty()) why += ": " + options_.translation_unavailable;
    return Status::InvalidArgument(why);
  }
  auto opened = options_.translators->Open(kSourceLanguage, mt.target);
  if (opened.status().code() != Status::Code::kNotFound) return opened;
  std::string targets;
  for (const mt::LanguagePair& pair : options_.translators->Pairs()) {
    if (pair.source != kSourceLanguage) continue;
    targets += (targets.empty() ? "" : ", ") + pair.target;
  }
  return Status::NotFound("mt.target \"" + mt.target + "\" is not installed (from " +
                          kSourceLanguage +
                          "); installed targets: " + (targets.empty() ? "none" : targets));
}

Result<std::unique_ptr<TranslationWorker>> SessionManager::MakeTranslationWorker(
    const std::string& id, const SessionConfig& config,
    std::shared_ptr<mt::Translator> translator) const {
  if (translator == nullptr) return std::unique_ptr<TranslationWorker>();
  auto log = store::TranslationLog::Open(SessionDir(id), translator->pair().target);
  if (!log.ok()) return log.status();
  const TranslationWorkerOptions worker_options{
      .cadence_words = config.mt.cadence_words,
      .queue_limit_jobs = options_.translation_queue_limit_jobs};
  return std::make_unique<TranslationWorker>(std::move(translator), options_.translators->name(),
                                             std::move(log).value(), worker_options, clock_);
}

std::string SessionManager::NewId() {
  std::lock_guard lock(mutex_);
  // A counter makes ids unique within this run; the random part, across restarts.
  return fmt::format("s{}-{:06x}", next_id_++, random_() & 0xffffffu);
}

}  // namespace lx::session
