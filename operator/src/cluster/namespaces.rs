//! With a watch namespace (`OBLIVIOUS_WATCH_NAMESPACE`), each namespaced kind is watched in
//! that namespace and in every Tenant's namespace, and the watches of one kind are merged into
//! one stream of watcher events for the kind's store. kube-runtime's store takes one watcher
//! only (each relist replaces the whole store), so the merge turns a namespace's relist into
//! events about that namespace alone:
//!
//! - Until the Tenants are listed (the set is known) and every namespace of the set finished
//!   its first list, objects are held here and nothing reaches the store. Then they go to it as
//!   one `Init … InitDone`, which marks the store ready: ready means every namespace listed.
//! - After that a namespace's list is buffered until its `InitDone`; then its objects are
//!   `Apply`ed and the names it no longer has are `Delete`d. Other namespaces are untouched.
//! - A namespace leaving the set (its Tenant is gone) is no longer watched and its objects
//!   are `Delete`d; one joining it is watched and its objects arrive with its first list.
//!
//! The objects of a `Delete` the merge makes up are read back from the store, which only this
//! stream writes: the reflector applies each event before it asks for the next one, and the
//! merge looks only when every event it made has been handed out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;
use std::hash::Hash;

use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use oblivious_crds::Tenant;
use tokio::sync::watch;
use tokio_stream::StreamMap;

/// The namespaces to watch; `None` until the Tenants have been listed.
pub type NamespaceSet = Option<BTreeSet<String>>;

/// Keeps the namespace set equal to the watch namespace plus every Tenant's `spec.namespace`.
pub struct TenantNamespaces {
    /// `OBLIVIOUS_WATCH_NAMESPACE`.
    pub watch_namespace: String,
    /// The Tenant cache, read after each of its events has been applied.
    pub tenants: Store<Tenant>,
    /// Where the set is published.
    pub set: watch::Sender<NamespaceSet>,
    /// Whether the Tenants finished their first list (before, the set is not known).
    pub listed: bool,
}

impl TenantNamespaces {
    /// Follows one event of the Tenant watch (already applied to `tenants`).
    pub fn observe(&mut self, event: &Event<Tenant>) {
        self.listed |= matches!(event, Event::InitDone);
        if !self.listed {
            return;
        }
        let mut set: BTreeSet<String> = self.tenants.state().iter().map(|t| t.spec.namespace.clone()).collect();
        set.insert(self.watch_namespace.clone());
        self.set.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&set);
            if changed {
                *current = Some(set);
            }
            changed
        });
    }
}

/// One namespace's part of the merge.
struct Namespace<K> {
    /// The list in progress (`Init` … `InitDone`).
    listing: Option<Vec<K>>,
    /// Whether the namespace finished its first list.
    listed: bool,
    /// Before the store is ready: the namespace's objects by name (the store has none yet).
    held: BTreeMap<String, K>,
    /// After: the names the namespace has in the store.
    names: BTreeSet<String>,
}

impl<K> Default for Namespace<K> {
    fn default() -> Self {
        Namespace { listing: None, listed: false, held: BTreeMap::new(), names: BTreeSet::new() }
    }
}

/// What following a new namespace set asks for.
pub struct Update<K> {
    /// Namespaces to start watching.
    pub start: Vec<String>,
    /// Namespaces to stop watching.
    pub stop: Vec<String>,
    /// Events for the store (the stopped namespaces' objects deleted, or the first fill).
    pub events: Vec<Event<K>>,
}

/// The merge of one kind's per-namespace watches (see the module documentation).
pub struct Merge<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    /// The store the merged events go to (read for the objects of made-up `Delete`s).
    store: Store<K>,
    namespaces: BTreeMap<String, Namespace<K>>,
    /// Whether a namespace set has been given.
    known: bool,
    /// Whether the store has been filled (`InitDone` sent).
    ready: bool,
}

