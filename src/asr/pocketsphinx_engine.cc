#include "asr/pocketsphinx_engine.h"

#include <fmt/format.h>
#include <pocketsphinx.h>
#include <spdlog/spdlog.h>
#include <sphinxbase/err.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>

namespace lx::asr {
namespace {

namespace fs = std::filesystem;

constexpr double kFramesPerSecond = 100.0;  // PocketSphinx's default -frate

// Serializes ps_init/ps_free: they touch PocketSphinx's process-wide front-end and log state.
std::mutex& DecoderLifecycleMutex() {
  static std::mutex mutex;
  return mutex;
}

// PocketSphinx's printf-style log lines go to spdlog at debug level, errors at warn.
void ForwardEngineLog(void* /*user_data*/, err_lvl_t level, const char* format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return;
  if (level >= ERR_ERROR) {
    spdlog::warn("pocketsphinx: {}", text);
  } else {
    spdlog::debug("pocketsphinx: {}", text);
  }
}

void RouteEngineLoggingOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    err_set_callback(ForwardEngineLog, nullptr);
    err_set_logfp(nullptr);  // the configuration dump is printed straight to this file
  });
}

int PostSpeechFrames(int silence_ms) {
  return std::max(1, static_cast<int>(std::lround(silence_ms * kFramesPerSecond / 1000.0)));
}

// The decoder configuration for `files`; nullptr if PocketSphinx rejects it.
//
// One search pass (the lexicon-tree search; no -fwdflat rescoring, no -bestpath lattice search):
// the final then is the hypothesis the partials showed, completed, so the words a partial marks
// stable survive into the final. With the second passes every final of the librivox clips
// revised its stable prefix; without them none does, the word error rate stays the same (24 of
// 71 words) and the CPU drops (docs/BENCHMARKS.md). Word confidences still come from the
// lattice, built once at the end of each utterance.
cmd_ln_t* MakeConfig(const PocketSphinxModelFiles& files, int silence_ms) {
  const std::string postspeech = std::to_string(PostSpeechFrames(silence_ms));
  return cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", files.acoustic_dir.c_str(), "-lm",
                     files.language_model.c_str(), "-dict", files.dictionary.c_str(),
                     "-vad_postspeech", postspeech.c_str(), "-fwdflat", "no", "-bestpath", "no",
                     nullptr);
}

// In the probe child: the engine's error lines go to the pipe whose descriptor is `user_data`.
void WriteEngineErrorToPipe(void* user_data, err_lvl_t level, const char* format, ...) {
  if (level < ERR_ERROR) return;
  char line[512];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (n > 0) {
    const ssize_t written =
        ::write(*static_cast<int*>(user_data), line, std::min<size_t>(n, sizeof line - 1));
    (void)written;  // nothing to do about a failed write in the child
  }
}

// The last non-empty line of `text`.
std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  const auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

// Loads the model once in a child process. PocketSphinx ends the whole process (exit(1)) when a
// model file is damaged, so a model is tried first where that cannot hurt the caller.
Status ProbeInChild(const PocketSphinxModelFiles& files, const std::string& model_dir) {
  int fds[2];
  if (::pipe(fds) != 0) return Status::Unavailable("cannot create a pipe to check the model");
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::Unavailable("cannot start a process to check the model");
  }
  if (pid == 0) {
    ::close(fds[0]);
    err_set_callback(WriteEngineErrorToPipe, &fds[1]);
    err_set_logfp(nullptr);
    cmd_ln_t* config = MakeConfig(files, kDefaultSilenceMs);
    ::_exit(config != nullptr && ps_init(config) != nullptr ? 0 : 3);
  }
  ::close(fds[1]);
  std::string errors;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    errors.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return Status::Ok();
  const std::string reason = LastLine(errors);
  return Status::Unavailable("pocketsphinx cannot load the model in " + model_dir +
                             (reason.empty() ? "" : " (" + reason + ")"));
}

bool HasFile(const fs::path& dir, const char* name) {
  std::error_code ec;
  return fs::is_regular_file(dir / name, ec);
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The first regular file in `dir` (sorted by name) for which `accept` holds.
template <typename Pred>
std::optional<fs::path> FirstFile(const fs::path& dir, Pred accept) {
  std::error_code ec;
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && accept(entry.path().filename().string())) {
      found.push_back(entry.path());
    }
  }
  if (found.empty()) return std::nullopt;
  return *std::min_element(found.begin(), found.end());
}

