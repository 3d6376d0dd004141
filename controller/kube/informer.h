// Informer<T>: a cache of one resource type kept current by a Reflector, holding for each
// object only what the controller needs:
// - a transform hook edits the JSON first (by default it drops metadata.managedFields, which
//   is often half of an object);
// - a projection turns the JSON into T, the operator's compact type (or CompactObject below,
//   the whole object serialised compactly and decoded on demand);
// - entries are immutable and shared (std::shared_ptr<const Cached<T>>): readers keep them as
//   long as they like without copies or locks;
// - indexes by namespace (built in) and by any function of the entry (label_indexer() for one
//   label key);
// - event handlers, called on the reflector's thread after the cache changed, typically put
//   keys on a WorkQueue (enqueue_keys_of());
// - has_synced() once the first list is in.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kube/compact_object.h"
#include "kube/long_lived_allocations.h"
#include "kube/reflector.h"
#include "kube/work_queue.h"

namespace meshprobe::kube {

// The identity of a cached object; kept small (labels are there for label indexes).
struct ObjectMeta {
  std::string namespace_name;
  std::string name;
  std::string resource_version;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key

  std::string key() const { return object_key(namespace_name, name); }
  std::optional<std::string> label(const std::string& label_key) const;
};

ObjectMeta read_object_meta(const nlohmann::json& object);

// The default transform: removes metadata.managedFields.
void drop_managed_fields(nlohmann::json& object);

template <typename T>
struct Cached {
  ObjectMeta metadata;
  T value;
};

template <typename T>
class Informer final : public ReflectorSink {
 public:
  using Object = Cached<T>;
  using ObjectPtr = std::shared_ptr<const Object>;
  using Projection = std::function<T(const nlohmann::json& object)>;
  using Transform = std::function<void(nlohmann::json& object)>;
  using Indexer = std::function<std::vector<std::string>(const Object& object)>;
  struct Handlers {
    std::function<void(const ObjectPtr& added)> on_add;
    std::function<void(const ObjectPtr& before, const ObjectPtr& after)> on_update;
    std::function<void(const ObjectPtr& deleted)> on_delete;
  };

  Informer(std::string name, KubernetesApi& api, ResourceResolver resolve, Projection project,
           ReflectorOptions options, Clock& clock, Random& random, MetricsRegistry& metrics,
           Logger& logger, Transform transform = drop_managed_fields)
      : name_(name),
        project_(std::move(project)),
        transform_(std::move(transform)),
        objects_(metrics.gauge("informer_objects", "Objects in the informer's cache.", {"name"})
                     .labels({name})),
        reflector_(std::move(name), api, std::move(resolve), *this, std::move(options), clock,
                   random, metrics, logger) {}
  ~Informer() override { stop(); }

  // Call before start().
  void add_index(const std::string& index_name, Indexer indexer) {
    std::lock_guard lock(mutex_);
    indexers_[index_name] = std::move(indexer);
  }
  // Handlers added after the cache filled are told of the objects already there as adds.
  void add_handlers(Handlers handlers) {
    std::vector<ObjectPtr> existing;
    {
      std::lock_guard lock(mutex_);
      handlers_.push_back(handlers);
      for (const auto& [key, object] : store_) existing.push_back(object);
    }
    if (handlers.on_add) {
      for (const auto& object : existing) handlers.on_add(object);
    }
  }

  void start() { reflector_.start(); }
  void stop() { reflector_.stop(); }

  bool has_synced() const {
    std::lock_guard lock(mutex_);
    return synced_;
  }
  // Blocks until synced or `stop`; returns has_synced().
  bool wait_for_sync(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    synced_changed_.wait(lock, stop, [&] { return synced_; });
    return synced_;
  }

