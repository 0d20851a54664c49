// Replays from the archive: state names and the JSON shape the API lists.
#include "messages/replay.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dispatch {

const char* to_string(replay_state x) {
  switch (x) {
    case replay_state::running:
      return "running";
    case replay_state::done:
      return "done";
    case replay_state::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string to_json(const replay_status& x) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> out{buffer};
  out.StartObject();
  out.Key("id");
  out.String(x.id);
  out.Key("status");
  out.String(to_string(x.state));
  out.Key("from");
  out.Int64(x.from);
  out.Key("to");
  out.Int64(x.to);
  if (!x.filter.empty()) {
    out.Key("filter");
    out.String(x.filter);
  }
  if (!x.dispatcher_ids.empty()) {
    out.Key("dispatcherIds");
    out.StartArray();
    for (auto& id : x.dispatcher_ids) out.String(id);
    out.EndArray();
  }
  out.Key("matched");
  out.Uint64(x.matched);
  out.Key("dispatched");
  out.Uint64(x.dispatched);
  out.Key("creationTimestamp");
  out.Int64(x.created);
  if (x.finished != 0) {
    out.Key("finishedTimestamp");
    out.Int64(x.finished);
  }
  out.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

} // namespace dispatch
