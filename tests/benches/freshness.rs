//! Benchmark: the freshness of near-real-time sync. A generated account of 200 people
//! (20,000 time entries over the 45-day window) is imported into Runn, everyone given a
//! role, the window's actuals synced and the webhooks registered (set-up, in-process,
//! without rate limits, not counted). Then, with both simulators enforcing their real
//! limits in real time (Clockify 50 requests a second, Runn 120 a minute per token),
//! entries are created, edited, moved between days and deleted at a steady rate through
//! the Clockify simulator's controls, so each change is delivered to the real `api`
//! binary (through the API Gateway stand-in), queued on the webhook queue (moto) and
//! brought in by the real `worker` binary.
//!
//! Freshness of a change: from the change in Clockify to the first moment Runn holds, for
//! every (person, project, day) it touched (a move: both days), the total that was right
//! just after it — or just after a later change of that pair (once that later change
//! happened): a later change may overtake it. Runn is polled every 250 ms.
//!
//! Reports p50, p95 and max freshness; the requests per change to Clockify and Runn (the
//! webhook deliveries apart); the changes' jobs' requests against the least possible;
//! where the time goes (delivery, the wait for the job, the job); and whether every total
//! of the window agrees at the end. A second phase loses 10 % of the deliveries, counts
//! the totals left wrong, runs the daily job and counts again.
//!
//! Run: `make bench` (which builds the release binaries first), or under moto with
//! `CARGO_LAMBDA` naming cargo-lambda: `tests/with-moto.sh .venv/bin/moto_server cargo
//! bench -p sims --bench freshness` (the binaries are taken from beside the bench, else
//! from `$CARGO_TARGET_DIR/debug`). For a quick run: `FRESHNESS_SECS=40
//! FRESHNESS_LOSSY_SECS=20`; a bigger account: `FRESHNESS_ENTRIES`, `FRESHNESS_PEOPLE`.

use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shared::account::{AccountId, Trigger, DEFAULT_WINDOW_DAYS};
use shared::clockify::TimeEntry;
use shared::ids::{ClockifyProjectId, ClockifyUserId, TimeEntryId, WorkspaceId};
use shared::jobs::{run_job, JobOutcome, WorkerConfig};
use shared::queue::{HookWork, Job, MemoryQueue};
use shared::runn::MAX_BULK;
use shared::store::roles::*;
use shared::sync::rules::actuals::{add_entry, minutes, DayTotals};
use shared::sync::rules::webhooks::CHANGES_DELAY;
use sims::clockify::{ClockifyData, ClockifySim, Delivery, DeliveryRecord, SimTimeEntry};
use sims::common::{Running, ServerRateLimit};
use sims::generate::{workspace, GenSpec};
use sims::live::Live;
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The account's size; `FRESHNESS_PEOPLE` and `FRESHNESS_ENTRIES` override them.
const PEOPLE: usize = 200;
const PROJECTS: usize = 80;
const ENTRIES: usize = 20_000;
/// The steady phase; `FRESHNESS_SECS` overrides it.
const STEADY: Duration = Duration::from_secs(240);
/// The phase with lost deliveries; `FRESHNESS_LOSSY_SECS` overrides it.
const LOSSY: Duration = Duration::from_secs(120);
/// One change every this long.
const EVERY: Duration = Duration::from_secs(2);
const LOSS: f64 = 0.1;
const SEED: u64 = 16;
const POLL: Duration = Duration::from_millis(250);
/// How long after the last change a change may still become fresh.
const SETTLE: Duration = Duration::from_secs(180);
const GOAL_P95: f64 = 60.0;
const CLOCKIFY_PER_SECOND: u32 = 50;
const RUNN_PER_MINUTE: u32 = 120;
/// Runn's actuals come 500 a page.
const ACTUALS_PAGE: usize = 500;
/// Clockify's deliveries: 1 to 3 s after the change, 5 % of them sent twice.
const DELIVERY: Delivery = Delivery {
    delay: Duration::from_secs(1),
    jitter: Duration::from_secs(2),
    loss: 0.0,
    duplicate: 0.05,
};

/// A Runn (person, project, day) and its (billable, non-billable) minutes.
type Key = (i64, i64, NaiveDate);
type Total = (i64, i64);
/// A Clockify (user, project, local day).
type Pair = (String, String, NaiveDate);

struct Bed {
    aws: TestAws,
    clockify: ClockifySim,
    _c: Running,
    runn: RunnSim,
    _r: Running,
    id: AccountId,
    ws: String,
    zones: HashMap<String, Tz>,
    people: HashMap<String, i64>,
    projects: HashMap<String, i64>,
}