  ObjectPtr get(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto found = store_.find(key);
    return found == store_.end() ? nullptr : found->second;
  }
  std::vector<ObjectPtr> list() const {
    std::lock_guard lock(mutex_);
    std::vector<ObjectPtr> out;
    out.reserve(store_.size());
    for (const auto& [key, object] : store_) out.push_back(object);
    return out;
  }
  std::vector<ObjectPtr> by_index(const std::string& index_name, const std::string& value) const {
    std::lock_guard lock(mutex_);
    std::vector<ObjectPtr> out;
    auto index = indexes_.find(index_name);
    if (index == indexes_.end()) return out;
    auto keys = index->second.find(value);
    if (keys == index->second.end()) return out;
    for (const auto& key : keys->second) out.push_back(store_.at(key));
    return out;
  }
  // The objects of one namespace (cluster-scoped objects: namespace ""). No index needed: the
  // store is ordered by "namespace/name", so a namespace's objects are one range of it.
  std::vector<ObjectPtr> list_namespace(const std::string& namespace_name) const {
    std::lock_guard lock(mutex_);
    std::vector<ObjectPtr> out;
    if (namespace_name.empty()) {
      for (const auto& [key, object] : store_) {
        if (object->metadata.namespace_name.empty()) out.push_back(object);
      }
      return out;
    }
    const std::string prefix = namespace_name + "/";
    for (auto it = store_.lower_bound(prefix); it != store_.end() && it->first.starts_with(prefix);
         ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return store_.size();
  }
  Reflector& reflector() { return reflector_; }

  // ReflectorSink: called on the reflector's thread.
  void start_replace() override { pending_.clear(); }
  void replace_item(nlohmann::json object) override {
    ObjectPtr entry = make_entry(std::move(object));
    pending_[entry->metadata.key()] = std::move(entry);
  }
  void abandon_replace() override { pending_.clear(); }
  void finish_replace() override {
    std::vector<Change> changes;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [key, object] : store_) {
        if (!pending_.contains(key)) changes.push_back({nullptr, object});
      }
      // Deletes first, in key order, then adds and updates in key order: reproducible.
      std::sort(changes.begin(), changes.end(), [](const Change& left, const Change& right) {
        return left.before->metadata.key() < right.before->metadata.key();
      });
      for (auto& [key, object] : pending_) {
        auto old = store_.find(key);
        if (old == store_.end()) {
          changes.push_back({object, nullptr});
        } else if (old->second->metadata.resource_version != object->metadata.resource_version) {
          changes.push_back({object, old->second});
        }
      }
      for (const auto& change : changes) {
        if (change.after) {
          put_locked(change.after);
        } else {
          erase_locked(change.before);
        }
      }
      pending_.clear();
      objects_.set(static_cast<double>(store_.size()));
    }
    notify(changes);
    // Synced once the handlers have seen the first list, as client-go's HasSynced.
    {
      std::lock_guard lock(mutex_);
      synced_ = true;
    }
    synced_changed_.notify_all();
  }
  void apply(WatchEventType type, nlohmann::json object) override {
    std::vector<Change> changes;
    {
      std::lock_guard lock(mutex_);
      if (type == WatchEventType::kDeleted) {
        auto old = store_.find(read_object_meta(object).key());
        if (old == store_.end()) return;
        changes.push_back({nullptr, old->second});
        erase_locked(old->second);
      } else {
        ObjectPtr entry = make_entry(std::move(object));
        auto old = store_.find(entry->metadata.key());
        changes.push_back({entry, old == store_.end() ? nullptr : old->second});
        put_locked(entry);
      }
      objects_.set(static_cast<double>(store_.size()));
    }
    notify(changes);
  }

 private:
  struct Change {
    ObjectPtr after;   // null for a delete
    ObjectPtr before;  // null for an add
  };

  ObjectPtr make_entry(nlohmann::json object) {
    if (transform_) transform_(object);
    // The entry outlives `object` (freed when this returns) by far: its allocations go where
    // the event's do not (long_lived_allocations.h).
    LongLivedAllocations long_lived;
    ObjectMeta metadata = read_object_meta(object);
    return std::make_shared<const Object>(Object{std::move(metadata), project_(object)});
  }

  void put_locked(const ObjectPtr& object) {
    LongLivedAllocations long_lived;  // the store's and the indexes' nodes
    const std::string key = object->metadata.key();
    if (auto old = store_.find(key); old != store_.end()) erase_locked(old->second);
    store_[key] = object;
    for (const auto& [index_name, indexer] : indexers_) {
      for (auto& value : indexer(*object)) indexes_[index_name][value].insert(key);
    }
  }

  void erase_locked(const ObjectPtr& object) {
    const std::string key = object->metadata.key();
    for (const auto& [index_name, indexer] : indexers_) {
      auto& index = indexes_[index_name];
      for (auto& value : indexer(*object)) {
        auto keys = index.find(value);
        if (keys == index.end()) continue;
        keys->second.erase(key);
        if (keys->second.empty()) index.erase(keys);
      }
    }
    store_.erase(key);
  }

  void notify(const std::vector<Change>& changes) {
    std::vector<Handlers> handlers;
    {
      std::lock_guard lock(mutex_);
      handlers = handlers_;
    }
    for (const auto& change : changes) {
      for (const auto& handler : handlers) {
        if (!change.after) {
          if (handler.on_delete) handler.on_delete(change.before);
        } else if (!change.before) {
          if (handler.on_add) handler.on_add(change.after);
        } else if (handler.on_update) {
          handler.on_update(change.before, change.after);
        }
      }
    }
  }

  std::string name_;
  Projection project_;
  Transform transform_;

  mutable std::mutex mutex_;
  std::condition_variable_any synced_changed_;
  bool synced_ = false;
  std::map<std::string, ObjectPtr> store_;  // by key: "namespace/name", or "name"
  std::map<std::string, Indexer> indexers_;
  std::map<std::string, std::unordered_map<std::string, std::set<std::string>>> indexes_;
  std::vector<Handlers> handlers_;
  std::map<std::string, ObjectPtr> pending_;  // reflector thread only

  Gauge& objects_;
  Reflector reflector_;  // last: it feeds the members above
};

// An indexer by the value of one label (objects without the label are not indexed).
template <typename T>
typename Informer<T>::Indexer label_indexer(std::string label_key) {
  return [label_key = std::move(label_key)](const Cached<T>& object) {
    std::vector<std::string> values;
    if (auto value = object.metadata.label(label_key)) values.push_back(*value);
    return values;
  };
}

// Handlers that put the key of every added, updated or deleted object on `queue`.
template <typename T>
typename Informer<T>::Handlers enqueue_keys_of(WorkQueue& queue) {
  using ObjectPtr = typename Informer<T>::ObjectPtr;
  return {
      [&queue](const ObjectPtr& object) { queue.add(object->metadata.key()); },
      [&queue](const ObjectPtr&, const ObjectPtr& object) { queue.add(object->metadata.key()); },
      [&queue](const ObjectPtr& object) { queue.add(object->metadata.key()); }};
}

}  // namespace meshprobe::kube
