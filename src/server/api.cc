#include "server/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "asr/pocketsphinx_engine.h"
#include "audio/audio_file_writer.h"
#include "base/logging.h"
#include "events/json_codec.h"
#include "mt/translator.h"
#include "session/translation_worker.h"
#include "store/caption_writers.h"
#include "store/session_log.h"

namespace lx::server {
namespace {

using events::Json;
using session::SessionInfo;

constexpr char kInternalError[] = "internal error";

HttpResponse JsonResponse(int status, const Json& body) {
  return HttpResponse{
      status, "application/json", body.dump(-1, ' ', false, Json::error_handler_t::replace), {}};
}

HttpResponse Error(int status, std::string_view detail) {
  return JsonResponse(status, Json{{"detail", detail}});
}

// The HTTP status a Status from the session layer maps to.
int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kCorruption:
      return 422;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kFailedPrecondition:
      return 409;
    case Status::Code::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

// A 500 that says only `detail` and an error id; `what` goes to the log with the same id.
HttpResponse InternalError(const HttpRequest& request, std::string_view detail,
                           std::string_view what) {
  const std::string error_id = NewLogId();
  LogWith(spdlog::level::err, {{"request_id", request.request_id}, {"error_id", error_id}},
          "{} {} failed: {}", request.method, request.path, what);
  return JsonResponse(500, Json{{"detail", detail}, {"error_id", error_id}});
}

// The answer for a failed Status: its message for the caller's mistakes and for unavailable
// resources, a generic 500 for internal failures (whose message may hold internals).
HttpResponse StatusResponse(const HttpRequest& request, const Status& status) {
  const int code = HttpStatusOf(status);
  if (code == 500) return InternalError(request, kInternalError, status.ToString());
  return Error(code, status.message());
}

int64_t WallNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t MonoNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// Matches `path` against `pattern`; {name} segments capture into *params.
bool Matches(std::string_view pattern, std::string_view path,
             std::map<std::string, std::string>* params) {
  const auto want = Split(pattern);
  const auto have = Split(path);
  if (want.size() != have.size()) return false;
  std::map<std::string, std::string> captured;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].size() > 2 && want[i].front() == '{' && want[i].back() == '}') {
      captured.emplace(std::string(want[i].substr(1, want[i].size() - 2)), std::string(have[i]));
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  *params = std::move(captured);
  return true;
}

// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
bool SameToken(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Json SessionSummaryJson(const SessionInfo& info) {
  Json json{{"session_id", info.id},
            {"name", info.config.name},
            {"status", events::SessionStateName(info.state)},
            {"started_at", events::IsoUtc(info.started_at_wall_ns)},
            {"audio_seconds", info.audio_seconds}};
  if (!info.error.empty()) json["error"] = info.error;
  return json;
}

Json SnapshotJson(const SessionInfo& info, const HubSummary& summary) {
  Json finals = Json::array();
  for (const asr::Final& f : summary.recent_finals) finals.push_back(events::FinalToJson(f));
  Json snapshot{{"sid", info.id},
                {"name", info.config.name},
                {"config", session::SessionConfigToJson(info.config)},
                {"status", events::SessionStateName(info.state)}};
  if (!info.error.empty()) snapshot["error"] = info.error;
  if (!info.audio_error.empty()) snapshot["save_audio_error"] = info.audio_error;
  snapshot["started_at"] = events::IsoUtc(info.started_at_wall_ns);
  snapshot["audio_seconds"] = info.audio_seconds;
  snapshot["recent_finals"] = std::move(finals);
  snapshot["live_partial"] =
      summary.live_partial ? events::PartialToJson(*summary.live_partial) : Json(nullptr);
  snapshot["last_seq"] = summary.last_seq;
  return snapshot;
}

Json DeliveryJson(const DeliveryStats& delivery, const HubSummary& summary) {
  return Json{{"clients", delivery.viewers},
              {"last_seq", summary.last_seq},
              {"queued_frames", delivery.queued_frames},
              {"max_queued_frames", delivery.max_queued_frames},
              {"queued_bytes", delivery.queued_bytes},
              {"max_queued_bytes", delivery.max_queued_bytes},
              {"replay_events", delivery.replay_events},
              {"replay_bytes", delivery.replay_bytes},
              {"replay_oldest_seq", delivery.replay_oldest_seq},
              {"sent_frames", delivery.sent_frames},
              {"dropped_frames", delivery.dropped_frames}};
}

// 429 with the wait in the body (retry_after_ms) and in Retry-After (seconds, rounded up).
HttpResponse TooBusy(std::string_view detail, int retry_after_ms) {
  HttpResponse response =
      JsonResponse(429, Json{{"detail", detail}, {"retry_after_ms", retry_after_ms}});
  response.headers["Retry-After"] = std::to_string((retry_after_ms + 999) / 1000);
  return response;
}

std::string_view ContentTypeOf(store::CaptionFormat format) {
  switch (format) {
    case store::CaptionFormat::kVtt:
      return "text/vtt; charset=utf-8";
    case store::CaptionFormat::kSrt:
      return "application/x-subrip; charset=utf-8";
    case store::CaptionFormat::kTxt:
      return "text/plain; charset=utf-8";
    case store::CaptionFormat::kJson:
      return "application/json";
  }
  return "application/octet-stream";
}

// The session's saved audio as a download: a WAV copy is complete even while it is written.
HttpResponse SavedAudio(const HttpRequest& request, const session::Session& session) {
  const SessionInfo info = session.Info();
  if (info.audio_path.empty()) {
    return Error(404, "session " + info.id + " saves no audio (save_audio is off)");
  }
  auto bytes = audio::ReadAudioFileSoFar(info.audio_path);
  if (bytes.status().code() == Status::Code::kNotFound) {
    return Error(404, "the audio of session " + info.id + " is no longer on disk");
  }
  if (!bytes.ok()) return InternalError(request, kInternalError, bytes.status().ToString());
  const bool flac = info.config.save_audio == session::SaveAudio::kFlac;
  return HttpResponse{200,
                      flac ? "audio/flac" : "audio/wav",
                      std::move(bytes).value(),
                      {{"Content-Disposition",
                        "attachment; filename=\"" + info.id + (flac ? ".flac" : ".wav") + "\""}}};
}

// The `lang` an export asks for: "" for the source language, kBothLanguages, or the session's
// translation target. NotFound for a language the session has not, InvalidArgument for "both"
// in another format than vtt.
constexpr char kBothLanguages[] = "both";
constexpr char kSourceLanguage[] = "eng";

Result<std::string> ExportLanguage(const std::string& asked, const SessionInfo& info,
                                   store::CaptionFormat format) {
  const std::string lang = asked == kBothLanguages ? asked : mt::NormalizeLanguageCode(asked);
  if (lang.empty() || lang == kSourceLanguage) return std::string();
  const bool translated = info.config.mt.enabled;
  if (lang == kBothLanguages) {
    if (!translated) return Status::NotFound("session " + info.id + " is not translated");
    if (format != store::CaptionFormat::kVtt) {
      return Status::InvalidArgument("lang=both is a bilingual WebVTT: use format=vtt");
    }
    return lang;
  }
  if (translated && lang == info.config.mt.target) return lang;
  return Status::NotFound("session " + info.id + " has no captions in \"" + asked + "\"; it has " +
                          kSourceLanguage +
                          (translated ? ", " + info.config.mt.target + " and both" : ""));
}

std::string TranslationUnavailable(const session::SessionManager& sessions) {
  const std::string& why = sessions.translation_unavailable();
  return why.empty() ? "translation is not available" : "translation is not available: " + why;
}

// Prometheus text exposition: "name{labels} value" lines with HELP/TYPE headers.
class PrometheusText {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    out_ << name;
    if (!labels.empty()) out_ << '{' << labels << '}';
    out_ << ' ' << value << '\n';
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  const auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
  const auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Result<std::optional<uint64_t>> ResumeFromQuery(const HttpRequest& request) {
  const auto text = request.Query("resume_from");
  if (!text) return std::optional<uint64_t>();
  uint64_t seq = 0;
  const char* end = text->data() + text->size();
  const auto [stop, ec] = std::from_chars(text->data(), end, seq);
  if (text->empty() || ec != std::errc() || stop != end) {
    return Status::InvalidArgument("resume_from must be a non-negative integer (a seq)");
  }
  return std::optional<uint64_t>(seq);
}

HttpResponse Router::Dispatch(const HttpRequest& request) const {
  bool path_known = false;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!Matches(route.pattern, request.path, &params)) continue;
    path_known = true;
    if (route.method != request.method) continue;
    try {
      return route.handler(request, params);
    } catch (const std::exception& e) {
      return InternalError(request, route.error_detail, e.what());
    } catch (...) {
      return InternalError(request, route.error_detail, "unknown exception");
    }
  }
  if (path_known) return Error(405, "method " + request.method + " not allowed on this path");
  return Error(404, "no such route: " + request.path);
}

bool Router::MayBlock(const HttpRequest& request) const {
  std::map<std::string, std::string> params;
  return std::any_of(routes_.begin(), routes_.end(), [&](const Route& route) {
    return route.may_block && route.method == request.method &&
           Matches(route.pattern, request.path, &params);
  });
}

Api::Api(ApiOptions options, session::SessionManager& sessions, HubRegistry& hubs)
    : options_(std::move(options)),
      sessions_(sessions),
      hubs_(hubs),
      router_(Routes()),
      worker_(options_.worker_queue_limit_requests) {}

bool Api::Authorized(const HttpRequest& request) const {
  if (options_.token.empty()) return true;
  const std::string header = request.Header("authorization");
  const std::string bearer = header.rfind("Bearer ", 0) == 0 ? header.substr(7) : "";
  const std::string presented = bearer.empty() ? request.Query("token").value_or("") : bearer;
  return SameToken(presented, options_.token);
}

void Api::HandleAsync(HttpRequest request, const Responder& respond) const {
  if (!Authorized(request)) return respond(Error(401, "missing or wrong token"));
  if (!router_.MayBlock(request)) return respond(router_.Dispatch(request));
  const Status queued = worker_.Submit([this, request = std::move(request), respond] {
    const ScopedLogFields fields({{"request_id", request.request_id}});
    respond(router_.Dispatch(request));
  });
  if (!queued.ok()) respond(Error(503, queued.message()));
}

HttpResponse Api::Handle(const HttpRequest& request) const {
  if (!Authorized(request)) return Error(401, "missing or wrong token");
  return router_.Dispatch(request);
}

UpgradeDecision Api::CheckUpgrade(const HttpRequest& request) const {
  std::map<std::string, std::string> params;
  const bool events = Matches("/ws/{sid}", request.path, &params);
  if (!events && !Matches("/sessions/{sid}/audio", request.path, &params)) {
    return {Error(404, "no WebSocket at " + request.path)};
  }
  if (!Authorized(request)) return {Error(401, "missing or wrong token")};
  const std::string origin = request.Header("origin");
  const auto& allowed = options_.allowed_origins;
  if (!origin.empty() && origin != options_.public_origin &&
      std::find(allowed.begin(), allowed.end(), origin) == allowed.end()) {
    return {Error(403, "origin " + origin + " is not allowed")};
  }
  if (sessions_.Get(params["sid"]) == nullptr || hubs_.Find(params["sid"]) == nullptr) {
    return {Error(404, "no session " + params["sid"])};
  }
  if (events) {
    const auto resume_from = ResumeFromQuery(request);
    if (!resume_from.ok()) return {Error(400, resume_from.status().message())};
  }
  return {};
}

std::string Api::Welcome(const std::string& session_id, const HubSummary& summary,
                         const JoinPlan& plan) const {
  const auto session = sessions_.Get(session_id);
  Json data{{"snapshot", session ? SnapshotJson(session->Info(), summary) : Json(nullptr)},
            {"limits",
             {{"max_audio_frame_bytes", kMaxAudioFrameBytes},
              {"max_body_bytes", options_.max_body_bytes}}},
            {"heartbeat_interval_ms", options_.heartbeat_interval_ms}};
  uint64_t seq = summary.last_seq;
  if (plan.resume_from) {
    data["resume"] = plan.snapshot ? Json{{"from", *plan.resume_from}, {"snapshot", true}}
                                   : Json{{"from", *plan.resume_from}, {"replayed", plan.replayed}};
    if (!plan.snapshot) seq = *plan.resume_from;  // the replayed events follow it
  }
  return events::EncodeEnvelope("session.welcome", session_id, seq, WallNowNs(), MonoNowNs(), data);
}

std::string Api::SnapshotEnvelope(const std::string& session_id, const HubSummary& summary) const {
  const auto session = sessions_.Get(session_id);
  const Json data = session ? SnapshotJson(session->Info(), summary) : Json::object();
  return events::EncodeEnvelope("session.snapshot", session_id, summary.last_seq, WallNowNs(),
                                MonoNowNs(), data);
}

Status Api::PushAudio(const std::string& session_id, std::span<const unsigned char> frame) const {
  const auto session = sessions_.Get(session_id);
  if (session == nullptr) return Status::NotFound("no session " + session_id);
  if (session->Info().config.source.type != session::SourceConfig::Type::kPush) {
    return Status::InvalidArgument("this session does not take pushed audio");
  }
  if (session->state() == events::SessionState::kPaused) {
    if (auto hub = hubs_.Find(session_id)) {
      hub->Publish(events::Event{events::StatusChange{events::SessionState::kPaused,
                                                      "audio frame refused: the session is paused"},
                                 WallNowNs(), MonoNowNs()});
    }
    return Status::FailedPrecondition("the session is paused");
  }
  return session->Push(frame);
}

std::vector<Route> Api::Routes() const {
  using Params = std::map<std::string, std::string>;
  // Finds the session named in the path, or answers 404.
  auto with_session = [this](auto body) {
    return [this, body](const HttpRequest& request, const Params& params) -> HttpResponse {
      const auto session = sessions_.Get(params.at("sid"));
      if (session == nullptr) return Error(404, "no session " + params.at("sid"));
      return body(request, *session);
    };
  };
  // A lifecycle action: 200 with the new status, or the error's status.
  auto action = [with_session](Status (session::Session::*act)()) {
    return with_session([act](const HttpRequest& request, session::Session& session) {
      const Status status = (session.*act)();
      if (!status.ok()) return StatusResponse(request, status);
      return JsonResponse(200, Json{{"session_id", session.id()},
                                    {"status", events::SessionStateName(session.state())}});
    });
  };

  std::vector<Route> routes;
  routes.push_back({"GET", "/health", kInternalError, [](const HttpRequest&, const Params&) {
                      return JsonResponse(200, Json{{"status", "ok"}});
                    }});
  // Creating a session opens its source and may load a model (about a second).
  routes.push_back(
      {"POST", "/sessions", kInternalError,
       [this](const HttpRequest& request, const Params&) { return CreateSession(request); },
       /*may_block=*/true});
  routes.push_back({"GET", "/sessions", kInternalError, [this](const HttpRequest&, const Params&) {
                      Json list = Json::array();
                      for (const auto& s : sessions_.List()) {
                        list.push_back(SessionSummaryJson(s->Info()));
                      }
                      return JsonResponse(200, Json{{"sessions", std::move(list)}});
                    }});
  routes.push_back({"GET", "/sessions/{sid}", kInternalError,
                    with_session([](const HttpRequest&, session::Session& s) {
                      return JsonResponse(200, SessionSummaryJson(s.Info()));
                    })});
  routes.push_back(
      {"DELETE", "/sessions/{sid}", kInternalError,
       with_session([](const HttpRequest&, session::Session& s) {
         s.Stop();
         return JsonResponse(
             200, Json{{"session_id", s.id()}, {"status", events::SessionStateName(s.state())}});
       })});
  routes.push_back(
      {"POST", "/sessions/{sid}/pause", kInternalError, action(&session::Session::Pause)});
  routes.push_back(
      {"POST", "/sessions/{sid}/resume", kInternalError, action(&session::Session::Resume)});
  routes.push_back(
      {"POST", "/sessions/{sid}/finalize", kInternalError, action(&session::Session::Finalize)});
  routes.push_back({"GET", "/sessions/{sid}/snapshot", "snapshot error",
                    with_session([this](const HttpRequest&, session::Session& s) {
                      const auto hub = hubs_.Find(s.id());
                      return JsonResponse(
                          200, SnapshotJson(s.Info(), hub ? hub->Summary() : HubSummary{}));
                    })});
  routes.push_back({"GET", "/sessions/{sid}/metrics", "metrics error",
                    with_session([this](const HttpRequest&, session::Session& s) {
                      return SessionMetrics(s);
                    })});
  routes.push_back({"GET", "/sessions/{sid}/export", kInternalError,
                    with_session([this](const HttpRequest& request, session::Session& s) {
                      return Export(request, s);
                    }),
                    /*may_block=*/true});  // reads the whole finals log
  routes.push_back({"GET", "/sessions/{sid}/audio", kInternalError,
                    with_session([](const HttpRequest& request, session::Session& s) {
                      return SavedAudio(request, s);
                    }),
                    /*may_block=*/true});  // reads the whole audio file
  routes.push_back({"GET", "/metrics", "metrics error",
                    [this](const HttpRequest&, const Params&) { return ServerMetrics(); }});
  routes.push_back({"GET", "/models/asr", kInternalError,
                    [](const HttpRequest&, const Params&) { return AsrModels(); }});
  // Both may scan the installed pairs on disk: a few small files.
  routes.push_back({"GET", "/languages/mt", kInternalError,
                    [this](const HttpRequest&, const Params&) { return TranslationLanguages(); },
                    true});
  routes.push_back({"GET", "/models/mt", kInternalError,
                    [this](const HttpRequest&, const Params&) { return TranslationModels(); },
                    true});
  return routes;
}

HttpResponse Api::CreateSession(const HttpRequest& request) const {
  if (request.Header("content-type").rfind("application/json", 0) != 0) {
    return Error(415, "send the session as application/json");
  }
  const Json body = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return Error(400, "the body is not valid JSON");
  // Creates run one at a time on the worker thread, so the count cannot race another create.
  if (ActiveSessions() >= options_.max_sessions) {
    return TooBusy("too many sessions (limit " + std::to_string(options_.max_sessions) + ")",
                   options_.retry_after_ms);
  }
  auto config = session::SessionConfigFromJson(body);
  if (!config.ok()) return Error(422, config.status().message());
  auto created = sessions_.Create(config.value());
  if (!created.ok()) {
    const Status& status = created.status();
    // A missing file, device or model is a mistake in the body, not a missing route.
    if (status.code() == Status::Code::kNotFound) return Error(422, status.message());
    return StatusResponse(request, status);
  }
  const std::string id = created.value()->id();
  LogWith(spdlog::level::info, {{"request_id", request.request_id}, {"session_id", id}},
          "session created");
  std::string ws_origin = options_.public_origin;
  if (ws_origin.rfind("http", 0) == 0) ws_origin.replace(0, 4, "ws");
  return JsonResponse(201, Json{{"session_id", id}, {"ws_url", ws_origin + "/ws/" + id}});
}

size_t Api::ActiveSessions() const {
  const auto sessions = sessions_.List();
  return static_cast<size_t>(std::count_if(sessions.begin(), sessions.end(), [](const auto& s) {
    const auto state = s->state();
    return state != events::SessionState::kStopped && state != events::SessionState::kError;
  }));
}

HttpResponse Api::SessionMetrics(const session::Session& session) const {
  const SessionInfo info = session.Info();
  const auto hub = hubs_.Find(session.id());
  const HubSummary summary = hub ? hub->Summary() : HubSummary{};
  Json json{{"session_id", info.id},
            {"status", events::SessionStateName(info.state)},
            {"audio_seconds", info.audio_seconds},
            {"real_time_factor", info.metrics.RealTimeFactor()},
            {"asr", events::StreamMetricsToJson(info.metrics)},
            {"overload",
             {{"lag_s", info.overload.lag_s},
              {"max_lag_s", info.overload.max_lag_s},
              {"overloaded", info.overload.overloaded},
              {"overloads", info.overload.overloads},
              {"dropped_audio_s", info.overload.dropped_audio_s}}},
            {"delivery", DeliveryJson(hub ? hub->Delivery() : DeliveryStats{}, summary)}};
  if (const auto translation = session.Translation()) {
    json["mt"] = session::TranslationMetricsToJson(*translation);
  }
  return JsonResponse(200, json);
}

HttpResponse Api::ServerMetrics() const {
  PrometheusText text;
  const auto sessions = sessions_.List();
  text.Family("loquilex_sessions", "gauge", "Sessions by status.");
  std::map<std::string_view, int> by_state;
  for (const auto& s : sessions) ++by_state[events::SessionStateName(s->state())];
  for (const auto& [state, count] : by_state) {
    text.Sample("loquilex_sessions", "status=\"" + std::string(state) + "\"", count);
  }
  text.Family("loquilex_session_audio_seconds", "counter", "Audio recognized per session.");
  text.Family("loquilex_session_finals", "counter", "Finals emitted per session.");
  text.Family("loquilex_session_real_time_factor", "gauge", "Processing time / audio time.");
  text.Family("loquilex_session_clients", "gauge", "WebSocket viewers per session.");
  text.Family("loquilex_session_queued_frames", "gauge", "Frames waiting in viewers' queues.");
  text.Family("loquilex_session_dropped_frames", "counter",
              "Frames the viewers' overflow policy dropped (partials, vu).");
  text.Family("loquilex_session_queued_bytes", "gauge", "Bytes waiting in viewers' queues.");
  text.Family("loquilex_session_replay_events", "gauge", "Events kept for resuming viewers.");
  text.Family("loquilex_session_replay_bytes", "gauge",
              "Bytes of the events kept for resuming viewers.");
  for (const auto& s : sessions) {
    const SessionInfo info = s->Info();
    const std::string label = "session=\"" + info.id + "\"";
    const auto hub = hubs_.Find(info.id);
    text.Sample("loquilex_session_audio_seconds", label, info.audio_seconds);
    text.Sample("loquilex_session_finals", label, static_cast<double>(info.metrics.finals));
    text.Sample("loquilex_session_real_time_factor", label, info.metrics.RealTimeFactor());
    const DeliveryStats delivery = hub ? hub->Delivery() : DeliveryStats{};
    text.Sample("loquilex_session_clients", label, static_cast<double>(delivery.viewers));
    text.Sample("loquilex_session_queued_frames", label,
                static_cast<double>(delivery.queued_frames));
    text.Sample("loquilex_session_dropped_frames", label,
                static_cast<double>(delivery.dropped_frames));
    text.Sample("loquilex_session_queued_bytes", label, static_cast<double>(delivery.queued_bytes));
    text.Sample("loquilex_session_replay_events", label,
                static_cast<double>(delivery.replay_events));
    text.Sample("loquilex_session_replay_bytes", label, static_cast<double>(delivery.replay_bytes));
  }
  return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", text.str(), {}};
}

HttpResponse Api::Export(const HttpRequest& request, const session::Session& session) const {
  auto format = store::CaptionFormatFromName(request.Query("format").value_or("vtt"));
  if (!format.ok()) return Error(422, format.status().message());
  const SessionInfo info = session.Info();
  auto lang = ExportLanguage(request.Query("lang").value_or(""), info, format.value());
  if (!lang.ok()) return StatusResponse(request, lang.status());
  const std::string dir = sessions_.SessionDir(session.id());
  auto finals = store::ReadSessionLog(dir + "/finals.jsonl");
  if (!finals.ok()) return InternalError(request, kInternalError, finals.status().ToString());
  std::vector<events::TranslationFinal> translations;
  if (!lang.value().empty()) {
    auto read = store::ReadTranslationLog(store::TranslationLogPath(dir, info.config.mt.target));
    if (!read.ok()) return InternalError(request, kInternalError, read.status().ToString());
    translations = std::move(read).value();
  }
  const store::TranscriptInfo transcript{"pocketsphinx", info.config.model_dir, info.id,
                                         info.audio_seconds, info.metrics};
  std::string body;
  if (lang.value() == kBothLanguages) {
    body = store::RenderBilingualVtt(finals.value(), translations, transcript);
  } else if (!lang.value().empty()) {
    body = store::RenderCaptions(format.value(),
                                 store::TranslatedFinals(finals.value(), translations), transcript);
  } else {
    body = store::RenderCaptions(format.value(), finals.value(), transcript);
  }
  return HttpResponse{200, std::string(ContentTypeOf(format.value())), std::move(body), {}};
}

HttpResponse Api::TranslationLanguages() const {
  const mt::TranslatorProvider* provider = sessions_.translators();
  Json pairs = Json::array();
  if (provider != nullptr) {
    for (const mt::LanguagePair& pair : provider->Pairs()) {
      pairs.push_back(
          {{"source", pair.source}, {"target", pair.target}, {"provider", provider->name()}});
    }
  }
  Json json{{"available", provider != nullptr}, {"pairs", std::move(pairs)}};
  if (provider == nullptr) json["detail"] = TranslationUnavailable(sessions_);
  return JsonResponse(200, json);
}

HttpResponse Api::TranslationModels() const {
  const mt::TranslatorProvider* provider = sessions_.translators();
  Json providers = Json::array();
  if (provider != nullptr) {
    Json pairs = Json::array();
    for (const mt::LanguagePair& pair : provider->Pairs()) {
      pairs.push_back(
          {{"source", pair.source}, {"target", pair.target}, {"engine_name", pair.engine_name}});
    }
    providers.push_back({{"name", provider->name()}, {"pairs", std::move(pairs)}});
  }
  Json json{{"providers", std::move(providers)}};
  if (provider == nullptr) json["detail"] = TranslationUnavailable(sessions_);
  return JsonResponse(200, json);
}

HttpResponse Api::AsrModels() {
  namespace fs = std::filesystem;
  Json models = Json::array();
  const fs::path root = fs::path(asr::kDefaultPocketSphinxModelDir).parent_path();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec)) continue;
    if (!asr::FindPocketSphinxModelFiles(entry.path().string()).ok()) continue;
    models.push_back({{"engine", "pocketsphinx"},
                      {"model_dir", entry.path().string()},
                      {"name", entry.path().filename().string()},
                      {"default", entry.path() == fs::path(asr::kDefaultPocketSphinxModelDir)}});
  }
  return JsonResponse(200, Json{{"models", std::move(models)}});
}

}  // namespace lx::server
