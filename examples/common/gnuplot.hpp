// SPDX-License-Identifier: Apache-2.0
// What the programs' figures share: finding gnuplot on PATH, running it on a script, and quoting text for
// its scripts. The programs write self-contained scripts (data inline) and keep them beside their figures.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace gnuplot {

// What to install where gnuplot is missing.
inline constexpr const char* install_hint = "Debian: apt-get install gnuplot-nox";

// The gnuplot program on PATH, or "" when there is none.
inline std::string find_program() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::string_view rest(path);
  while (true) {
    const std::size_t colon = rest.find(':');
    std::string folder(rest.substr(0, colon));
    if (folder.empty()) folder = ".";  // an empty entry of PATH is the working folder
    const std::string candidate = folder + "/gnuplot";
    std::error_code ignored;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate, ignored)) return candidate;
    if (colon == std::string_view::npos) return "";
    rest.remove_prefix(colon + 1);
  }
}

inline bool available() { return !find_program().empty(); }

// `text` as a single-quoted gnuplot string, in which only a quote needs escaping (as two).
inline std::string quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += '\'';
    out += c == '\n' ? ' ' : c;
  }
  return out + "'";
}

namespace detail {

inline std::string last_line(std::FILE* file) {
  std::rewind(file);
  std::string text, line, last;
  char buffer[4096];
  std::size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, got);
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    start = end + 1;
  }
  const std::size_t first = last.find_first_not_of(" \t");
  return first == std::string::npos ? "" : last.substr(first);
}

inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace detail

// Runs gnuplot on `script`, a script that writes one image to standard output (a terminal and no `set output`),
// and returns the image's bytes. Throws std::runtime_error naming the script, with the last line gnuplot
// printed on standard error, when gnuplot cannot be started, fails or writes nothing.
inline std::vector<unsigned char> render(const std::string& script) {
  const std::string program = find_program();
  if (program.empty()) throw std::runtime_error(std::string("gnuplot is not installed (") + install_hint + ")");
  const auto fail = [&](const std::string& why) { return std::runtime_error("gnuplot failed on " + script + ": " + why); };
  std::FILE* errors = std::tmpfile();
  if (errors == nullptr) throw fail(std::string("cannot create a file for its messages: ") + std::strerror(errno));
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    std::fclose(errors);
    throw fail(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fileno(errors), STDERR_FILENO);
  std::string name = "gnuplot", path = script;
  char* argv[] = {name.data(), path.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (spawned != 0) {
    ::close(out[0]);
    std::fclose(errors);
    throw fail("cannot start " + program + ": " + std::strerror(spawned));
  }
  std::vector<unsigned char> image;
  unsigned char buffer[1 << 16];
  while (true) {
    const ::ssize_t got = ::read(out[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    image.insert(image.end(), buffer, buffer + got);
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string message = detail::last_line(errors);
  std::fclose(errors);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("gnuplot failed on " + script + " (" + detail::describe_status(status) + ")" +
                             (message.empty() ? "" : ": " + message));
  }
  if (image.empty()) throw fail("it wrote no image" + (message.empty() ? std::string() : ": " + message));
  return image;
}

}  // namespace gnuplot
