// Probes whether PocketSphinx decoders may share one language model (Debian's 5prealpha), and
// what sharing would save: creates DECODERS decoders that each load their own language model
// ("own") or that all use one ngram_model_t read once ("shared": ngram_model_read once,
// ps_set_lm per decoder), prints the process's VmRSS after each, then decodes the WAV files on
// all decoders at once (one thread each, each starting at another file) and prints every
// transcript, so runs with and without sharing can be compared (bench/session_memory.py does,
// and runs this under valgrind's helgrind).
//
// Usage: shared_lm_probe own|shared DECODERS ROUNDS file.wav...   (16 kHz mono 16-bit WAV)
// A diagnostic, not part of loquilex: the adapter keeps one language model per decoder.
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr char kModel[] = "/usr/share/pocketsphinx/model/en-us";

long RssKb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// The adapter's configuration (src/asr/pocketsphinx_engine.cc), with or without -lm.
cmd_ln_t* Config(bool with_lm) {
  const std::string hmm = std::string(kModel) + "/en-us";
  const std::string lm = std::string(kModel) + "/en-us.lm.bin";
  const std::string dict = std::string(kModel) + "/cmudict-en-us.dict";
  if (with_lm) {
    return cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(), "-dict",
                       dict.c_str(), "-vad_postspeech", "20", "-fwdflat", "no", "-bestpath", "no",
                       nullptr);
  }
  return cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-dict", dict.c_str(),
                     "-vad_postspeech", "20", "-fwdflat", "no", "-bestpath", "no", nullptr);
}

std::vector<int16_t> ReadWav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 44) {
    std::cerr << path << ": not a WAV file\n";
    std::exit(2);
  }
  std::vector<int16_t> samples((bytes.size() - 44) / 2);
  std::memcpy(samples.data(), bytes.data() + 44, samples.size() * 2);
  return samples;
}

// Decodes each file as one utterance, in 100 ms blocks, as the adapter feeds audio.
std::string Decode(ps_decoder_t* decoder, const std::vector<int16_t>& audio) {
  ps_start_utt(decoder);
  for (size_t at = 0; at < audio.size(); at += 1600) {
    const size_t n = std::min<size_t>(1600, audio.size() - at);
    ps_process_raw(decoder, audio.data() + at, n, FALSE, FALSE);
  }
  ps_end_utt(decoder);
  int32 score = 0;
  const char* hyp = ps_get_hyp(decoder, &score);
  return hyp == nullptr ? "" : hyp;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || (std::strcmp(argv[1], "own") != 0 && std::strcmp(argv[1], "shared") != 0)) {
    std::cerr << "usage: shared_lm_probe own|shared DECODERS ROUNDS file.wav...\n";
    return 2;
  }
  const bool shared = std::strcmp(argv[1], "shared") == 0;
  const int count = std::atoi(argv[2]);
  const int rounds = std::atoi(argv[3]);
  std::vector<std::vector<int16_t>> files;
  for (int i = 4; i < argc; ++i) files.push_back(ReadWav(argv[i]));
  err_set_logfp(nullptr);

  std::printf("rss_kb before 0 %ld\n", RssKb());
  std::vector<ps_decoder_t*> decoders;
  ngram_model_t* lm = nullptr;
  for (int i = 0; i < count; ++i) {
    cmd_ln_t* config = Config(!shared);
    ps_decoder_t* decoder = ps_init(config);
    if (decoder == nullptr) return 3;
    if (shared) {
      if (lm == nullptr) {
        lm = ngram_model_read(config, (std::string(kModel) + "/en-us.lm.bin").c_str(), NGRAM_AUTO,
                              ps_get_logmath(decoder));
        if (lm == nullptr) return 4;
      }
      if (ps_set_lm(decoder, "_default", lm) < 0 || ps_set_search(decoder, "_default") < 0) {
        return 5;
      }
    }
    cmd_ln_free_r(config);
    decoders.push_back(decoder);
    std::printf("rss_kb decoders %d %ld\n", i + 1, RssKb());
  }

  std::vector<std::vector<std::string>> results(count);
  std::vector<std::thread> threads;
  for (int d = 0; d < count; ++d) {
    threads.emplace_back([&, d] {
      for (int r = 0; r < rounds; ++r) {
        for (size_t k = 0; k < files.size(); ++k) {
          const size_t f = (k + static_cast<size_t>(d)) % files.size();  // another file each
          results[d].push_back(std::to_string(f) + "\t" + Decode(decoders[d], files[f]));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int d = 0; d < count; ++d) {
    for (const auto& line : results[d]) std::printf("hyp %d\t%s\n", d, line.c_str());
  }
  for (ps_decoder_t* decoder : decoders) ps_free(decoder);
  if (lm != nullptr) ngram_model_free(lm);
  return 0;
}
