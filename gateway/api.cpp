// The HTTP API of docs/api.md: auth, routing, body rules and ids at the door, then one typed engine
// call per request through the bridge (api_bridge.hpp), rendered as docs/api.md's JSON shapes.
#include "gateway/api.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <thread>

#include "gateway/api_bridge.hpp"
#include "gateway/auth.hpp"
#include "gateway/console.hpp"
#include "gateway/errors.hpp"
#include "gateway/http_text.hpp"
#include "gateway/metrics_text.hpp"
#include "gateway/render.hpp"
#include "gateway/routes.hpp"
#include "messages/rql.hpp"
#include "messages/ids.hpp"
#include "messages/json.hpp"

namespace dispatch {

namespace {

/// One request on its way: what the routes need besides the context.
struct call {
  api_context_ptr ctx;
  reply_ptr reply;
  route_id route;
  std::vector<std::string> ids; // the path's ids, normalized
  std::string query;            // raw RQL
  std::string body;
};

http_response json_ok(std::string body) {
  http_response res;
  res.body = std::move(body);
  return res;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// True for an absent Content-Type or `application/json` with any parameters (charset=...).
bool json_content_type(const std::string& content_type) {
  if (content_type.empty()) return true;
  auto media = std::string_view{content_type}.substr(0, content_type.find(';'));
  return lowercase(std::string{trim_blanks(media)}) == "application/json";
}

json_limits limits_of(const api_options& options) {
  json_limits limits;
  limits.max_bytes = options.body_limit;
  return limits;
}

// The body rules of docs/api.md for the routes that take one; an empty optional when it may go on.
caf::optional<http_response> check_body(const http_request& req, const api_options& options) {
  if (req.body.empty())
    return error_response(error_code::empty_body, "body: required for this call");
  if (!json_content_type(req.content_type))
    return error_response(error_code::body_format,
                          "Content-Type must be application/json, got " + quoted(req.content_type));
  if (req.body.size() > options.body_limit)
    return error_response(
      error_code::body_format,
      "body: larger than the limit of " + std::to_string(options.body_limit) + " bytes", 413);
  return caf::none;
}

// `/health` is always open; `/metrics` is open to a loopback peer; the rest needs a token.
bool authorized(const api_options& options, const http_request& req, const route_match& m) {
  if (options.tokens.empty()) return true;
  if (m.kind == match_kind::found && m.route == route_id::health) return true;
  if (m.kind == match_kind::found && m.route == route_id::metrics && req.from_loopback) return true;
  return bearer_accepted(req.authorization, options.tokens);
}

// Parses the call's RQL; answers the error and returns none when it is malformed.
caf::optional<query> query_of(const call& c) {
  auto q = parse_rql(c.query);
  if (!q) {
    (*c.reply)(error_response(q.error()));
    return caf::none;
  }
  return std::move(*q);
}

// Parses the call's body with `parse`; answers the error and returns none when it is bad.
template <class Parse>
auto body_of(const call& c, Parse parse)
  -> caf::optional<typename decltype(parse(std::string_view{}, json_limits{}))::value_type> {
  auto parsed = parse(c.body, limits_of(c.ctx->options));
  if (!parsed) {
    (*c.reply)(error_response(parsed.error()));
    return caf::none;
  }
  return std::move(*parsed);
}

http_response affected(uint32_t n) {
  return json_ok(affected_records(n));
}

void dispatcher_routes(const call& c) {
  switch (c.route) {
    case route_id::dispatchers_find:
      if (auto q = query_of(c))
        ask_engine<dispatcher_page>(
          c.ctx, c.reply,
          [select = q->select](dispatcher_page& page) {
            return json_ok(render_page(page, select));
          },
          find_atom::value, *q);
      return;
    case route_id::dispatchers_create:
      if (auto d = body_of(c, parse_dispatcher))
        ask_engine<dispatcher>(
          c.ctx, c.reply, [](dispatcher& x) { return json_ok(to_json(x)); }, create_atom::value,
          *d);
      return;
    case route_id::dispatcher_get:
      ask_engine<dispatcher>(
        c.ctx, c.reply, [](dispatcher& x) { return json_ok(to_json(x)); }, get_atom::value,
        c.ids[0]);
      return;
    case route_id::dispatcher_update:
      if (auto patch = body_of(c, parse_dispatcher_patch))
        ask_engine<uint32_t>(c.ctx, c.reply, affected, update_atom::value, c.ids[0], *patch);
      return;
    case route_id::dispatcher_remove:
      ask_engine<uint32_t>(c.ctx, c.reply, affected, remove_atom::value, c.ids[0]);
      return;
    case route_id::action_add:
      if (auto a = body_of(c, parse_action))
        ask_engine<action>(
          c.ctx, c.reply, [](action& x) { return json_ok(to_json(x)); }, create_atom::value,
          c.ids[0], *a);
      return;
    case route_id::action_update:
      if (auto patch = body_of(c, parse_action_patch))
        ask_engine<uint32_t>(c.ctx, c.reply, affected, update_atom::value, c.ids[0], c.ids[1],
                             *patch);
      return;
    case route_id::action_remove:
      ask_engine<uint32_t>(c.ctx, c.reply, affected, remove_atom::value, c.ids[0], c.ids[1]);
      return;
    default:
      return;
  }
}

void publish_batch(const call& c) {
  auto parsed = body_of(c, parse_event_batch);
  if (!parsed) return;
  event_list valid;
  for (auto& slot : *parsed)
    if (!slot.error) valid.push_back(slot.value);
  if (valid.empty()) { // nothing for the engine: answer the rejections (or `[]`) at once
    (*c.reply)(json_ok(render_batch(*parsed, {})));
    return;
  }
  ask_engine<publish_outcome_list>(
    c.ctx, c.reply,
    [parsed = std::move(*parsed)](publish_outcome_list& outcomes) {
      return json_ok(render_batch(parsed, outcomes));
    },
    publish_atom::value, std::move(valid));
}

// Pages of JSON records (tasks, mails, events): `select` is a projection on the record. The
// message is `xs..., query`.
template <class... Ts>
void json_page_route(const call& c, Ts... xs) {
  if (auto q = query_of(c))
    ask_engine<json_page>(
      c.ctx, c.reply,
      [select = q->select](json_page& page) { return json_ok(render_page(page, select)); }, xs...,
      *q);
}

// A replay from the archive: the body's `filter` is RQL filter terms, parsed here like a
// dispatcher's (a JSON string, not a URL: no select, sort or limit, values decoded once).
void replay_routes(const call& c) {
  auto status = [](replay_status& x) { return json_ok(to_json(x)); };
  switch (c.route) {
    case route_id::events_replay: {
      auto req = body_of(c, parse_replay_request);
      if (!req) return;
      if (!req->filter.empty()) {
        auto where = parse_rql_filter(req->filter);
        if (!where)
          return (*c.reply)(error_response(
            make_error(error_code::invalid_rql, "filter: " + message_of(where.error()))));
        req->where = std::move(*where);
      }
      ask_engine<replay_status>(c.ctx, c.reply, status, replay_atom::value, std::move(*req));
      return;
    }
    case route_id::replays_find:
      if (auto q = query_of(c))
        ask_engine<replay_page>(
          c.ctx, c.reply,
          [select = q->select](replay_page& page) {
            json_page rows{page.page, {}};
            for (auto& x : page.data) rows.data.push_back(to_json(x));
            return json_ok(render_page(rows, select));
          },
          replays_atom::value, *q);
      return;
    case route_id::replay_cancel:
      ask_engine<replay_status>(c.ctx, c.reply, status, cancel_atom::value, c.ids[0]);
      return;
    default:
      return;
  }
}

void event_routes(const call& c) {
  switch (c.route) {
    case route_id::events_publish:
      // Batched with the other single publishes in flight (one engine call for many requests).
      if (auto ev = body_of(c, parse_event))
        caf::anon_send(c.ctx->publisher, publish_job{std::move(*ev), c.reply});
      return;
    case route_id::events_publish_batch:
      publish_batch(c);
      return;
    case route_id::events_find:
      json_page_route(c, events_atom::value);
      return;
    case route_id::event_rematch:
      // A set-aside event matched again: how many deliveries it made (they go out from now on).
      ask_engine<uint32_t>(
        c.ctx, c.reply,
        [id = c.ids[0]](uint32_t n) {
          return json_ok(R"({"id":")" + id + R"(","deliveries":)" + std::to_string(n) + "}");
        },
        rematch_atom::value, c.ids[0]);
      return;
    case route_id::event_discard:
      ask_engine<uint32_t>(c.ctx, c.reply, affected, discard_atom::value, c.ids[0]);
      return;
    case route_id::tasks_find:
      json_page_route(c, log_atom::value, action_kind::task);
      return;
    case route_id::mails_find:
      json_page_route(c, log_atom::value, action_kind::mail);
      return;
    default:
      return;
  }
}

void delivery_routes(const call& c) {
  switch (c.route) {
    case route_id::deliveries_find:
      if (auto q = query_of(c))
        ask_engine<delivery_page>(
          c.ctx, c.reply,
          [select = q->select](delivery_page& page) { return json_ok(render_page(page, select)); },
          deliveries_atom::value, *q);
      return;
    case route_id::delivery_replay:
      // The re-queued delivery (status pending, attempts 0) tells the caller what happens next.
      ask_engine<delivery>(
        c.ctx, c.reply, [](delivery& x) { return json_ok(to_json(x)); }, replay_atom::value,
        c.ids[0]);
      return;
    case route_id::deliveries_replay:
      if (auto q = query_of(c))
        ask_engine<uint64_t>(
          c.ctx, c.reply, [](uint64_t n) { return json_ok(affected_records(n)); },
          replay_atom::value, *q);
      return;
    case route_id::delivery_purge:
      ask_engine<uint32_t>(c.ctx, c.reply, affected, purge_atom::value, c.ids[0]);
      return;
    default:
      return;
  }
}

void operation_routes(const call& c) {
  if (c.route == route_id::health) {
    auto unhealthy = [](const caf::error& err) {
      http_response res;
      res.status = 503;
      res.body = health_body(false, "the engine did not answer: " + message_of(err));
      return res;
    };
    ask_engine_handling<bool>(
      c.ctx, c.reply,
      [](bool healthy) {
        http_response res;
        res.status = healthy ? 200 : 503;
        res.body = health_body(healthy, "an engine component is down or storage is not writable");
        return res;
      },
      unhealthy, health_atom::value);
    return;
  }
  if (c.route == route_id::backup_start) {
    if (auto to = body_of(c, parse_backup_request))
      ask_engine<backup_status>(
        c.ctx, c.reply, [](backup_status& status) { return json_ok(render_backup(status)); },
        backup_atom::value, *to);
    return;
  }
  if (c.route == route_id::backup_status) {
    ask_engine<backup_status>(
      c.ctx, c.reply, [](backup_status& status) { return json_ok(render_backup(status)); },
      backup_atom::value);
    return;
  }
  if (c.route == route_id::cluster_status) {
    ask_engine<engine_stats>(
      c.ctx, c.reply, [](engine_stats& stats) { return json_ok(render_cluster(stats.cluster)); },
      stats_atom::value);
    return;
  }
  ask_engine<engine_stats>(
    c.ctx, c.reply,
    [metrics = c.ctx->options.metrics](engine_stats& stats) {
      http_response res;
      res.content_type = prometheus_content_type;
      res.body = metrics_text(stats, metrics.get());
      return res;
    },
    stats_atom::value);
}

// Checks the path's ids (24 hex, either case) and normalizes them; answers code 12 otherwise.
bool read_ids(call& c, const std::vector<std::string>& params) {
  for (auto& param : params) {
    if (!is_object_id(param)) {
      (*c.reply)(error_response(error_code::id_format,
                                "id " + quoted(param) + ": must be 24 hex characters"));
      return false;
    }
    c.ids.push_back(normalize_id(param));
  }
  return true;
}

http_response token_required() {
  return error_response(error_code::no_permission,
                        "a valid 'Authorization: Bearer <token>' header is required");
}

void route_request(const api_context_ptr& ctx, const http_request& req, const reply_ptr& reply) {
  // The console's files are open to all: the page asks for a token for the API calls it makes.
  if (auto page = console_response(req)) return (*reply)(std::move(*page));
  auto target = split(req.target);
  auto m = match_route(req.method, target.path);
  if (!authorized(ctx->options, req, m)) return (*reply)(token_required());
  if (m.kind == match_kind::unknown_path)
    return (*reply)(
      error_response(error_code::resource_unknown, "no resource at path " + quoted(target.path)));
  if (m.kind == match_kind::wrong_method) {
    // Code 16: the resource does not exist for this method (the path alone is fine and no body
    // was read, so 22 would mislead); the status and `Allow` say what the path takes.
    auto res = error_response(error_code::resource_unknown,
                              "method " + req.method + " is not allowed on " + quoted(target.path)
                                + "; allowed: " + m.allowed,
                              405);
    res.headers.emplace_back("Allow", m.allowed);
    return (*reply)(std::move(res));
  }
  if (takes_body(m.route))
    if (auto refusal = check_body(req, ctx->options)) return (*reply)(std::move(*refusal));
  call c{ctx, reply, m.route, {}, std::move(target.query), req.body};
  if (!read_ids(c, m.params)) return;
  switch (m.route) {
    case route_id::events_publish:
    case route_id::events_publish_batch:
    case route_id::events_find:
    case route_id::event_rematch:
    case route_id::event_discard:
    case route_id::tasks_find:
    case route_id::mails_find:
      return event_routes(c);
    case route_id::events_replay:
    case route_id::replays_find:
    case route_id::replay_cancel:
      return replay_routes(c);
    case route_id::deliveries_find:
    case route_id::delivery_replay:
    case route_id::deliveries_replay:
    case route_id::delivery_purge:
      return delivery_routes(c);
    case route_id::health:
    case route_id::metrics:
    case route_id::cluster_status:
    case route_id::backup_start:
    case route_id::backup_status:
      return operation_routes(c);
    default:
      return dispatcher_routes(c);
  }
}

} // namespace

http_handler make_api_handler(caf::actor_system& sys, engine_actor engine, api_options options) {
  auto ctx = std::make_shared<api_context>();
  ctx->sys = &sys;
  ctx->engine = std::move(engine);
  ctx->options = std::move(options);
  // Enough bridges to keep every scheduler worker busy; each one multiplexes many calls.
  auto bridges = std::max(2u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < bridges; ++i) ctx->bridges.push_back(sys.spawn(bridge_actor));
  ctx->publisher = sys.spawn(publisher_bridge, ctx->engine,
                             caf::timespan{ctx->options.request_timeout});
  api_context_ptr shared = std::move(ctx);
  return [shared](http_request req, http_reply reply) {
    auto once = std::make_shared<reply_once>(std::move(reply));
    try {
      route_request(shared, req, once);
    } catch (const std::exception& ex) {
      (*once)(error_response(make_error(error_code::server, ex.what())));
    }
  };
}

http_header_check make_api_header_check(api_options options) {
  return [options = std::move(options)](const http_request& req) -> std::optional<http_response> {
    // A console path takes no body: its answer (a 405, mostly) is given without reading one.
    if (auto page = console_response(req)) return page;
    if (authorized(options, req, match_route(req.method, split(req.target).path)))
      return std::nullopt;
    return token_required();
  };
}

} // namespace dispatch