impl<K> Merge<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    /// A merge feeding `store`, watching nothing until it is given a namespace set.
    pub fn new(store: Store<K>) -> Self {
        Merge { store, namespaces: BTreeMap::new(), known: false, ready: false }
    }

    /// Follows a new namespace set (`None`, not known yet, changes nothing).
    pub fn set_namespaces(&mut self, set: Option<&BTreeSet<String>>) -> Update<K> {
        let mut update = Update { start: Vec::new(), stop: Vec::new(), events: Vec::new() };
        let Some(set) = set else {
            return update;
        };
        self.known = true;
        update.stop = self.namespaces.keys().filter(|ns| !set.contains(*ns)).cloned().collect();
        update.start = set.iter().filter(|ns| !self.namespaces.contains_key(*ns)).cloned().collect();
        for namespace in &update.stop {
            if let Some(gone) = self.namespaces.remove(namespace) {
                for name in &gone.names {
                    update.events.extend(self.stored(namespace, name).map(Event::Delete));
                }
            }
        }
        for namespace in &update.start {
            self.namespaces.insert(namespace.clone(), Namespace::default());
        }
        // Dropping a namespace that had not listed yet may complete the first fill.
        self.fill_when_listed(&mut update.events);
        update
    }

    /// Translates one event of `namespace`'s watch into events for the store.
    pub fn apply(&mut self, namespace: &str, event: Event<K>) -> Vec<Event<K>> {
        let mut out = Vec::new();
        let ready = self.ready;
        let Some(state) = self.namespaces.get_mut(namespace) else {
            return out;
        };
        let mut vanished = Vec::new();
        match event {
            Event::Init => state.listing = Some(Vec::new()),
            Event::InitApply(object) => state.listing.get_or_insert_with(Vec::new).push(object),
            Event::InitDone if ready => {
                let listed = state.listing.take().unwrap_or_default();
                let names: BTreeSet<String> = listed.iter().map(ResourceExt::name_any).collect();
                vanished = state.names.difference(&names).cloned().collect();
                state.names = names;
                state.listed = true;
                out.extend(listed.into_iter().map(Event::Apply));
            }
            Event::InitDone => {
                let listed = state.listing.take().unwrap_or_default();
                state.held = listed.into_iter().map(|object| (object.name_any(), object)).collect();
                state.listed = true;
                self.fill_when_listed(&mut out);
            }
            Event::Apply(object) if ready => {
                state.names.insert(object.name_any());
                out.push(Event::Apply(object));
            }
            Event::Apply(object) => {
                state.held.insert(object.name_any(), object);
            }
            Event::Delete(object) if ready => {
                state.names.remove(&object.name_any());
                out.push(Event::Delete(object));
            }
            Event::Delete(object) => {
                state.held.remove(&object.name_any());
            }
        }
        for name in vanished {
            out.extend(self.stored(namespace, &name).map(Event::Delete));
        }
        out
    }

    /// Fills the store once the set is known and every namespace listed.
    fn fill_when_listed(&mut self, out: &mut Vec<Event<K>>) {
        if self.ready || !self.known || !self.namespaces.values().all(|ns| ns.listed) {
            return;
        }
        out.push(Event::Init);
        for state in self.namespaces.values_mut() {
            let held = std::mem::take(&mut state.held);
            state.names = held.keys().cloned().collect();
            out.extend(held.into_values().map(Event::InitApply));
        }
        out.push(Event::InitDone);
        self.ready = true;
    }

    fn stored(&self, namespace: &str, name: &str) -> Option<K> {
        self.store.get(&ObjectRef::new(name).within(namespace)).map(|object| K::clone(&object))
    }
}

/// A stream of one kind's watcher events (one namespace's, all namespaces' or merged).
pub type EventStream<K> = BoxStream<'static, watcher::Result<Event<K>>>;

struct Merged<K, F>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    merge: Merge<K>,
    watches: StreamMap<String, EventStream<K>>,
    /// `None` once the set's sender is gone: the set then stays as it is.
    namespaces: Option<watch::Receiver<NamespaceSet>>,
    /// Events made but not handed out yet.
    pending: VecDeque<watcher::Result<Event<K>>>,
    open: F,
}

impl<K, F> Merged<K, F>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
    F: FnMut(&str) -> EventStream<K>,
{
    fn follow(&mut self, set: Option<&BTreeSet<String>>) {
        let update = self.merge.set_namespaces(set);
        let kind = K::kind(&Default::default()).to_string();
        for namespace in update.stop {
            tracing::info!(kind, namespace, "no longer watched: its Tenant is gone");
            self.watches.remove(&namespace);
        }
        for namespace in update.start {
            tracing::debug!(kind, namespace, "watching");
            let watch = (self.open)(&namespace);
            self.watches.insert(namespace, watch);
        }
        self.pending.extend(update.events.into_iter().map(Ok));
    }
}

