// JSON object text that the deliveries of one event share: a task's `data` and a mail's `content`
// are the event's JSON between a fixed head and tail (the action's own data around it), so one
// event with 300 actions holds its bytes once, not 300 times. Text set whole (by an embedding user,
// or read back from the store) is held as it is.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/none.hpp>

namespace dispatch {

class json_text {
public:
  using part = std::shared_ptr<const std::string>;

  /// `{}`.
  json_text();

  /// The text as given (validated where it came in).
  json_text(std::string text); // NOLINT: implicit, a task's data is assigned as text
  json_text(const char* text); // NOLINT

  /// `head` + `event` + `tail`, each shared; `event` is the event's JSON object text.
  json_text(part head, part event, part tail);

  /// The whole text (a copy when composed).
  std::string str() const;

  /// Its length in bytes.
  size_t size() const;

  /// Appends the whole text to `out`.
  void append_to(std::string& out) const;

  /// True when made by the engine around an event: well-formed by construction.
  bool composed() const { return event_ != nullptr; }

  /// The event's JSON text when composed around one, else empty.
  std::string_view event_part() const {
    return event_ ? std::string_view{*event_} : std::string_view{};
  }

  /// Calls `f(std::string_view)` on each part in order.
  template <class F>
  void for_each_part(F&& f) const {
    f(std::string_view{*head_});
    if (event_) {
      f(std::string_view{*event_});
      f(std::string_view{*tail_});
    }
  }

  friend bool operator==(const json_text& x, const json_text& y);
  friend bool operator!=(const json_text& x, const json_text& y) { return !(x == y); }

private:
  part head_; // the whole text when not composed; never null
  part event_;
  part tail_;
};

/// Writes the whole text.
std::ostream& operator<<(std::ostream& out, const json_text& x);

/// On the wire and in the store a json_text is its whole text, so the encoding is a string's.
template <class Inspector>
typename std::enable_if<Inspector::reads_state, typename Inspector::result_type>::type
inspect(Inspector& f, json_text& x) {
  auto text = x.str();
  return f(text);
}

template <class Inspector>
typename std::enable_if<Inspector::writes_state, typename Inspector::result_type>::type
inspect(Inspector& f, json_text& x) {
  std::string text;
  return f(text, caf::meta::load_callback([&]() -> caf::error {
             x = json_text{std::move(text)};
             return caf::none;
           }));
}

} // namespace dispatch
