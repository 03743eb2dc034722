// A load generator for `loquilex serve`: many WebSocket viewers of one session on one thread.
//
//   lx_bench_viewers --port P --session SID --viewers N [--storm-after-s S] [--timeout-s T]
//
// Opens N viewers of /ws/SID and reads every event until the session's `status stopped`. Each
// viewer records the seq of every asr.final it gets and its delivery lag: the receive time minus
// the event's t_mono_ns (the server's monotonic clock, the same CLOCK_MONOTONIC as ours). With
// --storm-after-s, every viewer but one (the control, which stays connected) drops its socket
// S seconds after the first final and reconnects at once with ?resume_from=<its last seq>; a
// viewer has caught up when it gets an event with a seq at least the highest one any viewer had
// when the storm began. Prints one JSON object: connect time, lag quantiles, catch-up time, and
// for each viewer whether its finals are exactly the control's (no loss, no duplicate, in order).
//
// Single-threaded so that the client's own cost stays small and predictable; text frames are
// scanned for the few fields needed rather than parsed as JSON.

// Boost 1.74's asio needs <utility> before its headers under -std=c++20.
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string session;
  int viewers = 1;
  double storm_after_s = -1;  // < 0: no storm
  double timeout_s = 600;
};

// The value of the first `"key":` in `text` as an unsigned integer, or nullopt.
std::optional<uint64_t> FindUnsigned(std::string_view text, std::string_view quoted_key) {
  const size_t at = text.find(quoted_key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = text.data() + at + quoted_key.size();
  uint64_t value = 0;
  if (std::from_chars(begin, text.data() + text.size(), value).ec != std::errc()) {
    return std::nullopt;
  }
  return value;
}

std::string_view TypeOf(std::string_view text) {
  constexpr std::string_view kKey = R"("t":")";
  const size_t at = text.find(kKey);
  if (at == std::string_view::npos) return {};
  const std::string_view rest = text.substr(at + kKey.size());
  return rest.substr(0, rest.find('"'));
}

class Run;

class Viewer : public std::enable_shared_from_this<Viewer> {
 public:
  Viewer(net::io_context& io, Run& run, int index) : io_(io), run_(run), index_(index) {}
  void Connect(std::optional<uint64_t> resume_from);
  void Drop();  // closes the socket without a close frame, as a dropped network would

  int index() const { return index_; }
  uint64_t last_seq() const { return last_seq_; }
  bool done() const { return done_; }
  const std::vector<uint64_t>& final_seqs() const { return final_seqs_; }
  const std::vector<int64_t>& final_lags_ns() const { return final_lags_ns_; }
  int64_t connected_ns() const { return connected_ns_; }
  int64_t caught_up_ns() const { return caught_up_ns_; }
  int snapshots() const { return snapshots_; }
  int reconnects() const { return reconnects_; }
  std::string error() const { return error_; }
  void set_catch_up_target(uint64_t seq) { catch_up_target_ = seq; }

 private:
  void OnConnect(beast::error_code ec);
  void OnHandshake(beast::error_code ec);
  void DoRead();
  void OnRead(beast::error_code ec, size_t bytes);
  void OnMessage(std::string_view text);
  void Fail(std::string_view what, beast::error_code ec);

  net::io_context& io_;
  Run& run_;
  const int index_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  std::vector<std::unique_ptr<websocket::stream<beast::tcp_stream>>> retired_;  // dropped ones
  beast::flat_buffer buffer_;
  std::string target_;
  uint64_t generation_ = 0;  // bumped by Drop: reads of the old socket are ignored
  uint64_t last_seq_ = 0;
  uint64_t catch_up_target_ = 0;
  std::vector<uint64_t> final_seqs_;
  std::vector<int64_t> final_lags_ns_;
  int64_t connect_started_ns_ = 0;
  int64_t connected_ns_ = -1;  // first connection: handshake done minus its start
  int64_t caught_up_ns_ = -1;  // monotonic time the catch-up target was reached
  int snapshots_ = 0;
  int reconnects_ = 0;
  bool done_ = false;
  std::string error_;
};

class Run {
 public:
  Run(net::io_context& io, Options options) : io_(io), options_(std::move(options)), timer_(io) {}

  void Start() {
    for (int i = 0; i < options_.viewers; ++i) {
      viewers_.push_back(std::make_shared<Viewer>(io_, *this, i));
    }
    for (const auto& viewer : viewers_) viewer->Connect(std::nullopt);
    deadline_ns_ = NowNs() + static_cast<int64_t>(options_.timeout_s * 1e9);
    Tick();
  }

