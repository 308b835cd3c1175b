// HttpTransport: our connection loop and socket stream under cpp-httplib's request
// parser and router (see http_transport.h).
#include "server/http_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/logging.h"
#include "server/task_queue.h"

namespace radix::server {

// One epoll thread for the whole transport: each registered socket's callback runs once
// when its peer closes (EPOLLRDHUP) or resets (EPOLLHUP/EPOLLERR) the connection.
// Callbacks run under the registry's lock, so once remove() returns none is running or
// will run. Registrations are keyed by id, not by descriptor, so a descriptor number that
// is closed and reused can never reach a stale callback.
class PeerWatcher {
 public:
  PeerWatcher() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd_ < 0 || stop_fd_ < 0) {
      RADIX_LOG_WARN("cannot watch clients ({}); waiting requests poll them instead", std::strerror(errno));
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;  // ids start at 1
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &ev) != 0) return;
    thread_ = std::thread([this] { loop(); });
  }
  ~PeerWatcher() {
    if (thread_.joinable()) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
      thread_.join();
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (stop_fd_ >= 0) ::close(stop_fd_);
  }
  PeerWatcher(const PeerWatcher&) = delete;
  PeerWatcher& operator=(const PeerWatcher&) = delete;

  // 0 when the socket cannot be watched.
  uint64_t add(int sock, std::function<void()> on_gone) {
    if (!thread_.joinable()) return 0;
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t id = next_id_++;
    epoll_event ev{};
    ev.events = EPOLLRDHUP | EPOLLONESHOT;  // EPOLLHUP and EPOLLERR are always reported
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, sock, &ev) != 0) return 0;
    callbacks_.emplace(id, std::move(on_gone));
    return id;
  }

  void remove(uint64_t id, int sock) {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_.erase(id);
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, sock, nullptr);
  }

 private:
  void loop() {
    epoll_event events[64];
    for (;;) {
      const int n = ::epoll_wait(epoll_fd_, events, 64, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        RADIX_LOG_WARN("epoll_wait failed: {}", std::strerror(errno));
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) {
        const uint64_t id = events[i].data.u64;
        if (id == 0) return;  // the destructor's stop
        auto it = callbacks_.find(id);
        if (it == callbacks_.end()) continue;  // removed after epoll_wait returned
        auto fn = std::move(it->second);
        callbacks_.erase(it);
        fn();
      }
    }
  }

  int epoll_fd_ = -1;
  int stop_fd_ = -1;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::function<void()>> callbacks_;
  uint64_t next_id_ = 1;
  std::thread thread_;
};

