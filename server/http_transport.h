// HttpTransport: cpp-httplib's Server with the connection handling radix needs for
// thousands of long-lived streams:
// - our own accept loop (serve()): a failed accept() (a connection reset while queued, a
//   signal, out of file descriptors, memory or threads) is retried after a short pause;
//   httplib's loop would close the listening socket and refuse every later client;
// - every connection runs on an ElasticTaskQueue worker (no fixed thread cap);
// - the listen backlog is raised (httplib's default of 5 drops bursts of connects);
// - a fresh connection may take up to the read timeout to send its first request (a
//   client busy opening thousands of connections can be seconds late); idle keep-alive
//   connections are closed only well after the timeout advertised in `Keep-Alive`, so a
//   client reusing one at the last moment never meets a closed socket;
// - the connection loop is ours, so a handler can ask whether its client is still
//   there (client_connected()) even while it is not writing, and can be told when it
//   leaves (watch_client(): one epoll thread watches every waiting connection) — that is
//   how a request whose client went away is aborted while it waits in the queue or
//   generates, without thousands of waiting threads waking on a timer to look;
// - idle connections sleep in poll() until their next request, the keep-alive deadline
//   or shutdown() (an eventfd), never in short slices.
// Writes use MSG_NOSIGNAL: a vanished client never raises SIGPIPE.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace radix::server {

struct TransportOptions {
  size_t max_threads = 16384;     // concurrent connections served at once
  size_t keep_idle_threads = 16;  // workers kept when idle
  std::chrono::milliseconds idle_thread_timeout{5000};
  int listen_backlog = 4096;
  // Idle keep-alive connections: clients are told `keep_alive_timeout` and close them
  // first; the server closes one after `keep_alive_grace` more.
  std::chrono::seconds keep_alive_timeout{5};
  std::chrono::seconds keep_alive_grace{10};
};

class PeerWatcher;

class HttpTransport : public httplib::Server {
 public:
  // Registration made by watch_client(); destroying it unregisters (after which the
  // callback is never called, nor running).
  class ClientWatch {
   public:
    ClientWatch() = default;
    ClientWatch(PeerWatcher* watcher, uint64_t id, int sock) : watcher_(watcher), id_(id), sock_(sock) {}
    ClientWatch(ClientWatch&& other) noexcept { *this = std::move(other); }
    ClientWatch& operator=(ClientWatch&& other) noexcept;
    ClientWatch(const ClientWatch&) = delete;
    ClientWatch& operator=(const ClientWatch&) = delete;
    ~ClientWatch() { reset(); }
    void reset();
    bool active() const { return watcher_ != nullptr; }

   private:
    PeerWatcher* watcher_ = nullptr;
    uint64_t id_ = 0;
    int sock_ = -1;
  };

  explicit HttpTransport(const TransportOptions& options);
  ~HttpTransport() override;

  // Binds and raises the backlog; false when the address is unusable. port 0 = ephemeral.
  bool bind(const std::string& host, int port);
  int bound_port() const { return bound_port_; }

  // Accepts connections until shutdown() (call on a thread of its own, after bind()).
  // On return every connection has been served and closed.
  void serve();
  // Stops accepting and wakes serve(); connections finish their current request.
  void shutdown();

  // On a handler's thread: false once the peer of the connection being served has closed
  // it or reset it. Always true off a connection thread.
  static bool client_connected();

  // On a handler's thread: until the returned registration is destroyed, `on_gone` is
  // called once, on the transport's watcher thread, when the peer closes or resets the
  // connection (at once if it already has). It must be quick and must not block. Off a
  // connection thread, or if the socket cannot be watched, the registration is inactive
  // and the caller relies on polling client_connected().
  static ClientWatch watch_client(std::function<void()> on_gone);

  // On a handler's thread: close the connection once the current response is written
  // (error responses, whose request body may be partly unread, never keep the
  // connection alive: leftover body bytes would be parsed as the next request).
  static void close_after_response();

 private:
  bool process_and_close_socket(socket_t sock) override;

  // Waits until the socket is readable, `timeout` passes or shutdown(); true if readable.
  bool wait_readable(int sock, std::chrono::milliseconds timeout) const;

  TransportOptions options_;
  int bound_port_ = -1;
  std::atomic<bool> stopping_{false};
  int stop_fd_ = -1;  // eventfd, readable once shutdown() is called
  std::unique_ptr<PeerWatcher> watcher_;  // while serve() runs
};

}  // namespace radix::server
