// JSON answers of the HTTP API. Rows arrive as JSON text already (from the codec's writers or the
// engine's log), so pages embed them raw; only a projection parses a record.
#include "gateway/render.hpp"
#include "messages/json_dom.hpp"

#include <algorithm>

#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "messages/validation.hpp"

namespace dispatch {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string text_of(const rapidjson::StringBuffer& buffer) {
  return {buffer.GetString(), buffer.GetSize()};
}

void raw(json_writer& out, const std::string& json, rapidjson::Type type) {
  out.RawValue(json.data(), json.size(), type);
}

// Writes the members of `object` that `paths` (relative to it) select, in their stored order.
void write_projection(json_writer& out, const rapidjson::Value& object,
                      const std::vector<std::string_view>& paths, bool top_level) {
  out.StartObject();
  for (auto& member : object.GetObject()) {
    std::string_view name{member.name.GetString(), member.name.GetStringLength()};
    bool whole = top_level && name == "id";
    std::vector<std::string_view> inner;
    for (auto path : paths) {
      if (path == name)
        whole = true;
      else if (path.size() > name.size() && path.compare(0, name.size(), name) == 0
               && path[name.size()] == '.')
        inner.push_back(path.substr(name.size() + 1));
    }
    if (whole) {
      out.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
      member.value.Accept(out);
    } else if (!inner.empty() && member.value.IsObject()) {
      out.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
      write_projection(out, member.value, inner, false);
    } else if (!inner.empty() && member.value.IsArray()) {
      // A path through an array selects inside each object element (`actions.type`).
      out.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
      out.StartArray();
      for (auto& element : member.value.GetArray())
        if (element.IsObject()) write_projection(out, element, inner, false);
      out.EndArray();
    }
  }
  out.EndObject();
}

bool has_dotted_path(const std::vector<std::string>& select) {
  return std::any_of(select.begin(), select.end(),
                     [](const std::string& path) { return path.find('.') != std::string::npos; });
}

void page_header(json_writer& out, const page_info& page) {
  out.Key("page");
  out.StartObject();
  out.Key("total");
  out.Uint64(page.total);
  out.Key("offset");
  out.Uint(page.offset);
  out.Key("limit");
  out.Uint(page.limit);
  out.EndObject();
}

template <class Rows, class Render>
std::string render_rows(const page_info& page, const Rows& rows, Render render) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  out.StartObject();
  page_header(out, page);
  out.Key("data");
  out.StartArray();
  for (auto& row : rows) raw(out, render(row), rapidjson::kObjectType);
  out.EndArray();
  out.EndObject();
  return text_of(buffer);
}

void error_entry(json_writer& out, size_t index, error_code code, const std::string& message) {
  out.StartObject();
  out.Key("index");
  out.Uint64(index);
  out.Key("code");
  out.Uint(wire_code(code));
  out.Key("name");
  out.String(wire_name(code));
  out.Key("message");
  out.String(message);
  out.EndObject();
}

} // namespace

std::string render_page(const page_info& page, const std::vector<std::string>& rows) {
  return render_rows(page, rows, [](const std::string& row) -> const std::string& { return row; });
}

std::string render_page(const dispatcher_page& page, const std::vector<std::string>& select) {
  bool narrow = has_dotted_path(select);
  return render_rows(page.page, page.data, [&](const dispatcher& x) {
    return narrow ? project(to_json(x, select), select) : to_json(x, select);
  });
}

std::string render_page(const delivery_page& page, const std::vector<std::string>& select) {
  bool narrow = has_dotted_path(select);
  return render_rows(page.page, page.data, [&](const delivery& x) {
    return narrow ? project(to_json(x, select), select) : to_json(x, select);
  });
}

std::string render_page(const json_page& page, const std::vector<std::string>& select) {
  return render_rows(page.page, page.data,
                     [&](const std::string& row) { return project(row, select); });
}

