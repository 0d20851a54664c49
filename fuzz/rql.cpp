// Fuzz target: the RQL parser (gateway/rql.cpp) on the raw query text of a `find` call. What it
// accepts must be a valid query, and runs (filter, sort, window, projection) over a few records as
// a page would; what it refuses must carry an error that renders as valid JSON (messages quote
// client input, cut on UTF-8 boundaries).
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "gateway/errors.hpp"
#include "gateway/render.hpp"
#include "messages/rql.hpp"
#include "messages/json.hpp"
#include "messages/query_eval.hpp"

namespace {

using namespace dispatch;
using dispatch::fuzz::require;

void require_error_body(const caf::error& err) {
  auto body = error_body(code_of(err), message_of(err));
  require(!check_json(body), "an RQL error renders as valid JSON", body);
}

// Records in the API's shapes, with the field types a query meets: strings, numbers, booleans,
// null, nested objects and arrays of objects.
const std::vector<std::string>& records() {
  static const std::vector<std::string> all{
    R"({"id":"5f0c6a1e2b3c4d5e6f708192","name":"welcome","eventType":"user_created",)"
    R"("tags":["a","b"],"actions":[{"id":"5f0c6a1e2b3c4d5e6f708193","type":"mail"}]})",
    R"({"id":"5f0c6a1e2b3c4d5e6f708194","status":"failed","attempts":3,"lastError":null,)"
    R"("task":{"functionName":"f","priority":-2,"data":{"x":{"y":[1,2.5,"z",true]}}}})",
    R"({"id":"000000000000000000000001","type":"user_deleted","content":{"user":{"age":41}},)"
    R"("creationTimestamp":1893456000000})",
    R"({})",
  };
  return all;
}

void run_query(const query& q) {
  record_set set;
  for (size_t i = 0; i < records().size(); ++i) set.put(std::to_string(i), records()[i]);
  uint64_t total = 0;
  auto page = set.run(q, total);
  require(page.size() <= q.limit && total <= records().size(), "a page fits its window");
  for (auto& record : records()) {
    matches(q.where, record);
    require(!check_json(project(record, q.select)), "a projection is JSON", record);
  }
  if (!q.sort.empty()) {
    sorted_window window{q, max_page_size};
    for (size_t i = 0; i < records().size(); ++i) window.offer(std::to_string(i), records()[i]);
    require(window.page().size() <= q.limit, "a sorted page fits its window");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = dispatch::fuzz::text_of(data, size);
  auto parsed = parse_rql(text);
  if (parsed) {
    require(!validate(*parsed), "an accepted query validates", text);
    require(parsed->limit <= max_page_size, "an accepted query's limit is clamped", text);
    run_query(*parsed);
  } else {
    require(code_of(parsed.error()) == error_code::invalid_rql, "RQL errors carry code 19", text);
    require_error_body(parsed.error());
  }
  auto decoded = percent_decode(text);
  if (!decoded) require_error_body(decoded.error());
  return 0;
}
