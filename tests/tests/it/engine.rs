//! The sync engine's dry runs against DynamoDB (moto) and both simulators: a dry run
//! sends no write to Runn and writes no ledger item, and the plan it shows is the value
//! the real run carries out — on the demo account and on a generated larger one.

use shared::account::{Account, Switches};
use shared::ids::WorkspaceId;
use shared::model::plan::{ActualsPlan, ImportPlan};
use shared::model::scope::Scope;
use shared::store::roles::*;
use shared::sync::{engine, Ctx, Mode, RunLimits};
use sims::clockify::{ClockifyData, ClockifySim};
use sims::common::{Control, Running};
use sims::runn::{Kind, RunnData, RunnSim};
use sims::testkit::*;
use std::collections::BTreeMap;

const ENTITIES: Switches = Switches {
    clients_and_projects: true,
    people: true,
    actuals: false,
};

struct Bed {
    aws: TestAws,
    clockify: ClockifySim,
    _c: Running,
    runn: RunnSim,
    _r: Running,
    account: Account,
    key: String,
}

async fn bed(data: ClockifyData, key: &str, ws: &str) -> Bed {
    let aws = TestAws::new().await;
    let clockify = ClockifySim::new(data);
    let runn = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (c, r) = (clockify.spawn().await.unwrap(), runn.spawn().await.unwrap());
    let mut account = demo_account("acme", &c, &r, RUNN_TOKEN);
    account.clockify_api_key = shared::SecretString::from(key.to_owned());
    account.settings.clockify_workspace = WorkspaceId::new(ws);
    account.settings.switches.actuals = true;
    aws.store.put_account(&account).await.unwrap();
    Bed {
        aws,
        clockify,
        _c: c,
        runn,
        _r: r,
        account,
        key: key.to_owned(),
    }
}

/// Requests that change something, per endpoint.
fn writes(ctl: &Control) -> BTreeMap<String, u64> {
    ctl.counts()
        .into_iter()
        .filter(|(e, _)| !e.starts_with("GET "))
        .collect()
}

impl Bed {
    fn clients(&self) -> (shared::clockify::ClockifyClient, shared::runn::RunnClient) {
        let c = clockify_config(&self._c, &self.key);
        (
            shared::clockify::ClockifyClient::new(c).unwrap(),
            runn_client(&self._r),
        )
    }

    async fn import(&self, mode: Mode) -> ImportPlan {
        let (c, r) = self.clients();
        let ws = &self.account.settings.clockify_workspace;
        let scope = Scope::daily(ENTITIES);
        let origins = shared::sync::Origins {
            store: &self.aws.store,
            account: &self.account.settings.id,
            run_id: "engine-test",
        };
        let (_, plan) = engine::import(ws, &c, &r, origins, &scope, RunLimits::default(), mode)
            .await
            .unwrap();
        plan
    }

    async fn actuals(&self, mode: Mode) -> ActualsPlan {
        let (c, r) = self.clients();
        let settings = self
            .aws
            .store
            .settings(&self.account.settings.id)
            .await
            .unwrap()
            .unwrap();
        let ctx = Ctx {
            account: &settings.id,
            settings: &settings,
            clockify: &c,
            runn: &r,
            store: &self.aws.store,
        };
        let scope = Scope::daily(Switches::ALL);
        let (report, plan) = engine::actuals(&ctx, &scope, RunLimits::default(), mode)
            .await
            .unwrap();
        assert!(report.finished);
        plan
    }

    /// Runn's day totals, by upsert key.
    fn runn_totals(&self) -> BTreeMap<(String, i64, i64, i64), (i64, i64)> {
        let data = self.runn.data.lock().unwrap();
        data.actuals
            .values()
            .map(|a| {
                let n = |k: &str| a[k].as_f64().unwrap_or(0.0) as i64;
                let key = (
                    a["date"].as_str().unwrap().to_owned(),
                    n("personId"),
                    n("projectId"),
                    n("roleId"),
                );
                (key, (n("billableMinutes"), n("nonbillableMinutes")))
            })
            .collect()
    }

    async fn ledger_items(&self) -> usize {
        let today = shared::sync::today(self.account.settings.time_zone);
        let from = today - chrono::Duration::days(400);
        self.aws
            .store
            .ledger(&self.account.settings.id, from, today)
            .await
            .unwrap()
            .len()
    }

