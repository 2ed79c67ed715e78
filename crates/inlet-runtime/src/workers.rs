//! Several `inlet run` processes (workers) sharing the syncs, and reloading the config.
//!
//! Per destination, each worker keeps a membership session ([`inlet_postgres::workers`])
//! and looks at `pg_locks` every second: how many workers are alive, and which syncs some
//! session holds. With that it runs its fair share ([`crate::share`]): it releases syncs
//! above the share (each stops after the batch being written commits, then its session
//! and lock go), and starts free ones below it. A sync's own exclusive lock stays the one
//! guarantee that it runs once: two workers reaching for the same free sync race for it in
//! `pg_try_advisory_lock`, and the loser's attempt simply ends. Shares are counted per
//! destination. Alone, a worker's share is every sync: it runs them all, as it always did.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use inlet_postgres::sink::lock_key;
use inlet_postgres::workers::{end_silent, join, survey, worker_key, SILENCE};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::connect::connect_as_sync_user;
use crate::metrics::Metrics;
use crate::observer;
use crate::paths::Paths;
use crate::readiness::{Readiness, SyncState};
use crate::reload::{self, FileWatch, Wanted};
use crate::run::{backoff, run_sync_forever, OnOpen};
use crate::server::{Hook, Hooks};
use crate::share::{fair_share, plan};

/// What a worker is told to run, and what it reports to.
pub struct Supervisor {
    pub paths: Paths,
    pub only: Vec<String>,
    pub wanted: BTreeMap<String, Wanted>,
    pub hooks: Hooks,
    pub readiness: Readiness,
    pub metrics: Metrics,
    pub on_open: OnOpen,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("wanted", &self.wanted)
            .finish_non_exhaustive()
    }
}

/// A sync running here.
struct Task {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
    destination: String,
    fingerprint: String,
    /// Told to stop (over the share, removed or changed); still holds its lock until it ends.
    releasing: bool,
}

/// The latest look at one destination's `pg_locks`, numbered so each is acted on once.
#[derive(Clone, Default)]
struct Survey {
    seq: u64,
    /// Live workers and the sync keys held; or why the destination cannot be reached.
    seen: Option<Result<(usize, HashSet<i64>), String>>,
}

/// A membership session, kept by a task of its own.
struct Member {
    survey: watch::Receiver<Survey>,
    acted_on: u64,
    handle: JoinHandle<()>,
    fingerprint: String,
}

