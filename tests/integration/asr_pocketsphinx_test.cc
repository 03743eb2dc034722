// The PocketSphinx engine and the Segmenter on real recorded speech (Debian's
// pocketsphinx-testdata), with the model from pocketsphinx-en-us.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <set>

#include "asr/pocketsphinx_engine.h"
#include "asr/segmenter.h"
#include "audio/audio_reader.h"
#include "base/clock.h"
#include "support/word_error_rate.h"

namespace lx::asr {
namespace {

using ::testing::HasSubstr;

std::string TestData() {
  const char* dir = std::getenv("LX_POCKETSPHINX_TESTDATA");
  return dir != nullptr ? dir : "/usr/share/pocketsphinx/test/data";
}

std::vector<float> ReadAll(const std::string& path) {
  auto source = audio::OpenAudioFile(path);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  std::vector<float> all;
  std::vector<float> chunk;
  while (true) {
    auto n = source.value()->Read(&chunk, 16000);
    EXPECT_TRUE(n.ok());
    if (!n.ok() || n.value() == 0) break;
    all.insert(all.end(), chunk.begin(), chunk.end());
  }
  return all;
}

std::vector<float> ReadRaw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> out;
  int16_t sample = 0;
  while (in.read(reinterpret_cast<char*>(&sample), sizeof sample)) out.push_back(sample / 32768.0f);
  return out;
}

class Collector final : public CaptionSink {
 public:
  void OnPartial(const Partial& partial) override { partials.push_back(partial); }
  void OnFinal(const Final& final_caption) override { finals.push_back(final_caption); }
  std::string Text() const {
    std::string text;
    for (const auto& f : finals) {
      if (!f.text.empty()) text += (text.empty() ? "" : " ") + f.text;
    }
    return text;
  }
  std::vector<Partial> partials;
  std::vector<Final> finals;
};

class PocketSphinxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = LoadPocketSphinxModel(kDefaultPocketSphinxModelDir);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    model_ = std::move(loaded.value()).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }

  // Recognizes `audio` fed in chunks of `chunk` samples (0: all at once).
  static Collector Recognize(const std::vector<float>& audio, size_t chunk,
                             SegmenterConfig config = {}) {
    Collector collector;
    auto engine = model_->CreateStream(config.EngineConfig());
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    Segmenter segmenter(std::move(engine.value()), config, SteadyClock::Instance(), &collector);
    std::span<const float> rest(audio);
    if (chunk == 0) chunk = rest.size();
    while (!rest.empty()) {
      const size_t n = std::min(chunk, rest.size());
      EXPECT_TRUE(segmenter.Feed(rest.first(n)).ok());
      rest = rest.subspan(n);
    }
    EXPECT_TRUE(segmenter.Finish().ok());
    return collector;
  }

  static EngineModel* model_;
};

EngineModel* PocketSphinxTest::model_ = nullptr;

// The librivox clips and their reference transcripts, keyed by clip id.
std::map<std::string, std::string> LibrivoxReferences() {
  std::ifstream in(TestData() + "/librivox/transcription");
  std::map<std::string, std::string> refs;
  for (std::string line; std::getline(in, line);) {
    const auto open = line.rfind('(');
    const auto close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string text;
    for (const auto& w : lx::testing::Words(line.substr(0, open))) {
      if (w != "<s>" && w != "</s>") text += (text.empty() ? "" : " ") + w;
    }
    refs[line.substr(open + 1, close - open - 1)] = text;
  }
  return refs;
}

TEST(PocketSphinxModelFilesTest, FindsTheDebianModel) {
  auto files = FindPocketSphinxModelFiles(kDefaultPocketSphinxModelDir);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_THAT(files->acoustic_dir, HasSubstr("en-us/en-us"));
  EXPECT_THAT(files->language_model, HasSubstr("en-us.lm.bin"));
  EXPECT_THAT(files->dictionary, HasSubstr("cmudict-en-us.dict"));
}

