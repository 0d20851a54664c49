// The backup runner: one backup of the engine's databases, on a thread of its own (it blocks on file
// I/O for as long as the copy takes), reporting through the job the facade answers status from.
#include "actors/backup.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <thread>

#include "logging/log.hpp"
#include "messages/error_code.hpp"
#include "persistence/backup.hpp"

#ifndef DISPATCH_VERSION
#define DISPATCH_VERSION "unknown"
#endif

namespace dispatch {

namespace {

/// One line of the node's log (failures are logged as errors where they happen).
void say(const std::string& line) {
  DISPATCH_LOG(info, backup) << line;
}

std::string seconds_since(timestamp_ms start) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(now_ms() - start) / 1000);
  return text;
}

/// Logs the copy's progress at each tenth of the bytes expected.
std::function<void(uint64_t)> progress_logger(uint64_t total) {
  auto next_tenth = std::make_shared<std::atomic<uint64_t>>(1);
  return [total, next_tenth](uint64_t copied) {
    if (total == 0) return;
    auto tenth = std::min<uint64_t>(copied * 10 / total, 9);
    if (tenth < next_tenth->load()) return;
    next_tenth->store(tenth + 1);
    say(size_text(copied) + " of ~" + size_text(total) + " copied (" + std::to_string(tenth * 10)
        + "%)");
  };
}