impl Bed {
    /// The daily window (the account's zone is UTC).
    fn window(&self) -> (NaiveDate, NaiveDate) {
        let today = Utc::now().date_naive();
        (
            today - Days::days(i64::from(DEFAULT_WINDOW_DAYS) - 1),
            today,
        )
    }
    fn entry(&self, id: &str) -> Option<SimTimeEntry> {
        let data = self.clockify.data.read().unwrap();
        data.workspaces[0]
            .time_entries
            .iter()
            .find(|e| e.id == id)
            .cloned()
    }
    fn pair(&self, e: &SimTimeEntry) -> Pair {
        let tz = self.zones[&e.user_id];
        let day = e.start.with_timezone(&tz).date_naive();
        (
            e.user_id.clone(),
            e.project_id.clone().unwrap_or_default(),
            day,
        )
    }
    fn key(&self, p: &Pair) -> Key {
        (self.people[&p.0], self.projects[&p.1], p.2)
    }
    async fn run(&self, job: Job, cfg: &WorkerConfig) -> JobOutcome {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(14 * 60);
        run_job(
            &self.aws.store,
            &MemoryQueue::default(),
            &job,
            deadline,
            cfg,
        )
        .await
        .expect("the job runs")
    }
}

/// The simulators with the generated account, and the account in the store.
async fn bed() -> Bed {
    let aws = TestAws::new().await;
    let today = Utc::now().date_naive();
    let spec = GenSpec {
        users: env_n("FRESHNESS_PEOPLE", PEOPLE),
        clients: 12,
        projects: PROJECTS,
        entries: env_n("FRESHNESS_ENTRIES", ENTRIES),
        first_day: today - Days::days(i64::from(DEFAULT_WINDOW_DAYS) - 1),
        days: DEFAULT_WINDOW_DAYS,
        ..GenSpec::default()
    };
    let ws = workspace(&spec);
    let zones = ws
        .users
        .iter()
        .map(|u| (u.id.clone(), u.time_zone.parse().unwrap_or(chrono_tz::UTC)))
        .collect();
    let clockify = ClockifySim::new(ClockifyData {
        api_keys: vec![sims::demo::API_KEY.into()],
        member_keys: vec![],
        workspaces: vec![ws],
    });
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let mut account = demo_account("bench", &c, &r, RUNN_TOKEN);
    account.settings.clockify_workspace = WorkspaceId::new(spec.workspace_id.clone());
    account.settings.time_zone = chrono_tz::UTC;
    account.settings.autofill = false;
    aws.store.put_account(&account).await.unwrap();
    Bed {
        aws,
        clockify,
        _c: c,
        runn,
        _r: r,
        id: account.settings.id,
        ws: spec.workspace_id,
        zones,
        people: HashMap::new(),
        projects: HashMap::new(),
    }
}

/// The import, everyone given a role, actuals on and the window synced, as Save & Run
/// leaves an account (in-process, no rate limits); the Runn ids of Clockify's.
async fn prepare(b: &mut Bed) {
    let done = JobOutcome::Done { finished: true };
    let import = Job::import(b.id.clone(), "setup-import", Trigger::Manual);
    assert_eq!(b.run(import, &quick_worker()).await, done);
    let people: Vec<i64> = b.runn.data.lock().unwrap().people.keys().copied().collect();
    for p in people {
        b.runn.give_role(p, "Consultant");
    }
    let mut settings = b.aws.store.settings(&b.id).await.unwrap().unwrap();
    settings.switches.actuals = true;
    update_settings(&b.aws.store, &settings).await;
    let actuals = Job::import(b.id.clone(), "setup-actuals", Trigger::Manual);
    assert_eq!(b.run(actuals, &quick_worker()).await, done);
    b.people = runn_ids(&b.runn, Kind::Person);
    b.projects = runn_ids(&b.runn, Kind::Project);
    let users = b.clockify.data.read().unwrap().workspaces[0].users.len();
    assert_eq!(b.people.len(), users, "everyone imported");
}

/// Clockify id → Runn id of the records of `kind` that carry one.
fn runn_ids(runn: &RunnSim, kind: Kind) -> HashMap<String, i64> {
    let mut d = runn.data.lock().unwrap();
    kind.table(&mut d)
        .values()
        .filter_map(|v| {
            let ext = v["references"].as_array()?.first()?["externalId"].as_str()?;
            Some((ext.to_owned(), v["id"].as_i64()?))
        })
        .collect()
}

/// The worker's settings as the binary has them (production limits and retries).
fn worker_config(l: &Live) -> WorkerConfig {
    WorkerConfig {
        public_api_url: Some(l.gateway.url().to_string()),
        ..WorkerConfig::default()
    }
}

async fn register(b: &Bed, l: &Live) {
    let cfg = WorkerConfig {
        public_api_url: worker_config(l).public_api_url,
        ..quick_worker()
    };
    let job = Job::hooks(b.id.clone(), HookWork::Register);
    assert_eq!(b.run(job, &cfg).await, JobOutcome::Done { finished: true });
    let reg = b.aws.store.hooks(&b.id).await.unwrap().unwrap();
    assert_eq!(reg.hooks.len(), 9, "every event registered");
}

