// Fork, run, send the result back through a pipe, reap with wait4 for the child's rusage.
// The child leaves with _exit: it must not run the parent's atexit handlers or flush its buffers.
#include "bench/isolate.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dispatch::bench {

namespace {

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    auto n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

} // namespace

std::string run_in_child(const std::function<std::vector<char>()>& body, std::vector<char>& bytes,
                         uint64_t& peak_rss_bytes) {
  int fds[2];
  if (::pipe(fds) != 0) return std::string{"pipe: "} + std::strerror(errno);
  std::fflush(stdout);
  std::fflush(stderr);
  auto pid = ::fork();
  if (pid < 0) return std::string{"fork: "} + std::strerror(errno);
  if (pid == 0) {
    ::close(fds[0]);
    auto result = body();
    bool ok = !result.empty() && write_all(fds[1], result.data(), result.size());
    ::close(fds[1]);
    ::_exit(ok ? 0 : 3);
  }
  ::close(fds[1]);
  char chunk[65536];
  for (;;) {
    auto n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  ::close(fds[0]);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  peak_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  if (WIFSIGNALED(status)) return "the child died of signal " + std::to_string(WTERMSIG(status));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || bytes.empty())
    return "the child gave no result (exit status " + std::to_string(WEXITSTATUS(status)) + ")";
  return {};
}

} // namespace dispatch::bench
