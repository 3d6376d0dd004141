// Metrics: a Prometheus registry (counters, gauges, histograms with labels) rendered in the
// text exposition format (version 0.0.4) for /metrics. Pure: no I/O. Children are created
// on first use and live as long as the registry, so hot paths keep references to them.
#pragma once

#include <atomic>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace meshprobe::kube {

class Counter {
 public:
  void increment(double amount = 1.0);
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value); }
  void add(double amount);
  double value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Cumulative counts per bucket (the last one is +Inf), the sum and the count.
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<std::uint64_t> cumulative_counts;
    double sum = 0.0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; one more for +Inf
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

// A metric name with its label names; one child per combination of label values.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> buckets = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        buckets_(std::move(buckets)) {}

  // The child for these label values, in the order of the label names.
  Metric& labels(const std::vector<std::string>& values);
  Metric& labels(std::initializer_list<std::string> values) {
    return labels(std::vector<std::string>(values));
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  template <typename Visitor>
  void for_each(Visitor visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : children_) visit(values, *metric);
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Latency buckets in seconds, as client-go's rest_client_request_duration_seconds.
std::vector<double> latency_buckets();

class MetricsRegistry {
 public:
  // Registering a name twice returns the family registered first (label names must match).
  CounterFamily& counter(const std::string& name, const std::string& help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names = {},
                             std::vector<double> buckets = latency_buckets());

  // The whole registry in the Prometheus text format, families sorted by name.
  std::string render() const;

 private:
  template <typename F>
  F& register_family(std::map<std::string, std::unique_ptr<F>>& families, const std::string& name,
                     const std::string& help, std::vector<std::string> label_names,
                     std::vector<double> buckets);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
  std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
};

template <typename Metric>
Metric& Family<Metric>::labels(const std::vector<std::string>& values) {
  std::lock_guard lock(mutex_);
  auto& child = children_[values];
  if (!child) {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      child = std::make_unique<Histogram>(buckets_);
    } else {
      child = std::make_unique<Metric>();
    }
  }
  return *child;
}

}  // namespace meshprobe::kube