std::string MissingHint(const std::string& model_dir) {
  return model_dir == kDefaultPocketSphinxModelDir
             ? " (install Debian's pocketsphinx-en-us package: make setup)"
             : " (a PocketSphinx model folder holds an acoustic model folder with mdef, a *.lm.bin "
               "language model and a *.dict dictionary)";
}

std::string StripAlternate(std::string word) {
  // The dictionary names alternate pronunciations "word(2)"; the word is the same.
  if (const auto paren = word.find('('); paren != std::string::npos && word.back() == ')') {
    word.erase(paren);
  }
  return word;
}

bool IsFiller(const std::string& word) {
  return word.empty() || word.front() == '<' || word.front() == '[' || word.front() == '+';
}

// Identifies a model's exact files: their paths, sizes and modification times, hashed.
std::string Fingerprint(const PocketSphinxModelFiles& files) {
  std::vector<fs::path> paths{files.language_model, files.dictionary};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(files.acoustic_dir, ec)) {
    if (entry.is_regular_file(ec)) paths.push_back(entry.path());
  }
  std::sort(paths.begin() + 2, paths.end());
  std::string key;
  for (const auto& path : paths) {
    const auto size = fs::file_size(path, ec);
    const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
    key += path.string() + '|' + std::to_string(size) + '|' + std::to_string(mtime) + '\n';
  }
  return fmt::format("{:016x}", std::hash<std::string>{}(key));
}

constexpr char kVerifiedFile[] = "verified-pocketsphinx-models";

bool WasVerified(const std::string& dir, const std::string& fingerprint) {
  if (dir.empty()) return false;
  std::ifstream in(fs::path(dir) / kVerifiedFile);
  for (std::string line; std::getline(in, line);) {
    if (line == fingerprint) return true;
  }
  return false;
}

// Best effort: a cache that cannot be written only costs the next load a check.
void RememberVerified(const std::string& dir, const std::string& fingerprint) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream(fs::path(dir) / kVerifiedFile, std::ios::app) << fingerprint << '\n';
}

class PocketSphinxStream final : public EngineStream {
 public:
  explicit PocketSphinxStream(ps_decoder_t* decoder) : decoder_(decoder) {}
  ~PocketSphinxStream() override {
    std::lock_guard lock(DecoderLifecycleMutex());
    ps_free(decoder_);
  }
  PocketSphinxStream(const PocketSphinxStream&) = delete;
  PocketSphinxStream& operator=(const PocketSphinxStream&) = delete;

  Status Start() {
    if (ps_start_stream(decoder_) < 0 || ps_start_utt(decoder_) < 0) {
      return Status::Unavailable("pocketsphinx: cannot start an utterance");
    }
    return Status::Ok();
  }

  Status Feed(std::span<const float> samples) override {
    pcm_.resize(samples.size());
    // x 32768, the inverse of how libsndfile reads 16-bit audio into floats, so 16-bit input
    // reaches the engine sample for sample as pocketsphinx_continuous would read it.
    std::transform(samples.begin(), samples.end(), pcm_.begin(), [](float x) {
      return static_cast<int16_t>(std::clamp(std::lround(x * 32768.0f), -32768L, 32767L));
    });
    if (ps_process_raw(decoder_, pcm_.data(), pcm_.size(), FALSE, FALSE) < 0) {
      return Status::Internal("pocketsphinx: processing audio failed");
    }
    return Status::Ok();
  }

  bool InSpeech() const override { return ps_get_in_speech(decoder_) != 0; }

  std::string Hypothesis() override {
    int32 score = 0;
    const char* hyp = ps_get_hyp(decoder_, &score);
    return hyp == nullptr ? std::string() : std::string(hyp);
  }

  Result<Utterance> EndUtterance() override {
    if (ps_end_utt(decoder_) < 0)
      return Status::Internal("pocketsphinx: ending an utterance failed");
    Utterance utterance = CollectWords();
    if (ps_start_utt(decoder_) < 0) {
      return Status::Internal("pocketsphinx: starting the next utterance failed");
    }
    return utterance;
  }

