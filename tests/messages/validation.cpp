// Tests of validation on typed values, as embedding users hand them in without any JSON: every rule
// names the field path and the reason, with docs/api.md's code.
#include <boost/test/unit_test.hpp>

#include <string>

#include "codec_helpers.hpp"
#include "messages/validation.hpp"
#include "printing.hpp"

using namespace dispatch;
using dispatch::test::check_accepted;
using dispatch::test::check_rejected;

namespace {

constexpr auto missing = error_code::missing_required_fields;
constexpr auto field_format = error_code::field_format;

event good_event() {
  return {"65f0a1b2c3d4e5f601234567", "user.created", R"({"k":1})", 1700000000000};
}

action good_task() {
  action x;
  x.kind = action_kind::task;
  x.function_name = "f";
  return x;
}

action good_mail() {
  action x;
  x.kind = action_kind::mail;
  x.recipients.to = {"a@example.com"};
  x.template_id = "65f0a1b2c3d4e5f60123456a";
  return x;
}

} // namespace

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(utf8) {
  for (std::string ok : {"", "plain", "ünïcødé", "🎉", "\x7f", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"})
    BOOST_TEST(is_utf8(ok), ok);
  for (std::string bad :
       {"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\x80", "\xe2\x82", "ok\xc3", "\xc3\x28"})
    BOOST_TEST(!is_utf8(bad));
}

BOOST_AUTO_TEST_CASE(emails) {
  for (std::string ok : {"a@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.io",
                         "ünï@exämple.de", "x_y-z@a-b.example.org"})
    BOOST_TEST(is_email(ok), ok);
  for (std::string bad :
       {"", "a", "@example.com", "a@", "a@example", "a @example.com", "a@exa mple.com",
        "a@@example.com", ".a@example.com", "a.@example.com", "a..b@example.com", "a@-example.com",
        "a@example-.com", "a@example.c", "a@example..com", "a@.example.com", "<a>@example.com",
        "a@example.com\n", "a@exam\xffple.com"})
    BOOST_TEST(!is_email(bad), bad);
  BOOST_TEST(is_email(std::string(64, 'l') + "@example.com"));
  BOOST_TEST(!is_email(std::string(65, 'l') + "@example.com"));
  auto label = std::string(60, 'd') + ".";
  auto long_domain = label + label + label + label;        // 244 bytes
  BOOST_TEST(is_email("abcdef@" + long_domain + "com"));   // 254 bytes
  BOOST_TEST(!is_email("abcdefg@" + long_domain + "com")); // 255 bytes
}

BOOST_AUTO_TEST_CASE(events) {
  check_accepted(validate(good_event()));
  check_accepted(validate(event{"", "t", "{}", 0})); // id and time are assigned by ingest
  auto ev = good_event();
  ev.id = "65F0A1B2C3D4E5F601234567"; // uppercase is accepted (ingest stores it lowercase)
  check_accepted(validate(ev));
  ev.id = "not-an-id";
  check_rejected(validate(ev), error_code::id_format, "id: must be 24 hex characters");
  ev = good_event();
  ev.type = "";
  check_rejected(validate(ev), missing, "type: required");
  ev.type = std::string(257, 't');
  check_rejected(validate(ev), field_format, "type: longer than 256 bytes");
  ev.type = "bad\xff";
  check_rejected(validate(ev), field_format, "type: invalid UTF-8");
  ev = good_event();
  for (std::string content : {"[]", "", "{", R"({"a":1,"a":2})", "\"x\"", "{} {}"})
    check_rejected(validate(ev = event{"", "t", content, 0}), field_format, "content: ");
  ev.content = std::string(65, '[') + std::string(65, ']');
  check_rejected(validate(ev), field_format, "content: nesting deeper than 64");
  ev.content = R"({"k":"12345678"})";
  check_accepted(validate(ev, 16));
  check_rejected(validate(ev, 15), field_format, "content: larger than 15 bytes");
  ev = good_event();
  ev.creation_timestamp = -1;
  check_rejected(validate(ev), field_format, "creationTimestamp: not a plausible time");
  ev.creation_timestamp = 253402300800000; // year 10000
  check_rejected(validate(ev), field_format, "creationTimestamp: not a plausible time");
}

BOOST_AUTO_TEST_CASE(task_actions) {
  check_accepted(validate(good_task()));
  auto x = good_task();
  x.function_name.clear();
  check_rejected(validate(x, "actions[3]"), missing, "actions[3].functionName: required");
  x = good_task();
  x.data = "[1]";
  check_rejected(validate(x), field_format, "data: must be a JSON object");
  x.data = R"({"a":1,"a":1})";
  check_rejected(validate(x), field_format, "data: duplicate key \"a\"");
  x = good_task();
  x.tags = string_list{"ok", "\xc3"};
  check_rejected(validate(x), field_format, "tags[1]: invalid UTF-8");
  x = good_task();
  x.start_timestamp = -10;
  check_rejected(validate(x), field_format, "startTimestamp: not a plausible time");
  x = good_task();
  x.template_id = "65f0a1b2c3d4e5f60123456a";
  check_rejected(validate(x), field_format, "templateId: not allowed on a task action");
  x = good_task();
  x.recipients.cc = string_list{};
  check_rejected(validate(x), field_format, "recipients: not allowed on a task action");
  x = good_task();
  x.id = "123";
  check_rejected(validate(x, "actions[0]"), error_code::id_format, "actions[0].id: must be 24");
  x = good_task();
  x.name = std::string(1024, 'n');
  check_accepted(validate(x));
  x.name = std::string(1025, 'n');
  check_rejected(validate(x), field_format, "name: longer than 1024 bytes");
  x = good_task();
  x.description = "\xed\xa0\x80";
  check_rejected(validate(x), field_format, "description: invalid UTF-8");
}

BOOST_AUTO_TEST_CASE(mail_actions) {
  check_accepted(validate(good_mail()));
  auto x = good_mail();
  x.recipients.to.clear();
  check_rejected(validate(x, "actions[1]"), missing, "actions[1].recipients.to: required");
  x = good_mail();
  x.recipients.to.push_back("nope");
  check_rejected(validate(x, "actions[1]"), field_format,
                 "actions[1].recipients.to[1]: not an email address");
  x = good_mail();
  x.recipients.cc = string_list{"c@example.com", "c at example.com"};
  check_rejected(validate(x), field_format, "recipients.cc[1]: not an email address");
  x = good_mail();
  x.recipients.bcc = string_list{""};
  check_rejected(validate(x), field_format, "recipients.bcc[0]: not an email address");
  x = good_mail();
  x.template_id.clear();
  check_rejected(validate(x), missing, "templateId: required");
  x.template_id = "65f0a1b2c3d4e5f60123456";
  check_rejected(validate(x), field_format, "templateId: must be 24 hex characters");
  x = good_mail();
  x.function_name = "f";
  check_rejected(validate(x), field_format, "functionName: not allowed on a mail action");
  x = good_mail();
  x.priority = 0;
  check_rejected(validate(x), field_format, "priority: not allowed on a mail action");
}

BOOST_AUTO_TEST_CASE(dispatchers) {
  dispatcher d;
  d.event_type = "user.created";
  d.actions = {good_task(), good_mail()};
  check_accepted(validate(d));
  d.actions[1].recipients.to = {"a@example.com", "b@@example.com"};
  check_rejected(validate(d), field_format, "actions[1].recipients.to[1]: not an email address");
  d.actions[1] = good_mail();
  d.event_type.clear();
  check_rejected(validate(d), missing, "eventType: required");
  d.event_type = std::string(256, 'e');
  check_accepted(validate(d));
  d.event_type += "e";
  check_rejected(validate(d), field_format, "eventType: longer than 256 bytes");
  d.event_type = "e";
  d.id = "zz";
  check_rejected(validate(d), error_code::id_format, "id: must be 24 hex characters");
  d.id.clear();
  d.tags = string_list{"ok", "\x80"};
  check_rejected(validate(d), field_format, "tags[1]: invalid UTF-8");
  d.tags = caf::none;
  d.update_timestamp = -1;
  check_rejected(validate(d), field_format, "updateTimestamp: not a plausible time");
}

BOOST_AUTO_TEST_CASE(dispatcher_patches) {
  check_accepted(validate(dispatcher_patch{}));
  dispatcher_patch p;
  p.event_type = "";
  check_rejected(validate(p), missing, "eventType: required");
  p.event_type = "e";
  p.description = std::string(1025, 'd');
  check_rejected(validate(p), field_format, "description: longer than 1024 bytes");
  p.description = "";
  p.tags = string_list{""};
  check_accepted(validate(p)); // empty strings are allowed where they are not required
}

BOOST_AUTO_TEST_CASE(action_patches_carry_only_fields_of_their_kind) {
  action_patch p;
  p.name = "n";
  check_accepted(validate(p, action_kind::task));
  check_accepted(validate(p, action_kind::mail));
  p.priority = 3;
  p.data = R"({"a":[]})";
  check_accepted(validate(p, action_kind::task));
  check_rejected(validate(p, action_kind::mail), field_format,
                 "data: not allowed on a mail action");
  action_patch m;
  m.template_id = "65f0a1b2c3d4e5f60123456a";
  m.recipients = recipients{{"a@example.com"}, caf::none, caf::none};
  check_accepted(validate(m, action_kind::mail));
  check_rejected(validate(m, action_kind::task), field_format,
                 "recipients: not allowed on a task action");
  m.recipients->to.clear();
  check_rejected(validate(m, action_kind::mail), missing, "recipients.to: required");
  m.recipients = caf::none;
  m.template_id = "x";
  check_rejected(validate(m, action_kind::mail), field_format, "templateId: must be 24 hex");
  action_patch t;
  t.function_name = "";
  check_rejected(validate(t, action_kind::task), missing, "functionName: required");
  t.function_name = "f";
  t.data = "{";
  check_rejected(validate(t, action_kind::task), field_format, "data: not valid JSON");
}

BOOST_AUTO_TEST_SUITE_END()
