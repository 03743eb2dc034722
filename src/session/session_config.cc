#include "session/session_config.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "mt/translator.h"

namespace lx::session {
namespace {

using events::Json;

constexpr std::array<std::pair<SourceConfig::Type, std::string_view>, 3> kSourceTypes = {{
    {SourceConfig::Type::kMic, "mic"},
    {SourceConfig::Type::kFile, "file"},
    {SourceConfig::Type::kPush, "push"},
}};
constexpr std::array<std::pair<SaveAudio, std::string_view>, 3> kSaveAudioNames = {{
    {SaveAudio::kOff, "off"},
    {SaveAudio::kWav, "wav"},
    {SaveAudio::kFlac, "flac"},
}};
constexpr std::array<std::pair<audio::RawFormat, std::string_view>, 2> kFormatNames = {{
    {audio::RawFormat::kS16LE, "s16le"},
    {audio::RawFormat::kF32LE, "f32le"},
}};

// The name `value` has in `table`.
template <typename T, size_t N>
std::string_view NameOf(const std::array<std::pair<T, std::string_view>, N>& table, T value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "";
}

// "a, b, c" of a table's names.
template <typename T, size_t N>
std::string NameList(const std::array<std::pair<T, std::string_view>, N>& table) {
  std::string list;
  for (const auto& entry : table) list += (list.empty() ? "" : ", ") + std::string(entry.second);
  return list;
}

// `path` joined to a field name: "source" + "speed" -> "source.speed"; "" + "name" -> "name".
std::string FieldPath(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

// InvalidArgument unless `object` is an object whose keys are all in `allowed`.
Status CheckObject(const Json& object, std::string_view path,
                   std::span<const std::string_view> allowed) {
  if (!object.is_object()) {
    return Status::InvalidArgument(
        (path.empty() ? std::string("the session config") : std::string(path)) +
        " must be a JSON object");
  }
  for (const auto& item : object.items()) {
    bool known = false;
    for (std::string_view key : allowed) known = known || item.key() == key;
    if (!known) {
      return Status::InvalidArgument("unknown field \"" + FieldPath(path, item.key()) + "\"");
    }
  }
  return Status::Ok();
}

// Each reader leaves *out unchanged when the field is absent, and names the field when its type
// is wrong.
Status ReadString(const Json& object, std::string_view path, const char* key, std::string* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_string()) return Status::InvalidArgument(FieldPath(path, key) + " must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadNumber(const Json& object, std::string_view path, const char* key, double* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_number()) return Status::InvalidArgument(FieldPath(path, key) + " must be a number");
  *out = it->get<double>();
  return Status::Ok();
}

Status ReadInt(const Json& object, std::string_view path, const char* key, int* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_number_integer() || it->get<int64_t>() < INT32_MIN ||
      it->get<int64_t>() > INT32_MAX) {
    return Status::InvalidArgument(FieldPath(path, key) + " must be an integer");
  }
  *out = it->get<int>();
  return Status::Ok();
}

Status ReadBool(const Json& object, std::string_view path, const char* key, bool* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  if (!it->is_boolean())
    return Status::InvalidArgument(FieldPath(path, key) + " must be a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}

// Reads a string field that must be one of a table's names.
template <typename T, size_t N>
Status ReadEnum(const Json& object, std::string_view path, const char* key,
                const std::array<std::pair<T, std::string_view>, N>& table, T* out) {
  auto it = object.find(key);
  if (it == object.end()) return Status::Ok();
  const std::string field = FieldPath(path, key);
  if (!it->is_string()) {
    return Status::InvalidArgument(field + " must be one of " + NameList(table));
  }
  const std::string name = it->get<std::string>();
  for (const auto& [value, value_name] : table) {
    if (name == value_name) {
      *out = value;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument(field + " must be one of " + NameList(table));
}

// The first error of a list of steps, or Ok.
Status FirstError(std::initializer_list<Status> statuses) {
  for (const Status& s : statuses) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

constexpr std::array<std::string_view, 2> kMicFields = {"type", "device"};
constexpr std::array<std::string_view, 4> kFileFields = {"type", "path", "speed", "loop"};
constexpr std::array<std::string_view, 3> kPushFields = {"type", "sample_rate", "format"};
constexpr std::array<std::string_view, 7> kAsrFields = {
    "model_dir",       "partial_interval_ms", "silence_ms", "max_segment_s",
    "stable_after_ms", "overload_lag_s",      "max_lag_s"};
constexpr std::array<std::string_view, 3> kMtFields = {"enabled", "target", "cadence_words"};
constexpr std::array<std::string_view, 5> kTopFields = {"name", "source", "asr", "save_audio",
                                                        "mt"};

// The fields a source of each type takes.
std::span<const std::string_view> SourceFields(SourceConfig::Type type) {
  switch (type) {
    case SourceConfig::Type::kMic:
      return kMicFields;
    case SourceConfig::Type::kFile:
      return kFileFields;
    case SourceConfig::Type::kPush:
      return kPushFields;
  }
  return kMicFields;
}

Status SourceFromJson(const Json& object, SourceConfig* source) {
  if (!object.is_object()) return Status::InvalidArgument("source must be a JSON object");
  if (!object.contains("type")) return Status::InvalidArgument("source.type is required");
  if (Status s = ReadEnum(object, "source", "type", kSourceTypes, &source->type); !s.ok()) return s;
  if (Status s = CheckObject(object, "source", SourceFields(source->type)); !s.ok()) {
    return Status::InvalidArgument(s.message() + " (not used by a " +
                                   std::string(NameOf(kSourceTypes, source->type)) + " source)");
  }
  return FirstError({
      ReadString(object, "source", "device", &source->device),
      ReadString(object, "source", "path", &source->path),
      ReadNumber(object, "source", "speed", &source->speed),
      ReadBool(object, "source", "loop", &source->loop),
      ReadInt(object, "source", "sample_rate", &source->sample_rate),
      ReadEnum(object, "source", "format", kFormatNames, &source->format),
  });
}

Status AsrFromJson(const Json& object, SessionConfig* config) {
  if (Status s = CheckObject(object, "asr", kAsrFields); !s.ok()) return s;
  return FirstError({
      ReadString(object, "asr", "model_dir", &config->model_dir),
      ReadInt(object, "asr", "partial_interval_ms", &config->asr.partial_interval_ms),
      ReadInt(object, "asr", "silence_ms", &config->asr.silence_ms),
      ReadNumber(object, "asr", "max_segment_s", &config->asr.max_segment_s),
      ReadInt(object, "asr", "stable_after_ms", &config->asr.stable_after_ms),
      ReadNumber(object, "asr", "overload_lag_s", &config->overload.lag_s),
      ReadNumber(object, "asr", "max_lag_s", &config->overload.max_lag_s),
  });
}

Status MtFromJson(const Json& object, TranslationConfig* mt) {
  if (Status s = CheckObject(object, "mt", kMtFields); !s.ok()) return s;
  Status read = FirstError({
      ReadBool(object, "mt", "enabled", &mt->enabled),
      ReadString(object, "mt", "target", &mt->target),
      ReadInt(object, "mt", "cadence_words", &mt->cadence_words),
  });
  mt->target = mt::NormalizeLanguageCode(mt->target);
  return read;
}

Status ValidateTranslation(const TranslationConfig& mt) {
  if (mt.cadence_words < 1 || mt.cadence_words > 100) {
    return Status::InvalidArgument("mt.cadence_words must be between 1 and 100");
  }
  if (!mt.enabled) return Status::Ok();
  if (mt.target.empty()) return Status::InvalidArgument("mt.target is required");
  const bool letters =
      std::all_of(mt.target.begin(), mt.target.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  if (!letters || mt.target.size() > 8) {
    return Status::InvalidArgument("mt.target must be a language code such as \"spa\" or \"es\"");
  }
  return Status::Ok();
}

Status ValidateSource(const SourceConfig& source) {
  switch (source.type) {
    case SourceConfig::Type::kMic:
      return Status::Ok();
    case SourceConfig::Type::kFile:
      if (source.path.empty()) return Status::InvalidArgument("source.path is required");
      if (!std::isfinite(source.speed) || source.speed < 0 || source.speed > 100) {
        return Status::InvalidArgument("source.speed must be between 0 and 100");
      }
      return Status::Ok();
    case SourceConfig::Type::kPush:
      if (source.sample_rate < 1 || source.sample_rate > 768000) {
        return Status::InvalidArgument("source.sample_rate must be between 1 and 768000");
      }
      return Status::Ok();
  }
  return Status::InvalidArgument("source.type must be one of " + NameList(kSourceTypes));
}

}  // namespace

Status SessionConfig::Validate() const {
  if (Status s = ValidateSource(source); !s.ok()) return s;
  if (Status s = asr.Validate(); !s.ok()) return Status::InvalidArgument("asr." + s.message());
  if (Status s = overload.Validate(); !s.ok()) {
    return Status::InvalidArgument("asr." + s.message());
  }
  return ValidateTranslation(mt);
}

Result<SessionConfig> SessionConfigFromJson(const Json& body) {
  SessionConfig config;
  if (Status s = CheckObject(body, "", kTopFields); !s.ok()) return s;
  if (!body.contains("source")) return Status::InvalidArgument("source is required");
  Status parsed = FirstError({
      ReadString(body, "", "name", &config.name),
      SourceFromJson(body.at("source"), &config.source),
      body.contains("asr") ? AsrFromJson(body.at("asr"), &config) : Status::Ok(),
      ReadEnum(body, "", "save_audio", kSaveAudioNames, &config.save_audio),
      body.contains("mt") ? MtFromJson(body.at("mt"), &config.mt) : Status::Ok(),
  });
  if (!parsed.ok()) return parsed;
  if (Status s = config.Validate(); !s.ok()) return s;
  return config;
}

events::Json SessionConfigToJson(const SessionConfig& config) {
  const SourceConfig& source = config.source;
  Json json_source{{"type", NameOf(kSourceTypes, source.type)}};
  switch (source.type) {
    case SourceConfig::Type::kMic:
      json_source["device"] = source.device;
      break;
    case SourceConfig::Type::kFile:
      json_source["path"] = source.path;
      json_source["speed"] = source.speed;
      json_source["loop"] = source.loop;
      break;
    case SourceConfig::Type::kPush:
      json_source["sample_rate"] = source.sample_rate;
      json_source["format"] = NameOf(kFormatNames, source.format);
      break;
  }
  return Json{{"name", config.name},
              {"source", std::move(json_source)},
              {"asr",
               {{"model_dir", config.model_dir},
                {"partial_interval_ms", config.asr.partial_interval_ms},
                {"silence_ms", config.asr.silence_ms},
                {"max_segment_s", config.asr.max_segment_s},
                {"stable_after_ms", config.asr.stable_after_ms},
                {"overload_lag_s", config.overload.lag_s},
                {"max_lag_s", config.overload.max_lag_s}}},
              {"save_audio", NameOf(kSaveAudioNames, config.save_audio)},
              {"mt",
               {{"enabled", config.mt.enabled},
                {"target", config.mt.target},
                {"cadence_words", config.mt.cadence_words}}}};
}

}  // namespace lx::session
