#include "kube/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <sstream>

namespace meshprobe::kube {
namespace {

void add_atomically(std::atomic<double>& target, double amount) {
  double current = target.load();
  while (!target.compare_exchange_weak(current, current + amount)) {
  }
}

std::string escape_label_value(const std::string& value) {
  std::string escaped;
  for (char character : value) {
    if (character == '\\')
      escaped += "\\\\";
    else if (character == '"')
      escaped += "\\\"";
    else if (character == '\n')
      escaped += "\\n";
    else
      escaped += character;
  }
  return escaped;
}

std::string format_number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

// {a="1",b="2"} with an optional extra label (histogram buckets' "le").
std::string format_labels(const std::vector<std::string>& names,
                          const std::vector<std::string>& values,
                          const std::string& extra_name = "", const std::string& extra_value = "") {
  std::string out;
  for (std::size_t index = 0; index < names.size() && index < values.size(); ++index) {
    out += out.empty() ? "{" : ",";
    out += names[index] + "=\"" + escape_label_value(values[index]) + "\"";
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name + "=\"" + extra_value + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

std::string escape_help(const std::string& help) {
  std::string escaped;
  for (char character : help) {
    if (character == '\\')
      escaped += "\\\\";
    else if (character == '\n')
      escaped += "\\n";
    else
      escaped += character;
  }
  return escaped;
}

}  // namespace

void Counter::increment(double amount) {
  assert(amount >= 0.0 && "counters only go up");
  add_atomically(value_, amount);
}

void Gauge::add(double amount) { add_atomically(value_, amount); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {
  assert(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()));
}

void Histogram::observe(double value) {
  const auto bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  std::lock_guard lock(mutex_);
  ++counts_[static_cast<std::size_t>(bucket)];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  std::lock_guard lock(mutex_);
  std::uint64_t running = 0;
  for (std::uint64_t count : counts_) {
    running += count;
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_;
  snapshot.count = count_;
  return snapshot;
}

std::vector<double> latency_buckets() {
  return {0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0};
}

template <typename F>
F& MetricsRegistry::register_family(std::map<std::string, std::unique_ptr<F>>& families,
                                    const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names,
                                    std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  auto& family = families[name];
  if (!family) {
    family = std::make_unique<F>(name, help, std::move(label_names), std::move(buckets));
  }
  assert(family->label_names() == label_names || label_names.empty());
  return *family;
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names) {
  return register_family(counters_, name, help, std::move(label_names), {});
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  return register_family(gauges_, name, help, std::move(label_names), {});
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> buckets) {
  return register_family(histograms_, name, help, std::move(label_names), std::move(buckets));
}

std::string MetricsRegistry::render() const {
  // Collect every family's lines under its name so the output is sorted across kinds.
  std::map<std::string, std::string> by_name;
  std::lock_guard lock(mutex_);
  auto header = [](const auto& family, const char* type) {
    return "# HELP " + family.name() + " " + escape_help(family.help()) + "\n# TYPE " +
           family.name() + " " + type + "\n";
  };
  for (const auto& [name, family] : counters_) {
    std::string text = header(*family, "counter");
    family->for_each([&](const std::vector<std::string>& values, const Counter& counter) {
      text += name + format_labels(family->label_names(), values) + " " +
              format_number(counter.value()) + "\n";
    });
    by_name[name] = std::move(text);
  }
  for (const auto& [name, family] : gauges_) {
    std::string text = header(*family, "gauge");
    family->for_each([&](const std::vector<std::string>& values, const Gauge& gauge) {
      text += name + format_labels(family->label_names(), values) + " " +
              format_number(gauge.value()) + "\n";
    });
    by_name[name] = std::move(text);
  }
  for (const auto& [name, family] : histograms_) {
    std::string text = header(*family, "histogram");
    family->for_each([&](const std::vector<std::string>& values, const Histogram& histogram) {
      const Histogram::Snapshot snapshot = histogram.snapshot();
      for (std::size_t index = 0; index < snapshot.cumulative_counts.size(); ++index) {
        const std::string bound = index < snapshot.upper_bounds.size()
                                      ? format_number(snapshot.upper_bounds[index])
                                      : "+Inf";
        text += name + "_bucket" + format_labels(family->label_names(), values, "le", bound) + " " +
                std::to_string(snapshot.cumulative_counts[index]) + "\n";
      }
      const std::string labels = format_labels(family->label_names(), values);
      text += name + "_sum" + labels + " " + format_number(snapshot.sum) + "\n";
      text += name + "_count" + labels + " " + std::to_string(snapshot.count) + "\n";
    });
    by_name[name] = std::move(text);
  }
  std::string out;
  for (const auto& [name, text] : by_name) out += text;
  return out;
}

}  // namespace meshprobe::kube