impl Supervisor {
    /// Runs this worker's share until `stop` turns true; then every sync stops after the
    /// batch being written commits, and this returns.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let me = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        let mut tasks: HashMap<String, Task> = HashMap::new();
        let mut members: HashMap<String, Member> = HashMap::new();
        let mut file = FileWatch::new(&self.paths.config);
        // `sync add --force` may store a sync's new key or webhook secret and leave
        // inlet.toml as it was.
        let mut secrets = FileWatch::new(&self.paths.secrets());
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| tracing::warn!("SIGHUP will not reload the config: {e}"))
            .ok();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = 0u64;
        // A membership's new survey is acted on at once, not at the next tick: the first
        // one, right after start, is what lets the syncs start.
        let surveyed = Arc::new(Notify::new());
        loop {
            let reload = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                () = surveyed.notified() => false,
                _ = tick.tick() => {
                    ticks += 1;
                    // Both asked: each takes in what it saw.
                    ticks.is_multiple_of(2) && (file.changed() | secrets.changed())
                }
                _ = async {
                    match hup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    file.changed();
                    secrets.changed();
                    tracing::info!("SIGHUP: reloading the config");
                    true
                }
            };
            if reload {
                self.reload();
            }
            self.reap(&mut tasks);
            self.restart_changed(&mut tasks);
            self.keep_members(&mut members, &surveyed);
            for (destination, member) in members.iter_mut() {
                self.coordinate(me, destination, member, &mut tasks);
            }
        }
        for task in tasks.values() {
            let _ = task.stop.send(true);
        }
        for (_, task) in tasks.drain() {
            let _ = task.handle.await;
        }
        for member in members.values() {
            member.handle.abort();
        }
    }

    /// Reads the config again; a broken one is reported and changes nothing.
    fn reload(&mut self) {
        match reload::wanted(&self.paths, &self.only, &self.metrics, &self.wanted) {
            Ok(wanted) => {
                let before: HashSet<&String> = self.wanted.keys().collect();
                let after: HashSet<&String> = wanted.keys().collect();
                let changed = wanted
                    .iter()
                    .filter(|(n, w)| {
                        self.wanted
                            .get(*n)
                            .is_some_and(|old| old.fingerprint != w.fingerprint)
                    })
                    .count();
                tracing::info!(
                    added = after.difference(&before).count(),
                    removed = before.difference(&after).count(),
                    changed,
                    "config reloaded"
                );
                *self.hooks.write().unwrap_or_else(|e| e.into_inner()) = hook_map(&wanted);
                self.wanted = wanted;
            }
            Err(p) => tracing::error!(
                fix = %p.fix,
                "the config was not reloaded: {}; the running syncs go on unchanged",
                p.message
            ),
        }
    }

    /// Forgets syncs whose task ended (released, or another worker had the lock).
    fn reap(&self, tasks: &mut HashMap<String, Task>) {
        tasks.retain(|name, task| {
            if !task.handle.is_finished() {
                return true;
            }
            match self.wanted.contains_key(name) {
                true if task.releasing => self.readiness.set(name, SyncState::StandingBy),
                true => {} // it said why itself
                false => self.readiness.remove(name),
            }
            false
        });
    }

    /// Stops syncs removed from the config or changed in it (a changed one starts again,
    /// with its new settings, once its old run has ended).
    fn restart_changed(&self, tasks: &mut HashMap<String, Task>) {
        for (name, task) in tasks.iter_mut().filter(|(_, t)| !t.releasing) {
            let why = match self.wanted.get(name) {
                None => "removed from the config",
                Some(w) if w.fingerprint != task.fingerprint => "changed in the config",
                Some(_) => continue,
            };
            tracing::info!(sync = %name, "{why}: stopping after the batch being written");
            task.releasing = true;
            let _ = task.stop.send(true);
        }
    }

    /// One membership per destination the wanted syncs write to, started again when the
    /// destination's settings change.
    fn keep_members(&self, members: &mut HashMap<String, Member>, surveyed: &Arc<Notify>) {
        let mut needed: BTreeMap<&String, String> = BTreeMap::new();
        for w in self.wanted.values() {
            needed.insert(&w.sync.destination, w.destination.clone());
        }
        members.retain(|d, m| {
            let keep = needed.get(d) == Some(&m.fingerprint);
            if !keep {
                m.handle.abort();
            }
            keep
        });
        for (destination, fingerprint) in needed {
            if members.contains_key(destination) {
                continue;
            }
            let (tx, rx) = watch::channel(Survey::default());
            let handle = tokio::spawn(membership(
                self.paths.clone(),
                destination.clone(),
                tx,
                surveyed.clone(),
            ));
            members.insert(
                destination.clone(),
                Member {
                    survey: rx,
                    acted_on: 0,
                    handle,
                    fingerprint,
                },
            );
        }
    }

    /// Releases and takes syncs of `destination` to match this worker's share.
    fn coordinate(
        &self,
        me: u64,
        destination: &str,
        member: &mut Member,
        tasks: &mut HashMap<String, Task>,
    ) {
        let survey = member.survey.borrow().clone();
        if survey.seq == member.acted_on {
            return;
        }
        member.acted_on = survey.seq;
        let here: Vec<(&String, &Wanted)> = self
            .wanted
            .iter()
            .filter(|(_, w)| w.sync.destination == destination)
            .collect();
        let (workers, held) = match survey.seen {
            Some(Ok(seen)) => seen,
            Some(Err(why)) => {
                for (name, _) in here.iter().filter(|(n, _)| !tasks.contains_key(*n)) {
                    self.readiness
                        .set(name, SyncState::NotConnected(why.clone()));
                }
                return;
            }
            None => return,
        };
        let share = fair_share(here.len(), workers);
        let mine: Vec<String> = tasks
            .iter()
            .filter(|(_, t)| t.destination == destination && !t.releasing)
            .map(|(n, _)| n.clone())
            .collect();
        let mut free = Vec::new();
        for (name, w) in &here {
            if tasks.contains_key(*name) {
                continue;
            }
            match held.contains(&lock_key(&w.sync.schema)) {
                true => self.readiness.set(name, SyncState::StandingBy),
                false => free.push((*name).clone()),
            }
        }
        let plan = plan(me, share, &mine, &free);
        for name in &plan.release {
            if let Some(task) = tasks.get_mut(name) {
                tracing::info!(sync = %name, workers, share, "over this worker's share: handing over after the batch being written");
                task.releasing = true;
                let _ = task.stop.send(true);
            }
        }
        for name in plan.take {
            let Some(w) = self.wanted.get(&name) else {
                continue;
            };
            self.readiness
                .set(&name, SyncState::NotConnected("starting".into()));
            let (stop, stopped) = watch::channel(false);
            let observed = observer::for_sync(
                &name,
                w.sync.source.0,
                self.metrics.clone(),
                self.readiness.clone(),
            );
            // Every line logged while running the sync names it (a field of JSON logs).
            let span = tracing::info_span!("sync", sync = %name);
            let run = run_sync_forever(
                self.paths.clone(),
                name.clone(),
                w.sync.clone(),
                w.source.clone(),
                stopped,
                self.on_open.clone(),
                self.readiness.clone(),
                observed,
                self.metrics.api_meter(&name),
                self.metrics.usage(&name),
            );
            let handle = tokio::spawn(run.instrument(span));
            let task = Task {
                stop,
                handle,
                destination: destination.to_string(),
                fingerprint: w.fingerprint.clone(),
                releasing: false,
            };
            tasks.insert(name, task);
        }
    }
}