fn set_rate_limits(b: &Bed) {
    b.clockify.ctl.set_rate_limit(Some(ServerRateLimit {
        requests: CLOCKIFY_PER_SECOND,
        per: Duration::from_secs(1),
    }));
    b.runn.ctl.set_rate_limit(Some(ServerRateLimit {
        requests: RUNN_PER_MINUTE,
        per: Duration::from_secs(60),
    }));
}

fn as_entry(e: &SimTimeEntry) -> Option<TimeEntry> {
    Some(TimeEntry {
        id: TimeEntryId::new(e.id.as_str()),
        user_id: ClockifyUserId::new(e.user_id.as_str()),
        project_id: e.project_id.as_deref().map(ClockifyProjectId::new),
        billable: e.billable,
        description: String::new(),
        start: e.start,
        end: e.end?,
    })
}

/// The totals the integration should hold, from the Clockify simulator's entries, by
/// its own rules (each entry on its user's local day; minutes rounded per day, billable
/// and not apart): of the window, of some users (`None`: all).
fn clockify_totals(b: &Bed, users: Option<&HashSet<&str>>) -> HashMap<Key, Total> {
    let window = b.window();
    let mut totals = DayTotals::new();
    {
        let data = b.clockify.data.read().unwrap();
        for e in &data.workspaces[0].time_entries {
            if users.is_some_and(|u| !u.contains(e.user_id.as_str())) {
                continue;
            }
            if let Some(entry) = as_entry(e) {
                add_entry(&mut totals, &entry, b.zones[&e.user_id], window);
            }
        }
    }
    totals
        .into_iter()
        .filter_map(|((user, project, day), s)| {
            let person = *b.people.get(user.as_str())?;
            let project = *b.projects.get(project?.as_str())?;
            let total = (
                i64::from(minutes(s.billable)),
                i64::from(minutes(s.nonbillable)),
            );
            Some(((person, project, day), total))
        })
        .collect()
}

/// What Runn holds, summed over roles: of the window, or of `only` those keys.
fn runn_totals(b: &Bed, only: Option<&HashSet<Key>>) -> HashMap<Key, Total> {
    let window = b.window();
    let d = b.runn.data.lock().unwrap();
    let mut out: HashMap<Key, Total> = HashMap::new();
    for a in d.actuals.values() {
        let date = a["date"]
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        let (Some(p), Some(j), Some(date)) =
            (a["personId"].as_i64(), a["projectId"].as_i64(), date)
        else {
            continue;
        };
        let key = (p, j, date);
        let wanted = match only {
            Some(keys) => keys.contains(&key),
            None => date >= window.0 && date <= window.1,
        };
        if wanted {
            let t = out.entry(key).or_default();
            t.0 += a["billableMinutes"].as_f64().unwrap_or(0.0) as i64;
            t.1 += a["nonbillableMinutes"].as_f64().unwrap_or(0.0) as i64;
        }
    }
    out
}