/// The watches of one kind in every namespace of `namespaces`, merged into one stream for the
/// kind's reflector (which must write `store`). `open` starts one namespace's watch.
pub fn merged<K, F>(
    mut namespaces: watch::Receiver<NamespaceSet>,
    store: Store<K>,
    open: F,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send + 'static
where
    K: Resource + Clone + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    F: FnMut(&str) -> EventStream<K> + Send + 'static,
{
    let initial = namespaces.borrow_and_update().clone();
    let mut state = Merged {
        merge: Merge::new(store),
        watches: StreamMap::new(),
        namespaces: Some(namespaces),
        pending: VecDeque::new(),
        open,
    };
    state.follow(initial.as_ref());
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.pending.pop_front() {
                return Some((item, state));
            }
            let Merged { watches, namespaces, .. } = &mut state;
            tokio::select! {
                biased;
                set = next_set(namespaces), if namespaces.is_some() => match set {
                    Some(set) => state.follow(set.as_ref()),
                    None => state.namespaces = None,
                },
                Some((namespace, item)) = watches.next() => match item {
                    Ok(event) => {
                        let events = state.merge.apply(&namespace, event);
                        state.pending.extend(events.into_iter().map(Ok));
                    }
                    Err(error) => state.pending.push_back(Err(error)),
                },
                else => return None,
            }
        }
    })
}