std::string project(const std::string& json, const std::vector<std::string>& select) {
  if (select.empty()) return json;
  rapidjson::Document doc;
  doc.Parse<dom_parse_flags>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return json;
  std::vector<std::string_view> paths{select.begin(), select.end()};
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  write_projection(out, doc, paths, true);
  return text_of(buffer);
}

std::string affected_records(uint64_t n) {
  return "{\"affectedRecords\":" + std::to_string(n) + "}";
}

std::string render_batch(const std::vector<parsed_event>& parsed,
                         const publish_outcome_list& outcomes) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  out.StartArray();
  size_t next = 0; // the next engine outcome, for the next element parsed without error
  for (size_t index = 0; index < parsed.size(); ++index) {
    if (parsed[index].error) {
      error_entry(out, index, code_of(parsed[index].error), message_of(parsed[index].error));
    } else if (next >= outcomes.size()) {
      // The engine answers one outcome per event; fewer would be its bug, not the client's.
      error_entry(out, index, error_code::server, "internal error");
    } else {
      auto& outcome = outcomes[next++];
      if (accepted(outcome))
        raw(out, to_json(outcome.stored), rapidjson::kObjectType);
      else
        error_entry(out, index, outcome.code, outcome.message);
    }
  }
  out.EndArray();
  return text_of(buffer);
}

std::string health_body(bool healthy, const std::string& message) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  out.StartObject();
  out.Key("status");
  out.String(healthy ? "ok" : "unavailable");
  if (!healthy && !message.empty()) {
    out.Key("message");
    out.String(message);
  }
  out.EndObject();
  return text_of(buffer);
}

std::string render_cluster(const cluster_stats& c) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  out.StartObject();
  out.Key("node");
  out.Uint(c.node);
  out.Key("coordinator");
  out.Uint(c.coordinator);
  out.Key("shardsOwned");
  out.Uint(c.shards_owned);
  out.Key("logVersion");
  out.Uint64(c.log_version);
  out.Key("forwarded");
  out.Uint64(c.forwarded);
  out.Key("received");
  out.Uint64(c.received);
  out.Key("peers");
  out.StartArray();
  for (auto& p : c.peers) {
    out.StartObject();
    out.Key("id");
    out.Uint(p.id);
    out.Key("address");
    out.String(p.address);
    out.Key("state");
    out.String(to_string(p.state));
    out.Key("since");
    out.Int64(p.since);
    out.Key("forwardDepth");
    out.Uint64(p.forward_depth);
    out.Key("shardsOwned");
    out.Uint(p.shards_owned);
    out.Key("reason");
    out.String(p.reason);
    out.EndObject();
  }
  out.EndArray();
  out.EndObject();
  return text_of(buffer);
}

std::string render_backup(const backup_status& b) {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  // Paths come from the file system (a symbolic link resolved), errors may quote them: whatever
  // their bytes, the answer stays valid JSON.
  auto text = [&](const char* key, const std::string& value) {
    out.Key(key);
    out.String(with_valid_utf8(value));
  };
  out.StartObject();
  out.Key("state");
  out.String(to_string(b.state));
  if (b.state == backup_state::none) {
    out.EndObject();
    return text_of(buffer);
  }
  text("to", b.to);
  if (!b.phase.empty()) text("phase", b.phase);
  out.Key("startedTimestamp");
  out.Int64(b.started);
  if (b.finished != 0) {
    out.Key("finishedTimestamp");
    out.Int64(b.finished);
    out.Key("durationMs");
    out.Int64(b.finished - b.started);
  }
  out.Key("bytesTotal");
  out.Uint64(b.bytes_total);
  out.Key("bytesCopied");
  out.Uint64(b.bytes_copied);
  out.Key("parts");
  out.StartArray();
  for (auto& part : b.parts) out.String(part);
  out.EndArray();
  if (b.state == backup_state::done) {
    out.Key("files");
    out.Uint64(b.files);
    out.Key("bytes");
    out.Uint64(b.bytes);
    out.Key("lastSequence");
    out.Uint64(b.last_sequence);
  }
  if (b.state == backup_state::failed) text("error", b.error);
  out.EndObject();
  return text_of(buffer);
}

} // namespace dispatch