/// Every (person, project, day) of the window with time on either side: how many
/// disagree, of how many.
fn wrong_totals(b: &Bed) -> (usize, usize) {
    let want = clockify_totals(b, None);
    let held = runn_totals(b, None);
    let keys: HashSet<&Key> = want.keys().chain(held.keys()).collect();
    let get = |m: &HashMap<Key, Total>, k: &Key| m.get(k).copied().unwrap_or_default();
    let live: Vec<&&Key> = keys
        .iter()
        .filter(|k| get(&want, k) != (0, 0) || get(&held, k) != (0, 0))
        .collect();
    let wrong = live
        .iter()
        .filter(|k| get(&want, k) != get(&held, k))
        .count();
    (wrong, live.len())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ChangeKind {
    Create,
    Edit,
    Move,
    Delete,
}

/// Seeded changes over random people, projects and days of the window (its first and
/// last day left out, so a person's local day never falls outside it).
struct Changer {
    rng: StdRng,
    users: Vec<String>,
    projects: Vec<String>,
    /// Finished entries with a project.
    entries: Vec<String>,
    days: (NaiveDate, NaiveDate),
    made: u128,
}

impl Changer {
    fn new(b: &Bed) -> Self {
        let data = b.clockify.data.read().unwrap();
        let w = &data.workspaces[0];
        let (first, last) = b.window();
        Self {
            rng: StdRng::seed_from_u64(SEED),
            users: w.users.iter().map(|u| u.id.clone()).collect(),
            projects: w.projects.iter().map(|p| p.id.clone()).collect(),
            entries: w
                .time_entries
                .iter()
                .filter(|e| e.project_id.is_some() && e.end.is_some())
                .map(|e| e.id.clone())
                .collect(),
            days: (first + Days::days(1), last - Days::days(1)),
            made: 0,
        }
    }

    fn pick(&mut self, of: fn(&Self) -> &Vec<String>) -> String {
        let i = self.rng.gen_range(0..of(self).len());
        of(self)[i].clone()
    }

    /// Makes the next change (30 % creates, 30 % edits, 20 % moves, 20 % deletes): its
    /// kind, its entry, and the (user, project, local day)s it touched.
    fn next(&mut self, b: &Bed) -> (ChangeKind, String, Vec<Pair>) {
        let roll = self.rng.gen_range(0..100);
        if self.entries.is_empty() || roll < 30 {
            return self.create(b);
        }
        let i = self.rng.gen_range(0..self.entries.len());
        let id = self.entries[i].clone();
        let before = b.entry(&id).expect("a known entry");
        let (kind, ok) = match roll {
            30..=59 => {
                let edit = self.edit();
                (ChangeKind::Edit, b.clockify.edit_entry(&b.ws, &id, edit))
            }
            60..=79 => {
                let by = self.shift(b, &before);
                let moved = b.clockify.edit_entry(&b.ws, &id, |e| {
                    e.start += by;
                    e.end = e.end.map(|t| t + by);
                });
                (ChangeKind::Move, moved)
            }
            _ => {
                self.entries.swap_remove(i);
                (ChangeKind::Delete, b.clockify.delete_entry(&b.ws, &id))
            }
        };
        assert!(ok, "the change was made");
        let mut pairs = vec![b.pair(&before)];
        if let Some(after) = b.entry(&id).map(|e| b.pair(&e)) {
            if !pairs.contains(&after) {
                pairs.push(after);
            }
        }
        (kind, id, pairs)
    }

    fn create(&mut self, b: &Bed) -> (ChangeKind, String, Vec<Pair>) {
        let user = self.pick(|c| &c.users);
        let project = self.pick(|c| &c.projects);
        let span = (self.days.1 - self.days.0).num_days();
        let day = self.days.0 + Days::days(self.rng.gen_range(0..=span));
        let (h, m, s) = (
            self.rng.gen_range(7..17),
            self.rng.gen_range(0..60),
            self.rng.gen_range(0..60),
        );
        let local = day.and_hms_opt(h, m, s).expect("a valid time");
        let start = b.zones[&user]
            .from_local_datetime(&local)
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.to_utc());
        let secs = self.rng.gen_range(5 * 60..=4 * 3600);
        self.made += 1;
        let id = format!("{:024x}", (0xfe5u128 << 84) + self.made);
        let entry = SimTimeEntry {
            id: id.clone(),
            user_id: user,
            project_id: Some(project),
            billable: self.rng.gen_bool(0.7),
            description: "freshness".into(),
            start,
            end: Some(start + Days::seconds(secs)),
        };
        let pair = b.pair(&entry);
        assert!(b.clockify.add_entry(&b.ws, entry));
        self.entries.push(id.clone());
        (ChangeKind::Create, id, vec![pair])
    }

    /// A new length (half the edits), the billable flag flipped, or another project.
    fn edit(&mut self) -> impl FnOnce(&mut SimTimeEntry) {
        let what = self.rng.gen_range(0..4);
        let secs = self.rng.gen_range(5 * 60..=4 * 3600);
        let project = self.pick(|c| &c.projects);
        move |e: &mut SimTimeEntry| match what {
            0 | 1 => e.end = Some(e.start + Days::seconds(secs)),
            2 => e.billable = !e.billable,
            _ => e.project_id = Some(project),
        }
    }

    /// One to three days earlier or later, within the days changes go to.
    fn shift(&mut self, b: &Bed, e: &SimTimeEntry) -> Days {
        let day = b.pair(e).2;
        let n = self.rng.gen_range(1..=3) * if self.rng.gen_bool(0.5) { 1 } else { -1 };
        let inside = |n: i64| {
            let d = day + Days::days(n);
            d >= self.days.0 && d <= self.days.1
        };
        Days::days(if inside(n) { n } else { -n })
    }
}

/// One change and when Runn first held what it called for.
struct Change {
    kind: ChangeKind,
    entry: String,
    /// Just before it was made (Clockify stamps its deliveries with the change's time).
    utc: DateTime<Utc>,
    at: Instant,
    keys: Vec<Key>,
    fresh: Option<Instant>,
}

#[derive(Default)]
struct Tracker {
    changes: Vec<Change>,
    /// Per key, the total right just after each change of it: (change index, total).
    right: HashMap<Key, Vec<(usize, Total)>>,
}

impl Tracker {
    fn push(&mut self, change: Change, totals: Vec<Total>) {
        let i = self.changes.len();
        for (k, t) in change.keys.iter().zip(totals) {
            self.right.entry(*k).or_default().push((i, t));
        }
        self.changes.push(change);
    }

    /// Makes the next change and notes the totals right just after it.
    fn push_change(&mut self, b: &Bed, changer: &mut Changer) {
        let utc = Utc::now();
        let (kind, entry, pairs) = changer.next(b);
        let at = Instant::now();
        let users: HashSet<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
        let want = clockify_totals(b, Some(&users));
        let keys: Vec<Key> = pairs.iter().map(|p| b.key(p)).collect();
        let totals = keys
            .iter()
            .map(|k| want.get(k).copied().unwrap_or_default())
            .collect();
        let change = Change {
            kind,
            entry,
            utc,
            at,
            keys,
            fresh: None,
        };
        self.push(change, totals);
    }