/// The webhook side of the syncs, for the server.
pub fn hooks(wanted: &BTreeMap<String, Wanted>) -> Hooks {
    Arc::new(RwLock::new(hook_map(wanted)))
}

fn hook_map(wanted: &BTreeMap<String, Wanted>) -> HashMap<String, Hook> {
    wanted
        .iter()
        .map(|(name, w)| {
            let hook = Hook {
                connector: w.sync.source.0,
                source: w.source.clone(),
                secret: w.webhook_secret.clone(),
                base_url: w.sync.webhook_base_url.clone(),
            };
            (name.clone(), hook)
        })
        .collect()
}

/// Keeps this worker a member of `destination`'s workers and surveys `pg_locks` every
/// second (ending the sessions of workers gone silent), reconnecting with backoff, until the supervisor aborts it; each survey
/// published wakes the supervisor (`surveyed`).
async fn membership(
    paths: Paths,
    destination: String,
    tx: watch::Sender<Survey>,
    surveyed: Arc<Notify>,
) {
    let key = worker_key(&destination);
    let publish = |seen: Result<(usize, HashSet<i64>), String>| {
        tx.send_modify(|s| {
            s.seq += 1;
            s.seen = Some(seen);
        });
        surveyed.notify_one();
    };
    let mut failures = 0u32;
    loop {
        let joined = async {
            let (_, session) = connect_as_sync_user(&paths, &destination).await?;
            join(&session.client, key).await?;
            Ok::<_, inlet_postgres::Problem>(session)
        };
        let problem = match joined.await {
            Ok(session) => loop {
                // A silent worker's sessions are ended first: the next survey finds its
                // syncs free.
                match end_silent(&session.client, key).await {
                    Ok(ended) => ended.iter().for_each(|worker| {
                        tracing::warn!(%destination, %worker, "worker silent for over {} s (cut off from the database, or frozen): ended its sessions, so its syncs run on the others", SILENCE.as_secs());
                    }),
                    Err(p) => tracing::warn!(%destination, fix = %p.fix, "{}", p.message),
                }
                match survey(&session.client, key).await {
                    Ok(seen) => {
                        failures = 0;
                        publish(Ok(seen));
                    }
                    Err(p) => break p,
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            },
            Err(p) => p,
        };
        failures += 1;
        let delay = backoff(failures);
        tracing::error!(%destination, fix = %problem.fix, "{}; retrying in {}s", problem.message, delay.as_secs());
        publish(Err(problem.message));
        tokio::time::sleep(delay).await;
    }
}