  const Options& options() const { return options_; }
  tcp::endpoint endpoint() const { return {net::ip::make_address(options_.host), options_.port}; }

  void OnFirstFinal() {
    if (first_final_ns_ >= 0) return;
    first_final_ns_ = NowNs();
  }
  void OnViewerDone() {
    if (std::all_of(viewers_.begin(), viewers_.end(), [](const auto& v) { return v->done(); })) {
      timer_.cancel();
      finished_ = true;
    }
  }

  nlohmann::json Report() const;

 private:
  // Checks for the storm and the deadline every 10 ms: a load generator, not the product.
  void Tick() {
    if (finished_) return;
    const int64_t now = NowNs();
    if (now > deadline_ns_) {
      timed_out_ = true;
      io_.stop();
      return;
    }
    if (options_.storm_after_s >= 0 && storm_ns_ < 0 && first_final_ns_ >= 0 &&
        now - first_final_ns_ >= static_cast<int64_t>(options_.storm_after_s * 1e9)) {
      Storm();
    }
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([this](beast::error_code ec) {
      if (!ec) Tick();
    });
  }

  void Storm() {
    storm_ns_ = NowNs();
    uint64_t target = 0;
    for (const auto& viewer : viewers_) target = std::max(target, viewer->last_seq());
    storm_target_seq_ = target;
    for (size_t i = 1; i < viewers_.size(); ++i) {  // viewer 0 is the control
      if (viewers_[i]->done()) continue;
      viewers_[i]->set_catch_up_target(target);
      viewers_[i]->Drop();
      viewers_[i]->Connect(viewers_[i]->last_seq());
    }
  }

  net::io_context& io_;
  const Options options_;
  net::steady_timer timer_;
  std::vector<std::shared_ptr<Viewer>> viewers_;
  int64_t deadline_ns_ = 0;
  int64_t first_final_ns_ = -1;
  int64_t storm_ns_ = -1;
  uint64_t storm_target_seq_ = 0;
  bool finished_ = false;
  bool timed_out_ = false;
};

void Viewer::Connect(std::optional<uint64_t> resume_from) {
  ++generation_;
  if (resume_from) ++reconnects_;
  target_ = "/ws/" + run_.options().session;
  if (resume_from) target_ += "?resume_from=" + std::to_string(*resume_from);
  ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(io_);
  ws_->read_message_max(1 << 20);
  connect_started_ns_ = NowNs();
  beast::get_lowest_layer(*ws_).async_connect(
      run_.endpoint(), [self = shared_from_this(), generation = generation_](beast::error_code ec) {
        if (generation == self->generation_) self->OnConnect(ec);
      });
}

void Viewer::Drop() {
  ++generation_;
  beast::error_code ignored;
  beast::get_lowest_layer(*ws_).socket().close(ignored);
  // Its pending operations complete with errors the generation check ignores; the stream must
  // outlive them.
  retired_.push_back(std::move(ws_));
}

void Viewer::OnConnect(beast::error_code ec) {
  if (ec) return Fail("connect", ec);
  ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  ws_->async_handshake(run_.options().host, target_,
                       [self = shared_from_this(), generation = generation_](beast::error_code e) {
                         if (generation == self->generation_) self->OnHandshake(e);
                       });
}

void Viewer::OnHandshake(beast::error_code ec) {
  if (ec) return Fail("handshake", ec);
  if (connected_ns_ < 0) connected_ns_ = NowNs() - connect_started_ns_;
  DoRead();
}

void Viewer::DoRead() {
  ws_->async_read(buffer_, [self = shared_from_this(), generation = generation_](
                               beast::error_code ec, size_t bytes) {
    if (generation == self->generation_) self->OnRead(ec, bytes);
  });
}

void Viewer::OnRead(beast::error_code ec, size_t /*bytes*/) {
  if (ec) {
    if (!done_) Fail("read", ec);
    return;
  }
  const auto data = buffer_.cdata();
  OnMessage(std::string_view(static_cast<const char*>(data.data()), data.size()));
  buffer_.consume(buffer_.size());
  if (done_) {
    ws_->async_close(websocket::close_code::normal, [self = shared_from_this()](auto) {});
    run_.OnViewerDone();
    return;
  }
  DoRead();
}