    /// Marks fresh the changes whose keys all hold their total, or a later change's.
    fn check(&mut self, b: &Bed) {
        let pending: HashSet<Key> = self
            .changes
            .iter()
            .filter(|c| c.fresh.is_none())
            .flat_map(|c| c.keys.iter().copied())
            .collect();
        if pending.is_empty() {
            return;
        }
        let held = runn_totals(b, Some(&pending));
        let now = Instant::now();
        for (i, c) in self.changes.iter_mut().enumerate() {
            if c.fresh.is_some() {
                continue;
            }
            let ok = c.keys.iter().all(|k| {
                let h = held.get(k).copied().unwrap_or_default();
                self.right[k].iter().any(|(j, t)| *j >= i && *t == h)
            });
            if ok {
                c.fresh = Some(now);
            }
        }
    }
}

/// The first delivery of a change that reached the API: when it was sent.
fn delivered(c: &Change, records: &[DeliveryRecord]) -> Option<DateTime<Utc>> {
    records
        .iter()
        .filter(|r| r.entry_id == c.entry && r.at >= c.utc && r.at - c.utc < Days::seconds(1))
        .filter(|r| r.status == Some(200))
        .filter_map(|r| r.sent_at)
        .min()
}

/// What the worker's log says, each line stamped when it was read.
struct LogTail {
    path: PathBuf,
    read: u64,
    /// "changes brought in": when, and the job's people, writes and Clockify requests.
    ends: Vec<(Instant, [u64; 3])>,
    /// Other notable lines (deferred, retried, warnings, errors), counted.
    notes: BTreeMap<String, usize>,
}

impl LogTail {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            read: 0,
            ends: vec![],
            notes: BTreeMap::new(),
        }
    }

    fn poll(&mut self) {
        let mut text = String::new();
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.read)).is_err() || f.read_to_string(&mut text).is_err() {
            return;
        }
        let Some(end) = text.rfind('\n') else {
            return;
        };
        self.read += end as u64 + 1;
        let now = Instant::now();
        for line in text[..end].lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let (msg, level) = (&v["fields"]["message"], v["level"].as_str());
            let n = |f: &str| v["fields"][f].as_u64().unwrap_or(0);
            if msg == "changes brought in" {
                self.ends
                    .push((now, [n("people"), n("writes"), n("spent")]));
            } else if msg == "job deferred" || level.is_some_and(|l| l != "INFO") {
                let why = v["fields"]["why"].as_str().or(msg.as_str()).unwrap_or("?");
                *self
                    .notes
                    .entry(why.chars().take(90).collect())
                    .or_default() += 1;
            }
        }
    }
}

/// A job of the changes, from its first Runn request (the index's contracts) to its
/// "changes brought in"; seconds since the phase began.
#[derive(Clone, Debug, Default)]
struct JobStat {
    start: f64,
    end: Option<f64>,
    people: u64,
    writes: u64,
    clockify: u64,
    runn: u64,
}

/// What one phase measured.
struct Phase {
    name: &'static str,
    length: Duration,
    changes: Vec<Change>,
    /// Per change delivered: seconds to fresh (`None`: never), and its stages (delivery,
    /// wait for the job, job).
    fresh: Vec<(Option<f64>, Option<[f64; 3]>)>,
    /// Changes none of whose deliveries arrived, and of them those a later change of the
    /// same person brought in (a job recomputes the person's whole window).
    lost: usize,
    healed: usize,
    /// Runn requests while the changes were made.
    runn_during: usize,
    deliveries: [usize; 3],
    jobs: Vec<JobStat>,
    clockify: BTreeMap<String, u64>,
    runn: BTreeMap<String, u64>,
    limited: [usize; 2],
    wrong: (usize, usize),
}

