// Task data templates: compiled into a tree whose parts without templates are JSON text already,
// so rendering one event writes text and looks up paths, nothing more.
#include "messages/task_template.hpp"

#include <vector>

#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "messages/error_code.hpp"
#include "messages/event_record.hpp"
#include "messages/json.hpp"
#include "messages/json_dom.hpp"
#include "messages/query_eval.hpp"
#include "messages/task_frame.hpp"

namespace dispatch {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

} // namespace

struct task_template::node {
  enum class kind : uint8_t {
    literal, // JSON text without templates
    value,   // exactly one template: the value at `path`
    text,    // a string with templates: `pieces`
    object,  // `keys` and `children`
    array,   // `children`
  };
  /// A piece of a text node: literal text, or (`hole`) the value at `path` as text.
  struct piece {
    std::string text;
    bool hole = false;
    std::vector<std::string> path;
  };

  kind k = kind::literal;
  std::string literal;
  rapidjson::Type literal_type = rapidjson::kNullType;
  std::vector<std::string> path;
  std::vector<piece> pieces;
  std::vector<std::string> keys;
  std::vector<node> children;
};

namespace {

using node = task_template::node;

caf::error template_error(const std::string& path, const std::string& reason) {
  return make_error(error_code::field_format, path + ": " + reason);
}

// Client text quoted in a message, cut to 60 bytes but never inside a UTF-8 sequence.
std::string quoted(std::string_view text) {
  if (text.size() <= 60) return "'" + std::string{text} + "'";
  size_t cut = 60;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string{text.substr(0, cut)} + "...'";
}

// The inside of `{{...}}`: `event` or `event.<dotted path>`, spaces around it allowed.
caf::expected<std::vector<std::string>> parse_hole(std::string_view inner,
                                                   const std::string& path) {
  while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
  while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
  auto inner0 = inner;
  auto bad = [&] {
    return template_error(path, "template " + quoted("{{" + std::string{inner} + "}}")
                                  + " must be {{event}} or {{event.<dotted path>}}, e.g. "
                                    "{{event.content.userId}}");
  };
  std::vector<std::string> segments;
  if (inner.substr(0, 5) != "event") return bad();
  inner.remove_prefix(5);
  if (inner.empty()) return segments;
  if (inner.front() != '.') return bad();
  inner.remove_prefix(1);
  for (;;) {
    auto dot = inner.find('.');
    auto segment = inner.substr(0, dot);
    if (!is_path_segment(segment)) return bad();
    segments.emplace_back(segment);
    if (dot == std::string_view::npos) break;
    inner.remove_prefix(dot + 1);
  }
  if (!is_event_record_path(segments))
    return template_error(path, "template " + quoted("{{" + std::string{inner0} + "}}")
                                  + " names nothing in the event: a path starts with content, or is "
                                    "id, type or creationTimestamp");
  return segments;
}

caf::expected<node> compile_string(const rapidjson::Value& value, const std::string& path) {
  std::string_view text{value.GetString(), value.GetStringLength()};
  node result;
  size_t pos = 0;
  for (;;) {
    auto open = text.find("{{", pos);
    if (open == std::string_view::npos) break;
    auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos)
      return template_error(path, "template " + quoted(text.substr(open)) + " has no closing '}}'");
    auto hole = parse_hole(text.substr(open + 2, close - open - 2), path);
    if (!hole) return hole.error();
    if (open > pos) result.pieces.push_back({std::string{text.substr(pos, open - pos)}, false, {}});
    result.pieces.push_back({{}, true, std::move(*hole)});
    pos = close + 2;
  }
  if (result.pieces.empty()) {
    result.literal = compact_json(value);
    result.literal_type = rapidjson::kStringType;
    return result;
  }
  if (pos < text.size()) result.pieces.push_back({std::string{text.substr(pos)}, false, {}});
  if (result.pieces.size() == 1) { // exactly one template: the value, typed
    result.k = node::kind::value;
    result.path = std::move(result.pieces.front().path);
    result.pieces.clear();
  } else {
    result.k = node::kind::text;
  }
  return result;
}

