#include "kube/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <sstream>

namespace meshprobe::kube {
namespace {

void addAtomically(std::atomic<double>& target, double amount) {
  double current = target.load();
  while (!target.compare_exchange_weak(current, current + amount)) {
  }
}

std::string escapeLabelValue(const std::string& value) {
  std::string escaped;
  for (char character : value) {
    if (character == '\\') escaped += "\\\\";
    else if (character == '"') escaped += "\\\"";
    else if (character == '\n') escaped += "\\n";
    else escaped += character;
  }
  return escaped;
}

std::string formatNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

// {a="1",b="2"} with an optional extra label (histogram buckets' "le").
std::string formatLabels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                         const std::string& extraName = "", const std::string& extraValue = "") {
  std::string out;
  for (std::size_t index = 0; index < names.size() && index < values.size(); ++index) {
    out += out.empty() ? "{" : ",";
    out += names[index] + "=\"" + escapeLabelValue(values[index]) + "\"";
  }
  if (!extraName.empty()) {
    out += out.empty() ? "{" : ",";
    out += extraName + "=\"" + extraValue + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

std::string escapeHelp(const std::string& help) {
  std::string escaped;
  for (char character : help) {
    if (character == '\\') escaped += "\\\\";
    else if (character == '\n') escaped += "\\n";
    else escaped += character;
  }
  return escaped;
}

}  // namespace

void Counter::increment(double amount) {
  assert(amount >= 0.0 && "counters only go up");
  addAtomically(value_, amount);
}

void Gauge::add(double amount) { addAtomically(value_, amount); }

Histogram::Histogram(std::vector<double> upperBounds)
    : upperBounds_(std::move(upperBounds)), counts_(upperBounds_.size() + 1, 0) {
  assert(std::is_sorted(upperBounds_.begin(), upperBounds_.end()));
}

void Histogram::observe(double value) {
  const auto bucket = std::lower_bound(upperBounds_.begin(), upperBounds_.end(), value) -
                      upperBounds_.begin();
  std::lock_guard lock(mutex_);
  ++counts_[static_cast<std::size_t>(bucket)];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.upperBounds = upperBounds_;
  std::lock_guard lock(mutex_);
  std::uint64_t running = 0;
  for (std::uint64_t count : counts_) {
    running += count;
    snapshot.cumulativeCounts.push_back(running);
  }
  snapshot.sum = sum_;
  snapshot.count = count_;
  return snapshot;
}

std::vector<double> latencyBuckets() {
  return {0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0};
}

template <typename F>
F& MetricsRegistry::registerFamily(std::map<std::string, std::unique_ptr<F>>& families,
                                   const std::string& name, const std::string& help,
                                   std::vector<std::string> labelNames,
                                   std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  auto& family = families[name];
  if (!family) {
    family = std::make_unique<F>(name, help, std::move(labelNames), std::move(buckets));
  }
  assert(family->labelNames() == labelNames || labelNames.empty());
  return *family;
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        std::vector<std::string> labelNames) {
  return registerFamily(counters_, name, help, std::move(labelNames), {});
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    std::vector<std::string> labelNames) {
  return registerFamily(gauges_, name, help, std::move(labelNames), {});
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            std::vector<std::string> labelNames,
                                            std::vector<double> buckets) {
  return registerFamily(histograms_, name, help, std::move(labelNames), std::move(buckets));
}

std::string MetricsRegistry::render() const {
  // Collect every family's lines under its name so the output is sorted across kinds.
  std::map<std::string, std::string> byName;
  std::lock_guard lock(mutex_);
  auto header = [](const auto& family, const char* type) {
    return "# HELP " + family.name() + " " + escapeHelp(family.help()) + "\n# TYPE " +
           family.name() + " " + type + "\n";
  };
  for (const auto& [name, family] : counters_) {
    std::string text = header(*family, "counter");
    family->forEach([&](const std::vector<std::string>& values, const Counter& counter) {
      text += name + formatLabels(family->labelNames(), values) + " " +
              formatNumber(counter.value()) + "\n";
    });
    byName[name] = std::move(text);
  }
  for (const auto& [name, family] : gauges_) {
    std::string text = header(*family, "gauge");
    family->forEach([&](const std::vector<std::string>& values, const Gauge& gauge) {
      text += name + formatLabels(family->labelNames(), values) + " " +
              formatNumber(gauge.value()) + "\n";
    });
    byName[name] = std::move(text);
  }
  for (const auto& [name, family] : histograms_) {
    std::string text = header(*family, "histogram");
    family->forEach([&](const std::vector<std::string>& values, const Histogram& histogram) {
      const Histogram::Snapshot snapshot = histogram.snapshot();
      for (std::size_t index = 0; index < snapshot.cumulativeCounts.size(); ++index) {
        const std::string bound = index < snapshot.upperBounds.size()
                                      ? formatNumber(snapshot.upperBounds[index])
                                      : "+Inf";
        text += name + "_bucket" + formatLabels(family->labelNames(), values, "le", bound) + " " +
                std::to_string(snapshot.cumulativeCounts[index]) + "\n";
      }
      const std::string labels = formatLabels(family->labelNames(), values);
      text += name + "_sum" + labels + " " + formatNumber(snapshot.sum) + "\n";
      text += name + "_count" + labels + " " + std::to_string(snapshot.count) + "\n";
    });
    byName[name] = std::move(text);
  }
  std::string out;
  for (const auto& [name, text] : byName) out += text;
  return out;
}

}  // namespace meshprobe::kube