/// A change every [`EVERY`] for `length`, Runn polled every [`POLL`], until every
/// change that reached the API is fresh (or [`SETTLE`] after the last); then the worker
/// is left to go idle and the phase is measured.
async fn phase(
    b: &Bed,
    tail: &mut LogTail,
    changer: &mut Changer,
    name: &'static str,
    length: Duration,
) -> Phase {
    b.clockify.ctl.reset_stats();
    b.runn.ctl.reset_stats();
    let (start, utc) = (Instant::now(), Utc::now());
    let ends_from = tail.ends.len();
    let mut t = Tracker::default();
    let (mut next, stop) = (start, start + length);
    loop {
        let now = Instant::now();
        if now < stop && now >= next {
            t.push_change(b, changer);
            next += EVERY;
        }
        tail.poll();
        t.check(b);
        if now >= stop && (settled(b, &t) || now >= stop + SETTLE) {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    idle(b, tail).await;
    let records: Vec<DeliveryRecord> = b
        .clockify
        .deliveries()
        .into_iter()
        .filter(|r| r.at >= utc)
        .collect();
    let jobs = jobs(b, tail, ends_from, start);
    measure(b, name, length, t.changes, &records, jobs, (start, utc))
}

/// Every change fresh, or never delivered (all its deliveries lost); none under way.
fn settled(b: &Bed, t: &Tracker) -> bool {
    if b.clockify.deliveries_pending() > 0 {
        return false;
    }
    let records = b.clockify.deliveries();
    t.changes
        .iter()
        .all(|c| c.fresh.is_some() || delivered(c, &records).is_none())
}

/// Waits until neither simulator has had a request for the debounce delay and more (a
/// last duplicate's job may still come), at most two minutes.
async fn idle(b: &Bed, tail: &mut LogTail) {
    let quiet = CHANGES_DELAY + Duration::from_secs(5);
    let begun = Instant::now();
    let (mut seen, mut since) = ((0, 0), Instant::now());
    while since.elapsed() < quiet && begun.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(POLL).await;
        tail.poll();
        let now = (b.clockify.ctl.total(), b.runn.ctl.total());
        if now != seen {
            (seen, since) = (now, Instant::now());
        }
    }
}

/// The phase's jobs: each starts at a first-page read of Runn's contracts (the index, a
/// job's first Runn request) and ends at the next "changes brought in".
fn jobs(b: &Bed, tail: &LogTail, ends_from: usize, start: Instant) -> Vec<JobStat> {
    let secs = |t: Instant| t.saturating_duration_since(start).as_secs_f64();
    let log = b.runn.ctl.log();
    let starts: Vec<f64> = log
        .iter()
        .filter(|r| r.endpoint == "GET /contracts/" && !r.query.contains("cursor"))
        .map(|r| secs(r.at))
        .collect();
    let ends: Vec<(f64, [u64; 3])> = tail.ends[ends_from..]
        .iter()
        .map(|(t, n)| (secs(*t), *n))
        .collect();
    let mut out = vec![];
    for (i, s) in starts.iter().enumerate() {
        let until = starts.get(i + 1).copied().unwrap_or(f64::MAX);
        let end = ends.iter().find(|(e, _)| e >= s && *e < until + 1.0);
        let [people, writes, clockify] = end.map_or([0; 3], |e| e.1);
        let runn = log
            .iter()
            .filter(|r| (*s..until).contains(&secs(r.at)))
            .count() as u64;
        out.push(JobStat {
            start: *s,
            end: end.map(|e| e.0),
            people,
            writes,
            clockify,
            runn,
        });
    }
    out
}

fn measure(
    b: &Bed,
    name: &'static str,
    length: Duration,
    changes: Vec<Change>,
    records: &[DeliveryRecord],
    jobs: Vec<JobStat>,
    (start, utc): (Instant, DateTime<Utc>),
) -> Phase {
    let at = |u: DateTime<Utc>| (u - utc).num_milliseconds() as f64 / 1000.0;
    let secs = |t: Instant| t.saturating_duration_since(start).as_secs_f64();
    let (mut fresh, mut lost, mut healed) = (vec![], 0, 0);
    for c in &changes {
        let f = c.fresh.map(|f| (f - c.at).as_secs_f64());
        let Some(sent) = delivered(c, records).map(at) else {
            lost += 1;
            healed += usize::from(f.is_some());
            continue;
        };
        let job = jobs.iter().find(|j| j.start >= sent);
        let stages = job.and_then(|j| Some([sent - secs(c.at), j.start - sent, j.end? - j.start]));
        fresh.push((f, stages.filter(|_| f.is_some())));
    }
    let runn_during = b
        .runn
        .ctl
        .log()
        .iter()
        .filter(|r| r.at <= start + length)
        .count();
    let sent = records.iter().filter(|r| r.sent_at.is_some()).count();
    let deliveries = [
        sent,
        records.len() - sent,
        records.iter().filter(|r| r.duplicate).count(),
    ];
    let limited =
        [&b.clockify.ctl, &b.runn.ctl].map(|c| c.log().iter().filter(|r| r.status == 429).count());
    Phase {
        name,
        length,
        changes,
        fresh,
        lost,
        healed,
        runn_during,
        deliveries,
        jobs,
        clockify: b.clockify.ctl.counts(),
        runn: b.runn.ctl.counts(),
        limited,
        wrong: wrong_totals(b),
    }
}

/// The daily run (as the scheduler queues it), in-process with the worker's production
/// settings, under the rate limits: its wall time and requests.
async fn daily(b: &Bed, l: &Live) -> (Duration, u64, u64) {
    b.clockify.ctl.reset_stats();
    b.runn.ctl.reset_stats();
    let start = Instant::now();
    let job = Job::import(b.id.clone(), "daily-freshness", Trigger::Schedule);
    assert_eq!(
        b.run(job, &worker_config(l)).await,
        JobOutcome::Done { finished: true }
    );
    (start.elapsed(), b.clockify.ctl.total(), b.runn.ctl.total())
}

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_secs(name: &str, default: Duration) -> Duration {
    Duration::from_secs(env_n(name, default.as_secs() as usize) as u64)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // RUST_LOG=info shows the in-process set-up's lines (none by default).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let (steady, lossy) = (
        env_secs("FRESHNESS_SECS", STEADY),
        env_secs("FRESHNESS_LOSSY_SECS", LOSSY),
    );
    let mut b = bed().await;
    let began = Instant::now();
    prepare(&mut b).await;
    let l = Live::start(&b.aws).await.expect("start the binaries");
    register(&b, &l).await;
    let setup = (began.elapsed(), b.clockify.ctl.total(), b.runn.ctl.total());
    eprintln!(
        "set-up done in {:.0} s; changes for {} s, then {} s with lost deliveries",
        setup.0.as_secs_f64(),
        steady.as_secs(),
        lossy.as_secs()
    );
    set_rate_limits(&b);
    let mut tail = LogTail::new(l.worker.log_path().to_owned());
    let mut changer = Changer::new(&b);
    b.clockify.set_delivery(DELIVERY);
    let first = phase(&b, &mut tail, &mut changer, "steady", steady).await;
    b.clockify.set_delivery(Delivery {
        loss: LOSS,
        ..DELIVERY
    });
    let second = phase(&b, &mut tail, &mut changer, "10 % lost", lossy).await;
    let daily = daily(&b, &l).await;
    let after_daily = wrong_totals(&b);
    let polled = l.poller.stop().await;
    report(&b, &[&first, &second], setup, daily, after_daily);
    println!("worker log: {:?}; poller: {polled:?}", tail.notes);
}