// Compiles `value`; the top level stays an object node (`render_frame` walks its keys).
caf::expected<node> compile_value(const rapidjson::Value& value, const std::string& path,
                                  bool top) {
  if (value.IsString()) return compile_string(value, path);
  if (!value.IsObject() && !value.IsArray()) {
    node result;
    result.literal = compact_json(value);
    result.literal_type = value.GetType();
    return result;
  }
  node result;
  bool templated = false;
  auto add = [&](const rapidjson::Value& child, const std::string& child_path) -> caf::error {
    auto compiled = compile_value(child, child_path, false);
    if (!compiled) return compiled.error();
    templated = templated || compiled->k != node::kind::literal;
    result.children.push_back(std::move(*compiled));
    return caf::none;
  };
  if (value.IsObject()) {
    result.k = node::kind::object;
    for (auto& m : value.GetObject()) {
      result.keys.emplace_back(m.name.GetString(), m.name.GetStringLength());
      if (auto err = add(m.value, path + "." + result.keys.back())) return err;
    }
  } else {
    result.k = node::kind::array;
    rapidjson::SizeType i = 0;
    for (auto& element : value.GetArray())
      if (auto err = add(element, path + "[" + std::to_string(i++) + "]")) return err;
  }
  if (!templated && !top) { // nothing to fill: written as it is
    node literal;
    literal.literal = compact_json(value);
    literal.literal_type = value.GetType();
    return literal;
  }
  return result;
}

// The value at a template's path as text: a string as its characters, anything else as JSON,
// an absent path as nothing.
void append_text(std::string& out, const rapidjson::Value* value) {
  if (value == nullptr) return;
  if (value->IsString())
    out.append(value->GetString(), value->GetStringLength());
  else
    out += compact_json(*value);
}

bool omitted(const node& n, event_record& record) {
  return n.k == node::kind::value && record.find(n.path) == nullptr;
}

void write(const node& n, event_record& record, json_writer& out) {
  switch (n.k) {
    case node::kind::literal:
      out.RawValue(n.literal.data(), n.literal.size(), n.literal_type);
      return;
    case node::kind::value:
      if (auto* found = record.find(n.path))
        found->Accept(out); // content depth is bounded where events are accepted
      else
        out.Null(); // an array element keeps its place
      return;
    case node::kind::text: {
      std::string text;
      for (auto& p : n.pieces)
        if (p.hole)
          append_text(text, record.find(p.path));
        else
          text += p.text;
      out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
      return;
    }
    case node::kind::object:
      out.StartObject();
      for (size_t i = 0; i < n.keys.size(); ++i) {
        if (omitted(n.children[i], record)) continue;
        out.Key(n.keys[i].data(), static_cast<rapidjson::SizeType>(n.keys[i].size()));
        write(n.children[i], record, out);
      }
      out.EndObject();
      return;
    case node::kind::array:
      out.StartArray();
      for (auto& child : n.children) write(child, record, out);
      out.EndArray();
      return;
  }
}

} // namespace

caf::expected<task_template> task_template::compile(std::string_view data,
                                                    const std::string& path) {
  if (!is_json_object(data)) return template_error(path, "must be a JSON object");
  rapidjson::Document doc;
  rapidjson::MemoryStream stream(data.data(), data.size());
  doc.ParseStream<dom_parse_flags>(stream);
  auto root = compile_value(doc, path, true);
  if (!root) return root.error();
  task_template result;
  result.root_ = std::make_shared<const node>(std::move(*root));
  return result;
}

std::string task_template::render(event_record& record) const {
  rapidjson::StringBuffer buffer;
  json_writer out{buffer};
  write(*root_, record, out);
  return {buffer.GetString(), buffer.GetSize()};
}

std::pair<std::string, std::string> task_template::render_frame(event_record& record) const {
  task_frame frame;
  auto& root = *root_;
  for (size_t i = 0; i < root.keys.size(); ++i) {
    if (!frame.is_event(root.keys[i]) && omitted(root.children[i], record)) continue;
    if (!frame.key(root.keys[i])) write(root.children[i], record, frame.out());
  }
  return frame.finish();
}

} // namespace dispatch
