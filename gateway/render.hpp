// JSON answers of the HTTP API: find pages with `select` applied, a projection for pages of raw
// JSON records (tasks, mails, events), `{affectedRecords}`, batch outcomes and the health body.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/backup.hpp"
#include "messages/cluster.hpp"
#include "messages/event.hpp"
#include "messages/json.hpp"
#include "messages/query.hpp"

namespace dispatch {

/// `{"page":{"total":..,"offset":..,"limit":..},"data":[rows...]}`; each row is JSON text.
std::string render_page(const page_info& page, const std::vector<std::string>& rows);

std::string render_page(const dispatcher_page& page, const std::vector<std::string>& select);

std::string render_page(const delivery_page& page, const std::vector<std::string>& select);

/// A page of JSON records, each projected on `select` (see `project`).
std::string render_page(const json_page& page, const std::vector<std::string>& select);

/// Keeps `id` and the selected fields of a JSON object: a top-level name keeps that member, a
/// dotted path (`data.event.type`) keeps only that branch of nested objects, and through an array
/// (`actions.type`) that branch of each object element. Members keep their order. An empty `select` or a text that is not an object is returned unchanged.
std::string project(const std::string& json, const std::vector<std::string>& select);

/// `{"affectedRecords":n}`.
std::string affected_records(uint64_t n);

/// The answer to a batch publish: one entry per input element, in input order. `outcomes` holds
/// the engine's answers for the elements parsed without error, in their order; the others become
/// `{index, code, name, message}`.
std::string render_batch(const std::vector<parsed_event>& parsed,
                         const publish_outcome_list& outcomes);

/// `{"status":"ok"}` or `{"status":"unavailable","message":..}`.
/// `GET /cluster/v1/`: how this node sees the cluster (`node` 0 when it is not clustered).
std::string render_cluster(const cluster_stats& stats);

std::string health_body(bool healthy, const std::string& message = {});

/// `GET /admin/v1/backup` and `POST`'s answer: `{state, to, phase?, startedTimestamp,
/// finishedTimestamp?, durationMs?, bytesTotal, bytesCopied, parts, files?, bytes?, lastSequence?,
/// error?}`; only `{state}` before the first backup.
std::string render_backup(const backup_status& status);

} // namespace dispatch