namespace {

thread_local int t_connection_socket = -1;
thread_local bool t_close_after_response = false;
thread_local PeerWatcher* t_watcher = nullptr;

int poll_one(int sock, short events, int timeout_ms) {
  pollfd pfd{sock, events, 0};
  int r;
  do {
    r = ::poll(&pfd, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r > 0 && (pfd.revents & (POLLERR | POLLNVAL))) return -1;
  return r;
}

// True unless the peer has closed or reset the connection. Pending request bytes
// (a pipelined request) count as alive.
bool peer_alive(int sock) {
  pollfd pfd{sock, POLLIN, 0};
  int r = ::poll(&pfd, 1, 0);
  if (r == 0) return true;
  if (r < 0) return errno == EINTR;
  if (pfd.revents & (POLLERR | POLLNVAL | POLLHUP)) return false;
  char byte;
  ssize_t n = ::recv(sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return true;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  return false;
}

int to_ms(time_t sec, time_t usec) {
  return static_cast<int>(sec * 1000 + usec / 1000);
}

void endpoint_of(int sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  int r = peer ? ::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len)
               : ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    port = ntohs(a->sin6_port);
  }
  ip = buf;
}

// One connection's byte stream: buffered reads (httplib parses headers a byte at a time),
// timed waits, writes that fail once the peer is gone.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override {
    return pos_ < len_ || poll_one(sock_, POLLIN, read_timeout_ms_) > 0;
  }
  bool is_writable() const override {
    return poll_one(sock_, POLLOUT, write_timeout_ms_) > 0 && peer_alive(sock_);
  }
  bool has_buffered() const { return pos_ < len_; }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      if (!is_readable()) return -1;
      ssize_t n;
      do {
        n = ::recv(sock_, buf_, sizeof(buf_), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      pos_ = 0;
      len_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    endpoint_of(sock_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    endpoint_of(sock_, false, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  int sock_;
  int read_timeout_ms_;
  int write_timeout_ms_;
  char buf_[4096];
  size_t pos_ = 0;
  size_t len_ = 0;
};

}  // namespace

HttpTransport::ClientWatch& HttpTransport::ClientWatch::operator=(ClientWatch&& other) noexcept {
  if (this != &other) {
    reset();
    watcher_ = std::exchange(other.watcher_, nullptr);
    id_ = std::exchange(other.id_, 0);
    sock_ = std::exchange(other.sock_, -1);
  }
  return *this;
}

void HttpTransport::ClientWatch::reset() {
  if (watcher_ != nullptr) watcher_->remove(id_, sock_);
  watcher_ = nullptr;
}

HttpTransport::HttpTransport(const TransportOptions& options) : options_(options) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  new_task_queue = [opts = options_] {
    return new ElasticTaskQueue(opts.max_threads, opts.keep_idle_threads, opts.idle_thread_timeout);
  };
  set_keep_alive_max_count(1000);
  set_keep_alive_timeout(options_.keep_alive_timeout.count());  // what Keep-Alive advertises
}

HttpTransport::~HttpTransport() {
  const socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
  if (sock != INVALID_SOCKET) ::close(sock);  // bound but never served
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

bool HttpTransport::bind(const std::string& host, int port) {
  if (port == 0) {
    bound_port_ = bind_to_any_port(host);
    if (bound_port_ < 0) return false;
  } else {
    if (!bind_to_port(host, port)) return false;
    bound_port_ = port;
  }
  // httplib listens with a backlog of 5; listen() again on the bound socket raises it
  // (the kernel caps it at net.core.somaxconn).
  ::listen(svr_sock_, options_.listen_backlog);
  return true;
}

void HttpTransport::serve() {
  watcher_ = std::make_unique<PeerWatcher>();
  std::unique_ptr<httplib::TaskQueue> queue(new_task_queue());
  const socket_t listener = svr_sock_.load();
  uint64_t failures = 0;
  while (listener != INVALID_SOCKET && !stopping_.load()) {
    const socket_t sock = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (sock < 0) {
      const int err = errno;
      if (stopping_.load()) break;  // shutdown() woke us
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EAGAIN) continue;
      // Out of descriptors, socket buffers or memory: wait for connections to end rather
      // than spin, and keep listening (the client waits in the backlog meanwhile).
      if (failures++ % 1000 == 0) {
        RADIX_LOG_WARN("accept() failed: {} (retrying; {} failures so far)", std::strerror(err),
                       failures);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    try {
      queue->enqueue([this, sock] { process_and_close_socket(sock); });
    } catch (const std::exception& e) {  // no thread could be started for it
      if (failures++ % 1000 == 0) {
        RADIX_LOG_WARN("cannot serve a connection: {} ({} failures so far)", e.what(), failures);
      }
      ::close(sock);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  queue->shutdown();  // lets running connections finish
  watcher_.reset();
  const socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
  if (sock != INVALID_SOCKET) ::close(sock);
}

void HttpTransport::shutdown() {
  stopping_.store(true);
  if (stop_fd_ >= 0) {  // wakes every idle connection's poll()
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
  }
  // Wakes a blocked accept() with EINVAL; serve() closes the socket after it returns, so
  // its descriptor cannot be reused under a pending accept().
  const socket_t sock = svr_sock_.load();
  if (sock != INVALID_SOCKET) ::shutdown(sock, SHUT_RDWR);
}

bool HttpTransport::client_connected() {
  return t_connection_socket < 0 || peer_alive(t_connection_socket);
}

HttpTransport::ClientWatch HttpTransport::watch_client(std::function<void()> on_gone) {
  if (t_connection_socket < 0 || t_watcher == nullptr) return {};
  const uint64_t id = t_watcher->add(t_connection_socket, std::move(on_gone));
  if (id == 0) return {};
  return ClientWatch(t_watcher, id, t_connection_socket);
}

bool HttpTransport::wait_readable(int sock, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (stopping_.load()) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    // Without the eventfd (it could not be made) the wait is sliced so shutdown() is seen.
    pollfd pfds[2] = {{sock, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int nfds = stop_fd_ >= 0 ? 2 : 1;
    const int timeout_ms = static_cast<int>(nfds == 2 ? left.count() : std::min<int64_t>(left.count(), 50));
    const int r = ::poll(pfds, nfds, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) continue;
    if (pfds[0].revents & (POLLERR | POLLNVAL)) return false;
    if (pfds[0].revents & (POLLIN | POLLHUP)) return true;  // a request, or EOF for the parser
    // else: only the stop eventfd fired; the loop sees stopping_
  }
}

void HttpTransport::close_after_response() {
  t_close_after_response = true;
}

bool HttpTransport::process_and_close_socket(socket_t sock) {
  t_connection_socket = sock;
  t_watcher = watcher_.get();
  t_close_after_response = false;
  ConnectionStream stream(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                          to_ms(write_timeout_sec_, write_timeout_usec_));
  bool ok = false;
  // The first request may be late (the read timeout); between requests the connection
  // is idle for at most the advertised keep-alive timeout plus the grace.
  const auto first_request_wait =
      std::chrono::milliseconds(to_ms(read_timeout_sec_, read_timeout_usec_));
  const auto idle_wait = std::chrono::duration_cast<std::chrono::milliseconds>(
      options_.keep_alive_timeout + options_.keep_alive_grace);
  for (size_t served = 0; served < keep_alive_max_count_ && !stopping_.load(); ++served) {
    // Sleep until the next request, the deadline or shutdown().
    const bool readable =
        stream.has_buffered() || wait_readable(sock, served == 0 ? first_request_wait : idle_wait);
    if (!readable) break;
    bool close_after = served + 1 >= keep_alive_max_count_;
    bool connection_closed = false;
    ok = process_request(stream, close_after, connection_closed, nullptr);
    if (!ok || connection_closed || t_close_after_response) break;
  }
  t_connection_socket = -1;
  t_watcher = nullptr;
  t_close_after_response = false;
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace radix::server