    /// A dry run, then at once the real run: the same plan, and Runn holds what it said.
    async fn dry_then_real_import(&self) -> ImportPlan {
        self.runn.ctl.reset_stats();
        let dry = self.import(Mode::DRY_RUN).await;
        assert!(
            writes(&self.runn.ctl).is_empty(),
            "{:?}",
            writes(&self.runn.ctl)
        );
        let real = self.import(Mode::APPLY_KEEPING_PLAN).await;
        assert_eq!(dry, real, "the dry run's plan is the one carried out");
        let mut data = self.runn.data.lock().unwrap();
        for (kind, planned) in [
            (
                Kind::Client,
                dry.clients
                    .iter()
                    .map(|c| c.clockify_id.to_string())
                    .collect::<Vec<_>>(),
            ),
            (
                Kind::Project,
                dry.projects
                    .iter()
                    .map(|p| p.clockify_id.to_string())
                    .collect(),
            ),
            (
                Kind::Person,
                dry.people
                    .iter()
                    .map(|p| p.clockify_id.to_string())
                    .collect(),
            ),
        ] {
            for id in &planned {
                let carrying = kind
                    .table(&mut data)
                    .values()
                    .filter(|r| r["references"].to_string().contains(id.as_str()))
                    .count();
                assert_eq!(carrying, 1, "{kind:?} {id} created once");
            }
        }
        dry
    }

    async fn dry_then_real_actuals(&self) -> ActualsPlan {
        self.runn.ctl.reset_stats();
        let before_ledger = self.ledger_items().await;
        let before = self.runn_totals();
        let dry = self.actuals(Mode::DRY_RUN).await;
        assert!(
            writes(&self.runn.ctl).is_empty(),
            "{:?}",
            writes(&self.runn.ctl)
        );
        assert_eq!(
            self.ledger_items().await,
            before_ledger,
            "no ledger item written"
        );
        assert_eq!(self.runn_totals(), before);
        let real = self.actuals(Mode::APPLY_KEEPING_PLAN).await;
        assert_eq!(dry, real, "the dry run's plan is the one carried out");
        // Runn now holds every total the plan wrote, as planned.
        let now = self.runn_totals();
        for w in &dry.writes {
            let key = (
                w.key.date.to_string(),
                w.key.person.0,
                w.key.project.0,
                w.key.role.0,
            );
            assert_eq!(
                now.get(&key),
                Some(&(i64::from(w.billable), i64::from(w.nonbillable))),
                "{w:?}"
            );
        }
        let changed = now
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .count();
        assert_eq!(changed, dry.writes.len(), "nothing written beyond the plan");
        dry
    }

    fn give_everyone_a_role(&self) {
        let people: Vec<i64> = self
            .runn
            .data
            .lock()
            .unwrap()
            .people
            .keys()
            .copied()
            .collect();
        for p in people {
            self.runn.give_role(p, "Consultant");
        }
    }
}

#[tokio::test]
async fn on_the_demo_account_a_dry_run_shows_exactly_what_the_real_run_does() {
    let bed = bed(
        sims::demo::data(),
        sims::demo::API_KEY,
        sims::demo::WORKSPACE_ID,
    )
    .await;
    let first = bed.dry_then_real_import().await;
    assert_eq!(
        (
            first.clients.len(),
            first.projects.len(),
            first.people.len()
        ),
        (3, 4, 5)
    );
    // Imported: a second dry run plans nothing to create.
    let again = bed.dry_then_real_import().await;
    assert!(again.clients.is_empty() && again.projects.is_empty() && again.people.is_empty());
    bed.give_everyone_a_role();
    let actuals = bed.dry_then_real_actuals().await;
    assert!(actuals.writes.len() >= 40, "{}", actuals.writes.len());
    // An entry deleted in Clockify: the dry run says which total goes back to 0.
    {
        let mut d = bed.clockify.data.write().unwrap();
        let entries = &mut d.workspaces[0].time_entries;
        let i = entries
            .iter()
            .position(|e| e.end.is_some() && e.project_id.is_some())
            .unwrap();
        entries.remove(i);
    }
    let after = bed.dry_then_real_actuals().await;
    assert!(
        !after.writes.is_empty() && after.writes.len() <= 2,
        "{:?}",
        after.writes
    );
}

#[tokio::test]
async fn on_a_generated_larger_account_a_dry_run_shows_exactly_what_the_real_run_does() {
    let today = chrono::Utc::now().date_naive();
    let spec = sims::generate::GenSpec {
        users: 60,
        inactive_users: 3,
        clients: 12,
        archived_clients: 2,
        projects: 80,
        projects_without_client: 6,
        archived_projects: 5,
        entries: 6_000,
        first_day: today - chrono::Duration::days(40),
        days: 40,
        running: 5,
        ..Default::default()
    };
    let ws = sims::generate::workspace(&spec);
    let data = ClockifyData {
        api_keys: vec![CLOCKIFY_KEY.into()],
        member_keys: vec![],
        workspaces: vec![ws],
    };
    let bed = bed(data, CLOCKIFY_KEY, &spec.workspace_id).await;
    let first = bed.dry_then_real_import().await;
    assert!(
        first.projects.len() > 50 && first.people.len() == 57,
        "{first:?}"
    );
    bed.give_everyone_a_role();
    let actuals = bed.dry_then_real_actuals().await;
    assert!(actuals.writes.len() > 1_000, "{}", actuals.writes.len());
    let again = bed.dry_then_real_actuals().await;
    assert!(
        again.writes.is_empty(),
        "nothing changed in Clockify: nothing to write"
    );
}
