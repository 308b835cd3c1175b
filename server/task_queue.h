// ElasticTaskQueue: cpp-httplib's connection task queue, replaced so concurrency is not
// capped at a fixed thread count. Each accepted connection runs on a worker; an idle
// worker is reused, otherwise a new one is started (up to `max_threads`, beyond which
// connections wait). Workers idle for `idle_timeout` exit, so memory returns to baseline
// after a burst. shutdown() lets queued and running connections finish, then joins all.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace radix::server {

class ElasticTaskQueue : public httplib::TaskQueue {
 public:
  ElasticTaskQueue(size_t max_threads, size_t keep_idle, std::chrono::milliseconds idle_timeout);
  ~ElasticTaskQueue() override;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  size_t num_threads() const;

 private:
  struct Worker {
    std::thread thread;
    bool exited = false;
  };
  void run(std::list<Worker>::iterator self);
  size_t reap_exited(std::unique_lock<std::mutex>& lock);  // joins finished workers; returns how many

  const size_t max_threads_;
  const size_t keep_idle_;
  const std::chrono::milliseconds idle_timeout_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::list<Worker> workers_;
  size_t idle_ = 0;
  size_t live_ = 0;
  bool shutdown_ = false;
};

}  // namespace radix::server
