// JSON object text shared between the deliveries of one event.
#include "messages/json_text.hpp"

#include <ostream>

namespace dispatch {

namespace {

const json_text::part& empty_object() {
  static const json_text::part text = std::make_shared<const std::string>("{}");
  return text;
}

} // namespace

json_text::json_text() : head_(empty_object()) {}

json_text::json_text(std::string text)
    : head_(std::make_shared<const std::string>(std::move(text))) {}

json_text::json_text(const char* text) : json_text(std::string{text}) {}

json_text::json_text(part head, part event, part tail)
    : head_(std::move(head)), event_(std::move(event)), tail_(std::move(tail)) {
  if (!head_ || !event_ || !tail_) { // a missing part reads as nothing
    std::string text;
    for (auto* p : {&head_, &event_, &tail_})
      if (*p) text += **p;
    *this = json_text{std::move(text)};
  }
}

std::string json_text::str() const {
  if (!event_) return *head_;
  std::string out;
  append_to(out);
  return out;
}

size_t json_text::size() const {
  return head_->size() + (event_ ? event_->size() + tail_->size() : 0);
}

void json_text::append_to(std::string& out) const {
  out.reserve(out.size() + size());
  for_each_part([&](std::string_view p) { out.append(p); });
}

bool operator==(const json_text& x, const json_text& y) {
  if (!x.event_ && !y.event_) return *x.head_ == *y.head_;
  if (x.head_ == y.head_ && x.event_ == y.event_ && x.tail_ == y.tail_) return true;
  return x.size() == y.size() && x.str() == y.str();
}

std::ostream& operator<<(std::ostream& out, const json_text& x) {
  x.for_each_part([&](std::string_view part) { out << part; });
  return out;
}

} // namespace dispatch
