// ElasticTaskQueue implementation (see task_queue.h).
#include "server/task_queue.h"

#include <malloc.h>

#include <vector>

namespace radix::server {

ElasticTaskQueue::ElasticTaskQueue(size_t max_threads, size_t keep_idle,
                                   std::chrono::milliseconds idle_timeout)
    : max_threads_(max_threads), keep_idle_(keep_idle), idle_timeout_(idle_timeout) {}

ElasticTaskQueue::~ElasticTaskQueue() {
  shutdown();
}

void ElasticTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  if (shutdown_) {  // late connection while stopping: serve it here rather than drop its socket
    lock.unlock();
    fn();
    return;
  }
  jobs_.push_back(std::move(fn));
  reap_exited(lock);
  if (idle_ >= jobs_.size() || live_ >= max_threads_) {
    cv_.notify_one();
    return;
  }
  auto it = workers_.emplace(workers_.end());
  ++live_;
  it->thread = std::thread([this, it] { run(it); });
}

void ElasticTaskQueue::run(std::list<Worker>::iterator self) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (jobs_.empty()) {
      if (shutdown_) break;
      ++idle_;
      bool timed_out =
          !cv_.wait_for(lock, idle_timeout_, [&] { return !jobs_.empty() || shutdown_; });
      --idle_;
      if (timed_out && jobs_.empty() && live_ > keep_idle_) break;
      if (timed_out && jobs_.empty()) {
        // A kept worker joins the ones that left after a burst, then gives the freed
        // stacks and arenas back to the system so memory returns to its baseline.
        if (reap_exited(lock) > 0) {
          lock.unlock();
          malloc_trim(0);
          lock.lock();
        }
      }
      continue;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // release captures before taking the lock again
    lock.lock();
  }
  --live_;
  self->exited = true;
  cv_.notify_all();
}

size_t ElasticTaskQueue::reap_exited(std::unique_lock<std::mutex>& lock) {
  std::vector<std::thread> done;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->exited) {
      done.push_back(std::move(it->thread));
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (done.empty()) return 0;
  lock.unlock();
  for (auto& t : done) t.join();  // they have left run(); join returns at once
  lock.lock();
  return done.size();
}

void ElasticTaskQueue::shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return live_ == 0; });
  reap_exited(lock);
}

size_t ElasticTaskQueue::num_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

}  // namespace radix::server