/// The next namespace set, or `None` when its sender is gone.
async fn next_set(namespaces: &mut Option<watch::Receiver<NamespaceSet>>) -> Option<NamespaceSet> {
    let namespaces = namespaces.as_mut()?;
    namespaces.changed().await.ok()?;
    Some(namespaces.borrow_and_update().clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use futures_util::FutureExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector::{self, store::Writer};
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    use super::*;

    type Feed = mpsc::UnboundedSender<watcher::Result<Event<ConfigMap>>>;

    fn object(namespace: &str, name: &str, value: &str) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": namespace},
            "data": {"v": value},
        }))
        .unwrap()
    }

    /// A merged stream over synthetic per-namespace watches, reflected into a store.
    struct Harness {
        set: watch::Sender<NamespaceSet>,
        /// The feed of each namespace's watch, created when the merge starts watching it.
        feeds: std::sync::Arc<std::sync::Mutex<BTreeMap<String, Feed>>>,
        store: Store<ConfigMap>,
        merged: BoxStream<'static, watcher::Result<Event<ConfigMap>>>,
        writer: Writer<ConfigMap>,
    }

    impl Harness {
        fn new() -> Self {
            let (set, namespaces) = watch::channel(None);
            let (store, writer) = reflector::store::<ConfigMap>();
            let feeds: std::sync::Arc<std::sync::Mutex<BTreeMap<String, Feed>>> = Default::default();
            let opened = feeds.clone();
            let merged = merged(namespaces, store.clone(), move |namespace: &str| {
                let (feed, watch) = mpsc::unbounded_channel();
                opened.lock().unwrap().insert(namespace.to_string(), feed);
                UnboundedReceiverStream::new(watch).boxed()
            })
            .boxed();
            Harness { set, feeds, store, merged, writer }
        }

        fn watch(&self, namespaces: &[&str]) {
            self.set.send_replace(Some(namespaces.iter().map(|ns| ns.to_string()).collect()));
        }

        fn send(&self, namespace: &str, event: Event<ConfigMap>) {
            let feeds = self.feeds.lock().unwrap();
            feeds.get(namespace).unwrap_or_else(|| panic!("{namespace} is not watched")).send(Ok(event)).unwrap();
        }

        fn list(&self, namespace: &str, objects: &[ConfigMap]) {
            self.send(namespace, Event::Init);
            for object in objects {
                self.send(namespace, Event::InitApply(object.clone()));
            }
            self.send(namespace, Event::InitDone);
        }

        /// Applies every event the merge makes of what was fed, as the reflector would.
        async fn drain(&mut self) {
            while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(50), self.merged.next()).await {
                self.writer.apply_watcher_event(&event.unwrap());
            }
        }

        fn ready(&self) -> bool {
            self.store.wait_until_ready().now_or_never().is_some()
        }

        fn contents(&self) -> Vec<String> {
            let mut all: Vec<String> = self
                .store
                .state()
                .iter()
                .map(|o| format!("{}/{}={}", o.namespace().unwrap(), o.name_any(), o.data.as_ref().unwrap()["v"]))
                .collect();
            all.sort();
            all
        }
    }

    #[tokio::test]
    async fn the_store_is_ready_only_once_the_tenants_and_every_namespace_have_listed() {
        let mut h = Harness::new();
        h.drain().await;
        assert!(h.feeds.lock().unwrap().is_empty(), "nothing is watched before the Tenants are listed");
        assert!(!h.ready());

        h.watch(&["platform", "tenant-a"]);
        h.drain().await;
        h.list("platform", &[object("platform", "one", "1")]);
        h.send("platform", Event::Apply(object("platform", "two", "2")));
        h.drain().await;
        assert!(!h.ready(), "tenant-a has not listed");
        assert!(h.contents().is_empty(), "a partial set never reaches the store");

        h.list("tenant-a", &[object("tenant-a", "three", "3")]);
        h.drain().await;
        assert!(h.ready());
        assert_eq!(h.contents(), ["platform/one=1", "platform/two=2", "tenant-a/three=3"]);
    }

    #[tokio::test]
    async fn a_namespace_relisting_deletes_only_what_it_lost_and_leaves_the_others_alone() {
        let mut h = Harness::new();
        h.watch(&["platform", "tenant-a"]);
        h.drain().await;
        h.list("platform", &[object("platform", "one", "1"), object("platform", "two", "2")]);
        h.list("tenant-a", &[object("tenant-a", "three", "3")]);
        h.drain().await;
        assert_eq!(h.contents(), ["platform/one=1", "platform/two=2", "tenant-a/three=3"]);

        // platform's watch restarts: `two` was deleted while it was away, `one` changed.
        h.send("platform", Event::Init);
        h.send("platform", Event::InitApply(object("platform", "one", "1b")));
        h.drain().await;
        assert_eq!(h.contents(), ["platform/one=1", "platform/two=2", "tenant-a/three=3"], "nothing before InitDone");
        h.send("platform", Event::InitDone);
        h.drain().await;
        assert_eq!(h.contents(), ["platform/one=1b", "tenant-a/three=3"]);

        // Plain watch events pass through.
        h.send("tenant-a", Event::Apply(object("tenant-a", "four", "4")));
        h.send("tenant-a", Event::Delete(object("tenant-a", "three", "3")));
        h.drain().await;
        assert_eq!(h.contents(), ["platform/one=1b", "tenant-a/four=4"]);
    }

    #[tokio::test]
    async fn a_namespace_leaving_the_set_is_unwatched_and_its_objects_deleted() {
        let mut h = Harness::new();
        h.watch(&["platform", "tenant-a", "tenant-b"]);
        h.drain().await;
        h.list("platform", &[object("platform", "one", "1")]);
        h.list("tenant-a", &[object("tenant-a", "a", "a")]);
        h.list("tenant-b", &[object("tenant-b", "b", "b"), object("tenant-b", "c", "c")]);
        h.drain().await;
        assert_eq!(h.contents().len(), 4);

        h.watch(&["platform", "tenant-a"]);
        h.drain().await;
        assert_eq!(h.contents(), ["platform/one=1", "tenant-a/a=a"]);
        assert!(h.feeds.lock().unwrap()["tenant-b"].is_closed(), "tenant-b's watch was dropped");

        // A Tenant joining later: watched, and its objects arrive with its first list.
        h.watch(&["platform", "tenant-a", "tenant-c"]);
        h.drain().await;
        h.list("tenant-c", &[object("tenant-c", "d", "d")]);
        h.drain().await;
        assert_eq!(h.contents(), ["platform/one=1", "tenant-a/a=a", "tenant-c/d=d"]);
    }

    #[tokio::test]
    async fn dropping_the_namespace_that_had_not_listed_completes_the_first_fill() {
        let mut h = Harness::new();
        h.watch(&["platform", "tenant-a"]);
        h.drain().await;
        h.list("platform", &[object("platform", "one", "1")]);
        h.drain().await;
        assert!(!h.ready());
        h.watch(&["platform"]);
        h.drain().await;
        assert!(h.ready());
        assert_eq!(h.contents(), ["platform/one=1"]);
    }

    #[tokio::test]
    async fn a_watch_error_is_passed_on_and_changes_nothing() {
        let mut h = Harness::new();
        h.watch(&["platform"]);
        h.drain().await;
        h.list("platform", &[object("platform", "one", "1")]);
        h.drain().await;
        let error = watcher::Error::NoResourceVersion;
        h.feeds.lock().unwrap()["platform"].send(Err(error)).unwrap();
        let item = tokio::time::timeout(Duration::from_secs(1), h.merged.next()).await.unwrap().unwrap();
        assert!(item.is_err());
        assert_eq!(h.contents(), ["platform/one=1"]);
    }
}