/// The nearest-rank percentile of sorted values.
fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn report(
    b: &Bed,
    phases: &[&Phase],
    setup: (Duration, u64, u64),
    daily: (Duration, u64, u64),
    after_daily: (usize, usize),
) {
    println!(
        "Freshness (webhooks): {} people, {PROJECTS} projects, {} entries over the {DEFAULT_WINDOW_DAYS}-day window; a change every {:.0} s (30 % creates, 30 % edits, 20 % moves, 20 % deletes); Clockify {CLOCKIFY_PER_SECOND}/s, Runn {RUNN_PER_MINUTE}/min, real time; deliveries 1-3 s after the change, 5 % twice; debounce {} s",
        b.people.len(),
        env_n("FRESHNESS_ENTRIES", ENTRIES),
        EVERY.as_secs_f64(),
        CHANGES_DELAY.as_secs()
    );
    println!(
        "set-up (not counted, no rate limits): {:.0} s, Clockify {} and Runn {} requests",
        setup.0.as_secs_f64(),
        setup.1,
        setup.2
    );
    freshness_table(phases);
    requests_table(b, phases);
    stages_table(phases);
    for p in phases {
        endpoints(p);
    }
    let last = phases.last().expect("a phase");
    println!(
        "after {}: {} of {} totals wrong; the daily run ({:.1} s, Clockify {} and Runn {} requests) leaves {} of {} wrong",
        last.name,
        last.wrong.0,
        last.wrong.1,
        daily.0.as_secs_f64(),
        daily.1,
        daily.2,
        after_daily.0,
        after_daily.1
    );
}

fn freshness_table(phases: &[&Phase]) {
    println!(
        "{:<10} {:>6} {:>22} {:>9} {:>10} {:>7} {:>7} {:>7} {:>6} {:>13}",
        "phase",
        "length",
        "changes c/e/m/d",
        "delivered",
        "lost/healed",
        "p50",
        "p95",
        "max",
        "goal",
        "totals right"
    );
    for p in phases {
        let kinds = [
            ChangeKind::Create,
            ChangeKind::Edit,
            ChangeKind::Move,
            ChangeKind::Delete,
        ]
        .map(|k| p.changes.iter().filter(|c| c.kind == k).count());
        let f = sorted(p.fresh.iter().filter_map(|x| x.0).collect());
        let ok = pct(&f, 0.95) < GOAL_P95 && f.len() == p.fresh.len();
        println!(
            "{:<10} {:>5}s {:>5} ({:>3}/{:>3}/{:>3}/{:>3}) {:>4}/{:<4} {:>5}/{:<4} {:>6.1}s {:>6.1}s {:>6.1}s {:>6} {:>6}/{:<6}",
            p.name,
            p.length.as_secs(),
            p.changes.len(),
            kinds[0],
            kinds[1],
            kinds[2],
            kinds[3],
            f.len(),
            p.fresh.len(),
            p.lost,
            p.healed,
            pct(&f, 0.5),
            pct(&f, 0.95),
            f.last().copied().unwrap_or(f64::NAN),
            if ok { "met" } else { "missed" },
            p.wrong.1 - p.wrong.0,
            p.wrong.1,
        );
    }
    println!("(a change is fresh when Runn first holds, for every (person, project, day) it touched, the total right just after it or after a later change of that day; delivered: changes fresh / changes with a delivery that arrived, whose freshness p50, p95 and max are; lost: changes none of whose deliveries arrived / of them brought in anyway by a later change of the same person; goal: p95 under {GOAL_P95:.0} s and every delivered change fresh; totals right: every (person, project, day) of the window, Runn against Clockify, at the phase's end)");
}