/// Fault injection for the tests (`DISPATCH_FAULT_PAUSE_BACKUP=<path>`): a backup that started
/// creates `<path>.entered` and waits while `<path>` exists (or until the engine stops).
void pause_if_asked(const backup_progress& progress) {
  auto path = std::getenv("DISPATCH_FAULT_PAUSE_BACKUP");
  if (path == nullptr || *path == '\0') return;
  say(std::string{"fault injection: waiting while "} + path + " exists");
  std::ofstream{std::string{path} + ".entered"};
  std::error_code ec;
  while (std::filesystem::exists(path, ec) && !progress.stop.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

/// Copies every database into `to`, the companions first, then writes the manifest.
///
/// Why the companions first: a cluster follower records which replicated dispatcher changes it
/// applied only after applying them to the engine, so a copy of its store taken before the
/// engine's never claims a change the engine's copy lacks (a restored node applies again what
/// its store does not record). Events in its forward queue were durable here before they were
/// forwarded; a restored node forwards them again and their owner drops the repeats.
caf::expected<backup_manifest> copy_all(backup_job& job, const backup_sources& sources,
                                        const std::string& to, timestamp_ms started) {
  backup_manifest m;
  m.software = DISPATCH_VERSION;
  m.data_dir = sources.data_dir;
  m.started = started;
  auto copy_one = [&](const std::string& name, auto&& copy) -> caf::error {
    {
      std::lock_guard<std::mutex> guard{job.mutex};
      job.status.phase = name;
    }
    auto part = copy(to + "/" + name, job.progress);
    if (!part) return part.error();
    say("copied the " + name + " database: " + std::to_string(part->files) + " files, "
        + size_text(part->bytes) + ", checksums verified, the copy opens");
    m.files += part->files;
    m.bytes += part->bytes;
    if (name == engine_backup_part) {
      m.last_sequence = part->last_sequence;
      m.shards = part->shards;
    }
    if (part->node != 0) m.node = part->node;
    m.parts.push_back(std::move(*part));
    return caf::none;
  };
  for (auto& companion : sources.companions)
    if (auto err = copy_one(companion.name, companion.copy)) return err;
  auto engine_copy = [&](const std::string& dir, backup_progress& progress) {
    return sources.db->backup(dir, progress);
  };
  if (auto err = copy_one(engine_backup_part, engine_copy)) return err;
  m.finished = now_ms();
  if (auto err = write_backup_manifest(to, m)) return err;
  return m;
}

/// Records how the backup ended and lets the next one start.
void finish(backup_job& job, const caf::expected<backup_manifest>& result) {
  std::lock_guard<std::mutex> guard{job.mutex};
  auto& st = job.status;
  st.finished = now_ms();
  st.phase.clear();
  if (result) {
    st.state = backup_state::done;
    st.files = result->files;
    st.bytes = result->bytes;
    st.last_sequence = result->last_sequence;
    st.bytes_total = result->bytes;
    st.bytes_copied = result->bytes;
  } else {
    st.state = backup_state::failed;
    st.error = message_of(result.error());
    st.bytes_copied = job.progress.bytes_copied.load();
  }
  job.progress.on_copied = nullptr;
  job.busy = false;
}

/// The target, checked and created; a refusal leaves the job as it was (the claim released).
caf::expected<std::string> prepare_target(const std::string& to, const backup_sources& sources,
                                          bool& created) {
  if (sources.db->options().in_memory)
    return make_error(error_code::conflict,
                      "backups need a data directory: this engine keeps "
                      "its data in memory (dispatch.in-memory)");
  auto target = check_backup_target(to, sources.data_dir);
  if (!target) return target.error();
  std::error_code ec;
  created = std::filesystem::create_directory(*target, ec);
  if (ec)
    return make_error(error_code::field_format,
                      "to: cannot create " + *target + ": " + ec.message());
  return target;
}

/// Marks the job running into `target` and answers the status as it is now.
backup_status start(backup_job& job, const backup_sources& sources, const std::string& target) {
  std::vector<std::string> parts;
  uint64_t total = sources.db->live_bytes();
  for (auto& companion : sources.companions) {
    parts.push_back(companion.name);
    total += companion.live_bytes();
  }
  parts.push_back(engine_backup_part);
  {
    std::lock_guard<std::mutex> guard{job.mutex};
    job.status = backup_status{};
    job.status.state = backup_state::running;
    job.status.to = target;
    job.status.started = now_ms();
    job.status.bytes_total = total;
    job.status.parts = parts;
    job.status.phase = parts.front();
    job.progress.bytes_copied = 0;
    job.progress.on_copied = progress_logger(total);
  }
  std::string names;
  for (auto& p : parts) names += (names.empty() ? "" : ", ") + p;
  say("started into " + target + " (" + names + "; " + size_text(total) + " in their live files)");
  return backup_snapshot(job);
}

} // namespace

caf::error claim_backup(backup_job& job) {
  std::lock_guard<std::mutex> guard{job.mutex};
  if (job.busy) {
    auto& st = job.status;
    return make_error(error_code::conflict,
                      "a backup is already running"
                        + (st.to.empty() ? std::string{} : " (into " + st.to + ")")
                        + "; one runs at a time: wait for it to end (GET /admin/v1/backup)");
  }
  job.busy = true;
  return caf::none;
}

backup_status backup_snapshot(backup_job& job) {
  std::lock_guard<std::mutex> guard{job.mutex};
  auto result = job.status;
  if (result.state == backup_state::running)
    result.bytes_copied = std::min(job.progress.bytes_copied.load(), result.bytes_total);
  return result;
}

backup_runner_actor::behavior_type
backup_runner(backup_runner_actor::stateful_pointer<backup_runner_state> self, backup_job_ptr job,
              backup_sources sources) {
  return {
    [self, job, sources](backup_atom, const std::string& to) -> caf::result<backup_status> {
      bool created = false;
      auto target = prepare_target(to, sources, created);
      if (!target) {
        {
          std::lock_guard<std::mutex> guard{job->mutex};
          job->busy = false;
        }
        self->quit();
        return target.error();
      }
      // Answered now: the copy takes as long as it takes, and the caller follows the status.
      auto rp = self->make_response_promise<backup_status>();
      auto status = start(*job, sources, *target);
      auto started = status.started;
      rp.deliver(std::move(status));
      pause_if_asked(job->progress);
      caf::expected<backup_manifest> result = make_error(error_code::server, "backup: not run");
      try {
        result = copy_all(*job, sources, *target, started);
      } catch (const std::exception& ex) {
        result = make_error(error_code::server, std::string{"backup: "} + ex.what());
      }
      if (result) {
        say("done into " + *target + " in " + seconds_since(started) + ": "
            + std::to_string(result->files) + " files, " + size_text(result->bytes)
            + "; last event sequence " + std::to_string(result->last_sequence));
      } else {
        // Nothing half-made is left to be mistaken for a backup.
        std::vector<std::string> written{backup_manifest_file,
                                         std::string{backup_manifest_file} + ".tmp"};
        for (auto& companion : sources.companions) written.push_back(companion.name);
        written.push_back(engine_backup_part);
        auto left = remove_partial(*target, written, created);
        DISPATCH_LOG(error, backup)
          << ("failed into " + *target + " after " + seconds_since(started) + ": "
              + message_of(result.error())
              + (left.empty() ? "; its partial copy was removed" : "; could not remove " + left));
      }
      finish(*job, result);
      self->quit();
      return rp;
    },
  };
}

} // namespace dispatch
