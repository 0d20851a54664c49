// Validation of typed values: the one path every input takes, from HTTP bodies and embedding users
// alike. Each rule names the field path and the reason, with docs/api.md's code.
#include "messages/validation.hpp"

#include <cctype>
#include <string_view>

#include "messages/event_record.hpp"
#include "messages/ids.hpp"
#include "messages/json.hpp"
#include "messages/query_eval.hpp"
#include "messages/rql.hpp"
#include "messages/task_template.hpp"

namespace dispatch {

namespace {

constexpr size_t max_type_bytes = 256;
constexpr size_t max_text_bytes = 1024;
// The last millisecond of year 9999: later values are typos (seconds times 10^6, say).
constexpr timestamp_ms max_timestamp = 253402300799999;
constexpr size_t max_filter_bytes = 4096;
constexpr size_t max_ordering_key_bytes = 256;
// A dispatcher's rate limit: at least one delivery in 1000 s, at most a million a second.
constexpr double min_rate = 0.001;
constexpr double max_rate = 1e6;

std::string path_of(const std::string& prefix, const std::string& field) {
  return prefix.empty() ? field : prefix + "." + field;
}

caf::error missing(const std::string& path) {
  return make_error(error_code::missing_required_fields, path + ": required");
}

caf::error bad_format(const std::string& path, const std::string& reason) {
  return make_error(error_code::field_format, path + ": " + reason);
}

caf::error check_id(const std::string& path, const std::string& id) {
  if (id.empty() || is_object_id(id)) return {};
  return make_error(error_code::id_format, path + ": must be 24 hex characters");
}

caf::error check_text(const std::string& path, const std::string& text, size_t max_bytes) {
  if (text.size() > max_bytes)
    return bad_format(path, "longer than " + std::to_string(max_bytes) + " bytes");
  if (!is_utf8(text)) return bad_format(path, "invalid UTF-8");
  return {};
}

caf::error check_required_text(const std::string& path, const std::string& text, size_t max_bytes) {
  return text.empty() ? missing(path) : check_text(path, text, max_bytes);
}

template <class T>
caf::error check_optional_text(const std::string& path, const caf::optional<T>& text) {
  return text ? check_text(path, *text, max_text_bytes) : caf::error{};
}

caf::error check_tags(const std::string& path, const caf::optional<string_list>& tags) {
  if (!tags) return {};
  for (size_t i = 0; i < tags->size(); ++i)
    if (auto err = check_text(path + "[" + std::to_string(i) + "]", (*tags)[i], max_text_bytes))
      return err;
  return {};
}

caf::error check_time(const std::string& path, timestamp_ms x) {
  if (x < 0 || x > max_timestamp)
    return bad_format(path, "not a plausible time (epoch milliseconds, years 1970 to 9999)");
  return {};
}

caf::error check_object(const std::string& path, const std::string& json, size_t max_bytes) {
  if (auto err = check_json(json, {max_bytes, 64})) {
    // check_json speaks of "body: ..."; name the field instead.
    auto reason = message_of(err);
    if (reason.compare(0, 6, "body: ") == 0) reason.erase(0, 6);
    return bad_format(path, reason);
  }
  if (!is_object_text(json)) return bad_format(path, "must be a JSON object");
  return {};
}

caf::error check_addresses(const std::string& path, const string_list& addresses) {
  for (size_t i = 0; i < addresses.size(); ++i)
    if (!is_email(addresses[i]))
      return bad_format(path + "[" + std::to_string(i) + "]", "not an email address");
  return {};
}

caf::error check_recipients(const std::string& path, const recipients& x) {
  if (x.to.empty()) return missing(path + ".to");
  if (auto err = check_addresses(path + ".to", x.to)) return err;
  if (x.cc)
    if (auto err = check_addresses(path + ".cc", *x.cc)) return err;
  return x.bcc ? check_addresses(path + ".bcc", *x.bcc) : caf::error{};
}

caf::error check_template_id(const std::string& path, const std::string& id) {
  if (id.empty()) return missing(path);
  if (!is_object_id(id)) return bad_format(path, "must be 24 hex characters");
  return {};
}

caf::error not_allowed(const std::string& path, action_kind kind) {
  return bad_format(path, std::string{"not allowed on a "} + to_string(kind) + " action");
}

// A filter parses as RQL filter terms: code 19 (invalid RQL) naming `filter`, as `find` does.
caf::error check_filter(const std::string& text) {
  auto fail = [](const std::string& reason) {
    return make_error(error_code::invalid_rql, "filter: " + reason);
  };
  if (text.empty()) return fail("must not be empty (omit it to act on every event of the type)");
  if (text.size() > max_filter_bytes)
    return fail("longer than " + std::to_string(max_filter_bytes) + " bytes");
  auto parsed = parse_rql_filter(text);
  return parsed ? caf::error{} : fail(message_of(parsed.error()));
}

// A dotted path into the event record: one of its four fields, then keys of `content`.
caf::error check_ordering_key(const std::string& key) {
  auto fail = [](const std::string& reason) { return bad_format("orderingKey", reason); };
  if (key.empty()) return missing("orderingKey");
  if (key.size() > max_ordering_key_bytes)
    return fail("longer than " + std::to_string(max_ordering_key_bytes) + " bytes");
  for (size_t begin = 0;;) {
    auto dot = key.find('.', begin);
    auto segment = std::string_view{key}.substr(begin, dot - begin);
    if (segment.empty()) return fail("a dotted path must not have an empty segment");
    if (!is_path_segment(segment))
      return fail("a dotted path may hold only letters, digits and _ $ -");
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  if (!is_event_record_path(split_path(key)))
    return fail(
      "must be id, type, creationTimestamp or a path into content such as content.userId");
  return {};
}

caf::error check_rate(const rate_limit& x) {
  if (!(x.per_second >= min_rate && x.per_second <= max_rate)) // NaN fails too
    return bad_format("rateLimit.perSecond",
                      "must be a number from 0.001 to 1000000 (0 clears "
                      "the limit on update)");
  return {};
}

caf::error check_template(const action& x, const std::string& prefix) {
  if (!x.templated || !*x.templated || !x.data) return {};
  auto compiled = task_template::compile(*x.data, path_of(prefix, "data"));
  return compiled ? caf::error{} : compiled.error();
}

} // namespace

caf::error validate(const event& x, size_t max_bytes) {
  if (auto err = check_id("id", x.id)) return err;
  if (auto err = check_required_text("type", x.type, max_type_bytes)) return err;
  if (auto err = check_object("content", x.content, max_bytes)) return err;
  return check_time("creationTimestamp", x.creation_timestamp);
}

namespace {

caf::error validate_task(const action& x, const std::string& prefix) {
  if (!x.recipients.to.empty() || x.recipients.cc || x.recipients.bcc)
    return not_allowed(path_of(prefix, "recipients"), action_kind::task);
  if (!x.template_id.empty()) return not_allowed(path_of(prefix, "templateId"), action_kind::task);
  if (auto err = check_required_text(path_of(prefix, "functionName"), x.function_name,
                                     max_text_bytes))
    return err;
  if (x.data)
    if (auto err = check_object(path_of(prefix, "data"), *x.data, 1 << 20)) return err;
  if (auto err = check_tags(path_of(prefix, "tags"), x.tags)) return err;
  if (auto err = check_template(x, prefix)) return err;
  return x.start_timestamp ? check_time(path_of(prefix, "startTimestamp"), *x.start_timestamp)
                           : caf::error{};
}

caf::error validate_mail(const action& x, const std::string& prefix) {
  const char* task_field = !x.function_name.empty() ? "functionName"
                           : x.data                 ? "data"
                           : x.tags                 ? "tags"
                           : x.start_timestamp      ? "startTimestamp"
                           : x.priority             ? "priority"
                           : x.templated            ? "templated"
                                                    : nullptr;
  if (task_field != nullptr) return not_allowed(path_of(prefix, task_field), action_kind::mail);
  if (auto err = check_recipients(path_of(prefix, "recipients"), x.recipients)) return err;
  return check_template_id(path_of(prefix, "templateId"), x.template_id);
}

} // namespace

caf::error validate(const action& x, const std::string& prefix) {
  if (auto err = check_id(path_of(prefix, "id"), x.id)) return err;
  if (auto err = check_optional_text(path_of(prefix, "name"), x.name)) return err;
  if (auto err = check_optional_text(path_of(prefix, "description"), x.description)) return err;
  return x.kind == action_kind::task ? validate_task(x, prefix) : validate_mail(x, prefix);
}

caf::error validate(const dispatcher& x) {
  if (auto err = check_id("id", x.id)) return err;
  if (auto err = check_required_text("eventType", x.event_type, max_type_bytes)) return err;
  if (auto err = check_optional_text("name", x.name)) return err;
  if (auto err = check_optional_text("description", x.description)) return err;
  if (auto err = check_tags("tags", x.tags)) return err;
  if (x.filter)
    if (auto err = check_filter(*x.filter)) return err;
  if (x.ordering_key)
    if (auto err = check_ordering_key(*x.ordering_key)) return err;
  if (x.rate_limit)
    if (auto err = check_rate(*x.rate_limit)) return err;
  for (size_t i = 0; i < x.actions.size(); ++i)
    if (auto err = validate(x.actions[i], "actions[" + std::to_string(i) + "]")) return err;
  if (auto err = check_time("creationTimestamp", x.creation_timestamp)) return err;
  return check_time("updateTimestamp", x.update_timestamp);
}

caf::error validate(const dispatcher_patch& x) {
  if (x.event_type)
    if (auto err = check_required_text("eventType", *x.event_type, max_type_bytes)) return err;
  if (auto err = check_optional_text("name", x.name)) return err;
  if (auto err = check_optional_text("description", x.description)) return err;
  if (x.filter && !x.filter->empty())
    if (auto err = check_filter(*x.filter)) return err;
  if (x.ordering_key && !x.ordering_key->empty())
    if (auto err = check_ordering_key(*x.ordering_key)) return err;
  if (x.rate_limit && x.rate_limit->per_second != 0)
    if (auto err = check_rate(*x.rate_limit)) return err;
  return check_tags("tags", x.tags);
}

caf::error validate_template(const action& x, const std::string& prefix) {
  return check_template(x, prefix);
}

void drop_cleared_fields(dispatcher& x) {
  if (x.filter && x.filter->empty()) x.filter = caf::none;
  if (x.ordering_key && x.ordering_key->empty()) x.ordering_key = caf::none;
  if (x.rate_limit && x.rate_limit->per_second == 0) x.rate_limit = caf::none;
}

namespace {

caf::error validate_task_patch(const action_patch& x) {
  if (x.recipients) return not_allowed("recipients", action_kind::task);
  if (x.template_id) return not_allowed("templateId", action_kind::task);
  if (x.function_name)
    if (auto err = check_required_text("functionName", *x.function_name, max_text_bytes))
      return err;
  if (x.data)
    if (auto err = check_object("data", *x.data, 1 << 20)) return err;
  if (auto err = check_tags("tags", x.tags)) return err;
  return x.start_timestamp ? check_time("startTimestamp", *x.start_timestamp) : caf::error{};
}

caf::error validate_mail_patch(const action_patch& x) {
  const char* task_field = x.function_name     ? "functionName"
                           : x.data            ? "data"
                           : x.tags            ? "tags"
                           : x.start_timestamp ? "startTimestamp"
                           : x.priority        ? "priority"
                           : x.templated       ? "templated"
                                               : nullptr;
  if (task_field != nullptr) return not_allowed(task_field, action_kind::mail);
  if (x.recipients)
    if (auto err = check_recipients("recipients", *x.recipients)) return err;
  return x.template_id ? check_template_id("templateId", *x.template_id) : caf::error{};
}

} // namespace

caf::error validate(const action_patch& x, action_kind kind) {
  if (auto err = check_optional_text("name", x.name)) return err;
  if (auto err = check_optional_text("description", x.description)) return err;
  return kind == action_kind::task ? validate_task_patch(x) : validate_mail_patch(x);
}

namespace {

// Characters allowed in an unquoted local part besides letters and digits (RFC 5322 atext);
// bytes >= 0x80 are allowed too (internationalized addresses, RFC 6531).
bool is_local_char(unsigned char c) {
  return std::isalnum(c) || c >= 0x80
         || std::string_view{"!#$%&'*+-/=?^_`{|}~."}.find(c) != std::string_view::npos;
}

bool is_domain_label(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  for (unsigned char c : label)
    if (!std::isalnum(c) && c != '-' && c < 0x80) return false;
  return true;
}

} // namespace

bool is_email(const std::string& text) {
  auto at = text.rfind('@');
  if (text.size() > 254 || at == std::string::npos || at == 0 || at > 64 || !is_utf8(text))
    return false;
  std::string_view local{text.data(), at};
  std::string_view domain{text.data() + at + 1, text.size() - at - 1};
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    return false;
  for (unsigned char c : local)
    if (!is_local_char(c)) return false;
  auto dot = domain.rfind('.');
  if (dot == std::string_view::npos || domain.size() - dot - 1 < 2) // a top-level domain
    return false;
  for (size_t start = 0; start <= domain.size();) {
    auto end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    if (!is_domain_label(domain.substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

namespace {

// The length of the valid UTF-8 character at `i`, or 0 when the bytes there are not one.
size_t utf8_char_length(const unsigned char* bytes, size_t i, size_t n) {
  unsigned c = bytes[i];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > n) return 0;
  uint32_t cp = len == 1 ? c : c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((bytes[i + k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (bytes[i + k] & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and code points beyond Unicode are not UTF-8.
  static constexpr uint32_t min_of_length[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_of_length[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

} // namespace

bool is_utf8(const std::string& text) {
  auto bytes = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    auto len = utf8_char_length(bytes, i, text.size());
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string with_valid_utf8(const std::string& text) {
  auto bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (auto len = utf8_char_length(bytes, i, text.size())) {
      out.append(text, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD"; // U+FFFD REPLACEMENT CHARACTER
      ++i;
    }
  }
  return out;
}

void complete(event& x, timestamp_ms now) {
  x.id = x.id.empty() ? default_id_generator().next() : normalize_id(x.id);
  if (x.creation_timestamp == 0) x.creation_timestamp = now;
}

} // namespace dispatch
