// The frame of a task's `data` around its event: the data's members, with the event where the
// first `event` key is, else last. Verbatim data (`task_data_frame`) and templated data
// (`task_template::render_frame`) both write their members through it.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dispatch {

class task_frame {
public:
  using writer = rapidjson::Writer<rapidjson::StringBuffer>;

  task_frame() : out_{buffer_} { out_.StartObject(); }

  /// Whether the member `key` is where the event goes (the first `event`).
  bool is_event(std::string_view key) const { return !placed_ && key == "event"; }

  /// Writes `key`. When the event goes there, its place is marked and the answer is true: write
  /// no value then. Otherwise write the member's value to `out()`.
  bool key(std::string_view key) {
    auto here = is_event(key);
    out_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    if (here) mark_event();
    return here;
  }

  writer& out() { return out_; }

  /// The text before the event and the text after it (the event goes last when no key took it).
  std::pair<std::string, std::string> finish() {
    if (!placed_) {
      out_.Key("event");
      mark_event();
    }
    out_.EndObject();
    std::string_view text{buffer_.GetString(), buffer_.GetSize()};
    return {std::string{text.substr(0, cut_)}, std::string{text.substr(cut_ + 1)}};
  }

private:
  // A one-character stand-in, cut out by `finish`: the writer puts the key's colon before it and
  // nothing after it.
  void mark_event() {
    out_.RawValue("0", 1, rapidjson::kNumberType);
    cut_ = buffer_.GetSize() - 1;
    placed_ = true;
  }

  rapidjson::StringBuffer buffer_;
  writer out_;
  size_t cut_ = 0;
  bool placed_ = false;
};

} // namespace dispatch