/// The least a job needs: one report read of Clockify; of Runn, the job's people's
/// actuals over the window (one read each, or the window's pages if fewer) and the
/// writes in calls of 100.
fn least(j: &JobStat, window_actuals: usize) -> (u64, u64) {
    let reads = (j.people as usize)
        .min(window_actuals.div_ceil(ACTUALS_PAGE))
        .max(1);
    (1, (reads + (j.writes as usize).div_ceil(MAX_BULK)) as u64)
}

fn requests_table(b: &Bed, phases: &[&Phase]) {
    let window_actuals = runn_totals(b, None).len();
    println!(
        "{:<10} {:>18} {:>7} {:>7} {:>9} {:>5} {:>14} {:>14} {:>9}",
        "phase",
        "deliveries/change",
        "C/chg",
        "R/chg",
        "Runn use",
        "jobs",
        "C/job (least)",
        "R/job (least)",
        "429s C/R"
    );
    for p in phases {
        let n = p.changes.len().max(1) as f64;
        let (c, r): (u64, u64) = (p.clockify.values().sum(), p.runn.values().sum());
        let jobs = p.jobs.len().max(1) as f64;
        let (lc, lr) = p
            .jobs
            .iter()
            .map(|j| least(j, window_actuals))
            .fold((0, 0), |a, l| (a.0 + l.0, a.1 + l.1));
        let allowed = f64::from(RUNN_PER_MINUTE) * p.length.as_secs_f64() / 60.0;
        println!(
            "{:<10} {:>4.2} ({:>2} dup,{:>2} lost) {:>7.2} {:>7.2} {:>8.0}% {:>5} {:>5.1} ({:>4.1}) {:>6.1} ({:>4.1}) {:>4}/{:<4}",
            p.name,
            p.deliveries[0] as f64 / n,
            p.deliveries[2],
            p.deliveries[1],
            c as f64 / n,
            r as f64 / n,
            100.0 * p.runn_during as f64 / allowed,
            p.jobs.len(),
            c as f64 / jobs,
            lc as f64 / jobs,
            r as f64 / jobs,
            lr as f64 / jobs,
            p.limited[0],
            p.limited[1],
        );
    }
    println!("(deliveries: POSTs that reached the API per change, duplicates and lost attempts counted apart; C, R: Clockify and Runn requests per change and per job, every request of the phase; Runn use: Runn requests while the changes were made, of what 120 a minute allows; least: one report read, and the job's people's actuals over the window (one read each, or the whole window's pages if fewer) with the writes in calls of 100)");
}

fn stages_table(phases: &[&Phase]) {
    println!(
        "{:<10} {:>17} {:>17} {:>17} {:>11} {:>14} {:>14}",
        "stages",
        "delivery p50/p95",
        "wait p50/p95",
        "job p50/p95",
        "people/job",
        "R/job p50/max",
        "C/job (worker)"
    );
    for p in phases {
        let col = |i: usize| sorted(p.fresh.iter().filter_map(|f| Some(f.1?[i])).collect());
        let (d, w, j) = (col(0), col(1), col(2));
        let of = |f: fn(&JobStat) -> u64| sorted(p.jobs.iter().map(|j| f(j) as f64).collect());
        let (people, runn) = (of(|j| j.people), of(|j| j.runn));
        let spent: u64 = p.jobs.iter().map(|j| j.clockify).sum();
        println!(
            "{:<10} {:>8.1}/{:<8.1} {:>8.1}/{:<8.1} {:>8.1}/{:<8.1} {:>5.0}/{:<5.0} {:>6.0}/{:<7.0} {:>14.1}",
            p.name,
            pct(&d, 0.5),
            pct(&d, 0.95),
            pct(&w, 0.5),
            pct(&w, 0.95),
            pct(&j, 0.5),
            pct(&j, 0.95),
            pct(&people, 0.5),
            people.last().copied().unwrap_or(f64::NAN),
            pct(&runn, 0.5),
            runn.last().copied().unwrap_or(f64::NAN),
            spent as f64 / p.jobs.len().max(1) as f64,
        );
    }
    println!("(seconds; the wait is from the delivery to the start of the job that brought the change in: the {} s debounce, the queue's poll, and any job before it; R/job: Runn requests from a job's start to the next's; C/job (worker): the Clockify requests the worker counted)", CHANGES_DELAY.as_secs());
}

/// Requests per job by endpoint, for where a job's requests go.
fn endpoints(p: &Phase) {
    let jobs = p.jobs.len().max(1) as f64;
    let line = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(e, n)| format!("{e} {:.1}", *n as f64 / jobs))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("{} per job: Clockify: {}", p.name, line(&p.clockify));
    println!("{} per job: Runn: {}", p.name, line(&p.runn));
}