 private:
  // The words of the utterance just ended, with their posteriors from its lattice.
  Utterance CollectWords() {
    Utterance utterance;
    ps_lattice_t* lattice = PosteriorLattice();
    // Segments count frames from the start of the stream, the lattice from the start of the
    // utterance, where the first segment (<s>) starts.
    std::optional<int> utterance_start_frame;
    for (ps_seg_t* seg = ps_seg_iter(decoder_); seg != nullptr; seg = ps_seg_next(seg)) {
      int start_frame = 0;
      int end_frame = 0;
      ps_seg_frames(seg, &start_frame, &end_frame);
      if (!utterance_start_frame) utterance_start_frame = start_frame;
      const char* dictionary_word = ps_seg_word(seg);
      std::string word = StripAlternate(dictionary_word);
      if (IsFiller(word)) continue;
      const double confidence =
          Posterior(lattice, dictionary_word, start_frame - *utterance_start_frame);
      utterance.words.push_back(Word{std::move(word), start_frame / kFramesPerSecond,
                                     (end_frame + 1) / kFramesPerSecond, confidence});
    }
    return utterance;
  }

  // The lattice of the utterance just ended with posteriors computed (what -bestpath would do,
  // minus replacing the hypothesis); nullptr when PocketSphinx can build none (no speech).
  // Owned by the decoder until the next utterance.
  ps_lattice_t* PosteriorLattice() {
    ps_lattice_t* lattice = ps_get_lattice(decoder_);
    if (lattice == nullptr) return nullptr;
    cmd_ln_t* config = ps_get_config(decoder_);
    const float ascale = 1.0f / cmd_ln_float32_r(config, "-ascale");
    const float lw_ratio =
        cmd_ln_float32_r(config, "-bestpathlw") / cmd_ln_float32_r(config, "-lw");
    // The n-gram search's name in 5prealpha; ps_get_search() would tell, but leaks a hash
    // table iterator on every call.
    ngram_model_t* lm = ps_get_lm(decoder_, "_default");
    if (lm == nullptr || ps_lattice_bestpath(lattice, lm, lw_ratio, ascale) == nullptr) {
      return nullptr;
    }
    ps_lattice_posterior(lattice, lm, ascale);
    return lattice;
  }

  // The posterior of `word` starting at `start_frame` in `lattice`; 0 when it has no such node.
  double Posterior(ps_lattice_t* lattice, const char* word, int start_frame) const {
    if (lattice == nullptr) return 0;
    double best = 0;
    for (ps_latnode_iter_t* it = ps_latnode_iter(lattice); it != nullptr;
         it = ps_latnode_iter_next(it)) {
      ps_latnode_t* node = ps_latnode_iter_node(it);
      int16 first_end = 0;
      int16 last_end = 0;
      if (ps_latnode_times(node, &first_end, &last_end) != start_frame ||
          std::strcmp(ps_latnode_word(lattice, node), word) != 0) {
        continue;
      }
      best = std::max(best, logmath_exp(ps_lattice_get_logmath(lattice),
                                        ps_latnode_prob(lattice, node, nullptr)));
    }
    return std::clamp(best, 0.0, 1.0);
  }

  ps_decoder_t* decoder_;
  std::vector<int16_t> pcm_;
};

class PocketSphinxModel final : public EngineModel {
 public:
  PocketSphinxModel(std::string model_dir, PocketSphinxModelFiles files)
      : model_dir_(std::move(model_dir)), files_(std::move(files)) {}

  ~PocketSphinxModel() override {
    std::lock_guard lock(DecoderLifecycleMutex());
    if (spare_ != nullptr) ps_free(spare_);
  }
  PocketSphinxModel(const PocketSphinxModel&) = delete;
  PocketSphinxModel& operator=(const PocketSphinxModel&) = delete;

  // Creates the first decoder now, so that a broken model fails at load time.
  Status Probe() {
    auto decoder = NewDecoder(kDefaultSilenceMs);
    if (!decoder.ok()) return decoder.status();
    std::lock_guard lock(DecoderLifecycleMutex());
    spare_ = decoder.value();
    spare_silence_ms_ = kDefaultSilenceMs;
    return Status::Ok();
  }

  std::string_view engine_name() const override { return "pocketsphinx"; }
  std::string_view model_name() const override { return model_dir_; }