TEST(PocketSphinxModelFilesTest, MissingFolderOrFilesAreNamed) {
  auto missing = LoadPocketSphinxModel("/nonexistent/model");
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/model does not exist"));

  const auto dir = std::filesystem::temp_directory_path() / "lx_model_without_dict";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(std::string(kDefaultPocketSphinxModelDir) + "/en-us.lm.bin",
                             dir / "en-us.lm.bin",
                             std::filesystem::copy_options::overwrite_existing);
  auto partial = LoadPocketSphinxModel(dir.string());
  EXPECT_EQ(partial.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(partial.status().message(),
              HasSubstr("lacks an acoustic model (a folder with mdef), a pronunciation "
                        "dictionary (*.dict) ("));
  std::filesystem::remove_all(dir);
}

TEST(PocketSphinxModelFilesTest, UnreadableModelIsUnavailable) {
  const auto dir = std::filesystem::temp_directory_path() / "lx_model_garbage";
  std::filesystem::create_directories(dir / "am");
  for (const char* name : {"am/mdef", "am/means", "words.dict", "words.lm.bin"}) {
    std::ofstream(dir / name) << "not a model\n";
  }
  auto loaded = LoadPocketSphinxModel(dir.string());
  EXPECT_EQ(loaded.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(loaded.status().message(), HasSubstr(dir.string()));
  std::filesystem::remove_all(dir);
}

TEST(PocketSphinxModelFilesTest, AVerifiedModelIsRememberedAndADamagedOneIsNot) {
  const auto cache = std::filesystem::temp_directory_path() / "lx_verified_models";
  std::filesystem::remove_all(cache);
  ASSERT_TRUE(LoadPocketSphinxModel(kDefaultPocketSphinxModelDir, {cache.string()}).ok());
  ASSERT_TRUE(LoadPocketSphinxModel(kDefaultPocketSphinxModelDir, {cache.string()}).ok());
  std::ifstream stamps(cache / "verified-pocketsphinx-models");
  std::vector<std::string> lines;
  for (std::string line; std::getline(stamps, line);) lines.push_back(line);
  EXPECT_EQ(lines.size(), 1u) << "the second load found the first one's stamp";

  const auto dir = std::filesystem::temp_directory_path() / "lx_model_damaged";
  std::filesystem::create_directories(dir / "am");
  for (const char* name : {"am/mdef", "am/means", "words.dict", "words.lm.bin"}) {
    std::ofstream(dir / name) << "not a model\n";
  }
  EXPECT_FALSE(LoadPocketSphinxModel(dir.string(), {cache.string()}).ok());
  EXPECT_FALSE(LoadPocketSphinxModel(dir.string(), {cache.string()}).ok())
      << "a damaged model is checked again, never remembered";
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(cache);
}

TEST_F(PocketSphinxTest, GoForwardTenMeters) {
  const Collector result = Recognize(ReadRaw(TestData() + "/goforward.raw"), 1600);
  EXPECT_EQ(result.Text(), "go forward ten meters");
  ASSERT_FALSE(result.finals.empty());
  const Final& final_caption = result.finals.front();
  ASSERT_EQ(final_caption.words.size(), 4u);
  for (const Word& w : final_caption.words) {
    EXPECT_LT(w.t0_s, w.t1_s);
    EXPECT_GE(w.conf, 0.0f);
    EXPECT_LE(w.conf, 1.0f);
  }
  EXPECT_NEAR(final_caption.words[0].t0_s, 0.46, 0.05);  // "go" starts about 0.46 s in
  EXPECT_FALSE(result.partials.empty());
  EXPECT_EQ(result.partials.front().segment_id, final_caption.segment_id);
}

TEST_F(PocketSphinxTest, LibrivoxWordErrorRateStaysWithinItsMeasuredBound) {
  size_t errors = 0;
  size_t words = 0;
  for (const auto& [clip, reference] : LibrivoxReferences()) {
    const std::string path = TestData() + "/librivox/" + clip + ".wav";
    const std::vector<float> audio = ReadAll(path);
    const Collector result = Recognize(audio, 1600);
    const auto ref_words = lx::testing::Words(reference);
    errors += lx::testing::WordErrors(ref_words, lx::testing::Words(result.Text()));
    words += ref_words.size();
    const double duration = audio.size() / 16000.0;
    double previous_end = 0;
    for (const Final& f : result.finals) {
      EXPECT_GE(f.t0_s, previous_end - 1e-9) << clip;
      EXPECT_LT(f.t0_s, f.t1_s) << clip;
      EXPECT_LE(f.t1_s, duration + 1e-9) << clip;
      previous_end = f.t1_s;
    }
    std::cout << clip << ": " << result.Text() << "\n";
  }
  ASSERT_EQ(words, 71u);
  const double wer = static_cast<double>(errors) / words;
  std::cout << "librivox WER " << wer << " (" << errors << "/" << words << ")\n";
  EXPECT_LE(wer, 0.37) << "measured 0.338 (24/71) with Debian's en-us model";
}

// A final revises its segment's stable prefix when it does not begin with the last one shown.
TEST_F(PocketSphinxTest, FinalsRarelyReviseTheStablePrefix) {
  size_t finals = 0;
  size_t revisions = 0;
  size_t stable_words = 0;
  for (const auto& [clip, reference] : LibrivoxReferences()) {
    const Collector result = Recognize(ReadAll(TestData() + "/librivox/" + clip + ".wav"), 1600);
    for (const Final& f : result.finals) {
      std::string stable;
      for (const Partial& p : result.partials) {
        if (p.segment_id == f.segment_id) stable = p.text.substr(0, p.stable_chars);
      }
      ++finals;
      stable_words += lx::testing::Words(stable).size();
      if (f.text.compare(0, stable.size(), stable) != 0) {
        ++revisions;
        ADD_FAILURE() << clip << ": stable '" << stable << "', final '" << f.text << "'";
      }
    }
  }
  EXPECT_GE(finals, 5u);
  EXPECT_EQ(revisions, 0u) << "measured none on these clips";
  // Stability must not come from never marking anything stable.
  EXPECT_GE(stable_words, 40u) << "of 71 words";
}

// Confidences are the words' lattice posteriors: in [0, 1], and telling words apart.
TEST_F(PocketSphinxTest, WordConfidencesAreLatticePosteriors) {
  const Collector result = Recognize(
      ReadAll(TestData() + "/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"), 1600);
  std::set<int> percents;
  size_t confident = 0;
  size_t words = 0;
  for (const Final& f : result.finals) {
    for (const Word& w : f.words) {
      ASSERT_GE(w.conf, 0.0f);
      ASSERT_LE(w.conf, 1.0f);
      percents.insert(static_cast<int>(w.conf * 100));
      confident += w.conf >= 0.5f ? 1 : 0;
      ++words;
    }
  }
  ASSERT_GE(words, 15u);
  EXPECT_GE(percents.size(), words / 2) << "confidences hardly differ";
  EXPECT_GE(confident, 2u);
  EXPECT_LT(confident, words);
}

TEST_F(PocketSphinxTest, ChunkSizeNeverChangesTheFinals) {
  const std::vector<float> audio =
      ReadAll(TestData() + "/librivox/sense_and_sensibility_01_austen_64kb-0870.wav");
  auto finals_of = [](const Collector& c) {
    std::vector<std::string> out;
    for (const Final& f : c.finals) {
      std::string line = f.text + " |";
      for (const Word& w : f.words) line += fmt::format(" {:.2f}-{:.2f}", w.t0_s, w.t1_s);
      out.push_back(line);
    }
    return out;
  };
  const auto reference = finals_of(Recognize(audio, 160));
  ASSERT_FALSE(reference.empty());
  EXPECT_EQ(finals_of(Recognize(audio, 1600)), reference);
  EXPECT_EQ(finals_of(Recognize(audio, 0)), reference);
}

}  // namespace
}  // namespace lx::asr