void Viewer::OnMessage(std::string_view text) {
  const int64_t received = NowNs();
  const std::string_view type = TypeOf(text);
  if (type == "session.snapshot") ++snapshots_;
  if (type == "session.welcome" || type == "server.hb" || type == "session.snapshot") {
    // These carry the session's seq but are not events of their own; a snapshot's seq is where
    // the live events resume.
    if (type == "session.snapshot") last_seq_ = FindUnsigned(text, R"("seq":)").value_or(0);
    return;
  }
  const uint64_t seq = FindUnsigned(text, R"("seq":)").value_or(0);
  last_seq_ = seq;
  if (catch_up_target_ > 0 && caught_up_ns_ < 0 && seq >= catch_up_target_) {
    caught_up_ns_ = received;
  }
  if (type == "asr.final") {
    final_seqs_.push_back(seq);
    const auto sent = FindUnsigned(text, R"("t_mono_ns":)");
    if (sent) final_lags_ns_.push_back(received - static_cast<int64_t>(*sent));
    run_.OnFirstFinal();
  } else if (type == "status" && text.find(R"("state":"stopped")") != std::string_view::npos) {
    done_ = true;
  }
}

void Viewer::Fail(std::string_view what, beast::error_code ec) {
  if (error_.empty()) error_ = std::string(what) + ": " + ec.message();
  done_ = true;
  run_.OnViewerDone();
}

double Quantile(std::vector<int64_t> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto at = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return static_cast<double>(values[std::min(at, values.size() - 1)]) / 1e6;
}

nlohmann::json Run::Report() const {
  std::vector<int64_t> lags;
  std::vector<int64_t> connects;
  std::vector<int64_t> catch_ups;
  int matching = 0;
  int errors = 0;
  int snapshots = 0;
  int reconnected = 0;
  std::string first_error;
  const auto& control = viewers_.front()->final_seqs();
  for (const auto& viewer : viewers_) {
    lags.insert(lags.end(), viewer->final_lags_ns().begin(), viewer->final_lags_ns().end());
    if (viewer->connected_ns() >= 0) connects.push_back(viewer->connected_ns());
    if (viewer->caught_up_ns() >= 0) catch_ups.push_back(viewer->caught_up_ns() - storm_ns_);
    if (viewer->final_seqs() == control) ++matching;
    if (!viewer->error().empty()) {
      ++errors;
      if (first_error.empty()) first_error = viewer->error();
    }
    snapshots += viewer->snapshots();
    reconnected += viewer->reconnects() > 0 ? 1 : 0;
  }
  nlohmann::json report = {
      {"viewers", viewers_.size()},
      {"timed_out", timed_out_},
      {"errors", errors},
      {"first_error", first_error},
      {"finals_per_viewer", control.size()},
      {"viewers_with_the_controls_finals", matching},
      {"connect_ms", {{"p50", Quantile(connects, 0.5)}, {"max", Quantile(connects, 1.0)}}},
      {"final_lag_ms",
       {{"count", lags.size()},
        {"p50", Quantile(lags, 0.5)},
        {"p99", Quantile(lags, 0.99)},
        {"max", Quantile(lags, 1.0)}}},
  };
  if (storm_ns_ >= 0) {
    report["storm"] = {
        {"reconnected", reconnected},
        {"target_seq", storm_target_seq_},
        {"caught_up", catch_ups.size()},
        {"snapshots", snapshots},
        {"catch_up_ms",
         {{"p50", Quantile(catch_ups, 0.5)},
          {"p99", Quantile(catch_ups, 0.99)},
          {"max", Quantile(catch_ups, 1.0)}}},
    };
  }
  return report;
}

int Usage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " --port P --session SID [--host 127.0.0.1] [--viewers 1]"
               " [--storm-after-s S] [--timeout-s 600]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--host") {
      options.host = value;
    } else if (flag == "--port") {
      options.port = static_cast<uint16_t>(std::atoi(value));
    } else if (flag == "--session") {
      options.session = value;
    } else if (flag == "--viewers") {
      options.viewers = std::atoi(value);
    } else if (flag == "--storm-after-s") {
      options.storm_after_s = std::atof(value);
    } else if (flag == "--timeout-s") {
      options.timeout_s = std::atof(value);
    } else {
      return Usage(argv[0]);
    }
  }
  if (argc % 2 == 0 || options.port == 0 || options.session.empty() || options.viewers < 1) {
    return Usage(argv[0]);
  }
  net::io_context io;
  Run run(io, options);
  run.Start();
  io.run();
  std::cout << run.Report().dump() << "\n";
  return 0;
}