  Result<std::unique_ptr<EngineStream>> CreateStream(
      const EngineStreamConfig& config) const override {
    auto decoder = TakeSpareOrCreate(config.silence_ms);
    if (!decoder.ok()) return decoder.status();
    auto stream = std::make_unique<PocketSphinxStream>(decoder.value());
    if (Status s = stream->Start(); !s.ok()) return s;
    return std::unique_ptr<EngineStream>(std::move(stream));
  }

 private:
  Result<ps_decoder_t*> TakeSpareOrCreate(int silence_ms) const {
    {
      std::lock_guard lock(DecoderLifecycleMutex());
      if (spare_ != nullptr && spare_silence_ms_ == silence_ms) {
        return std::exchange(spare_, nullptr);
      }
    }
    return NewDecoder(silence_ms);
  }

  Result<ps_decoder_t*> NewDecoder(int silence_ms) const {
    std::lock_guard lock(DecoderLifecycleMutex());
    RouteEngineLoggingOnce();
    cmd_ln_t* config = MakeConfig(files_, silence_ms);
    if (config == nullptr) {
      return Status::Unavailable("pocketsphinx rejected the configuration for " + model_dir_);
    }
    ps_decoder_t* decoder = ps_init(config);
    cmd_ln_free_r(config);  // the decoder holds its own reference
    if (decoder == nullptr) {
      return Status::Unavailable("pocketsphinx cannot load the model in " + model_dir_ +
                                 " (files unreadable or not a PocketSphinx model)");
    }
    return decoder;
  }

  std::string model_dir_;
  PocketSphinxModelFiles files_;
  // A decoder made by Probe, handed to the first stream that asks for its settings.
  mutable ps_decoder_t* spare_ = nullptr;  // guarded by DecoderLifecycleMutex()
  mutable int spare_silence_ms_ = 0;       // guarded by DecoderLifecycleMutex()
};

}  // namespace

Result<PocketSphinxModelFiles> FindPocketSphinxModelFiles(const std::string& model_dir) {
  std::error_code ec;
  const fs::path dir(model_dir);
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound("recognizer model folder " + model_dir + " does not exist" +
                            MissingHint(model_dir));
  }
  std::vector<fs::path> candidates{dir};
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) candidates.push_back(entry.path());
  }
  std::sort(candidates.begin() + 1, candidates.end());
  PocketSphinxModelFiles files;
  for (const auto& candidate : candidates) {
    if (HasFile(candidate, "mdef") && HasFile(candidate, "means")) {
      files.acoustic_dir = candidate.string();
      break;
    }
  }
  const auto lm = FirstFile(dir, [](const std::string& name) {
    const bool is_lm = EndsWith(name, ".lm.bin") || EndsWith(name, ".lm") || EndsWith(name, ".DMP");
    return is_lm && name.find("phone") == std::string::npos;
  });
  const auto dict = FirstFile(dir, [](const std::string& name) {
    return EndsWith(name, ".dict") || EndsWith(name, ".dic");
  });
  std::vector<std::string> missing;
  if (files.acoustic_dir.empty()) missing.emplace_back("an acoustic model (a folder with mdef)");
  if (!lm) missing.emplace_back("a language model (*.lm.bin)");
  if (!dict) missing.emplace_back("a pronunciation dictionary (*.dict)");
  if (!missing.empty()) {
    std::string list;
    for (const auto& item : missing) list += (list.empty() ? "" : ", ") + item;
    return Status::NotFound("recognizer model folder " + model_dir + " lacks " + list +
                            MissingHint(model_dir));
  }
  files.language_model = lm->string();
  files.dictionary = dict->string();
  return files;
}

Result<std::unique_ptr<EngineModel>> LoadPocketSphinxModel(const std::string& model_dir,
                                                           const PocketSphinxOptions& options) {
  auto files = FindPocketSphinxModelFiles(model_dir);
  if (!files.ok()) return files.status();
  const std::string fingerprint = Fingerprint(files.value());
  if (!WasVerified(options.verified_models_dir, fingerprint)) {
    if (Status s = ProbeInChild(files.value(), model_dir); !s.ok()) return s;
    RememberVerified(options.verified_models_dir, fingerprint);
  }
  auto model = std::make_unique<PocketSphinxModel>(model_dir, std::move(files.value()));
  if (Status s = model->Probe(); !s.ok()) return s;
  return std::unique_ptr<EngineModel>(std::move(model));
}

}  // namespace lx::asr
