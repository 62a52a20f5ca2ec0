//! The command line as an operator uses it: the real binary, against moto
//! (AWS_ENDPOINT_URL, set by tests/with-moto.sh) and the two simulators.

use sims::clockify::ClockifySim;
use sims::demo;
use sims::runn::{RunnData, RunnSim};
use sims::testkit::{unique, workspace_bin, RUNN_TOKEN};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn cli(env: &HashMap<String, String>, args: &[&str]) -> Out {
    let mut cmd = Command::new(workspace_bin("runn-clockify"));
    cmd.args(args).envs(env).env_remove("RUST_LOG");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let out = Out {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    for secret in [RUNN_TOKEN, demo::API_KEY] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "a secret was printed:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    out
}

fn file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(unique(name));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn an_operator_registers_an_account_syncs_it_and_reads_its_status() {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());

    let (env, _) = setup(&unique("cli")).await;
    assert!(["TABLE_NAME", "KMS_KEY_ID", "QUEUE_URL"]
        .iter()
        .all(|k| env.contains_key(*k)));

    let account = account_json(&cr, &rr);
    let mut bad = account.clone();
    bad["time_zone"] = "Mars/Olympus_Mons".into();
    let bad = file("bad.json", &bad.to_string());
    let out = cli(&env, &["account", "put", bad.to_str().unwrap()]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("is not a valid account: time_zone: ") && out.stderr.contains("Mars"),
        "{}",
        out.stderr
    );

    let good = file("good.json", &account.to_string());
    let out = cli(&env, &["account", "put", good.to_str().unwrap()]).await;
    assert!(out.ok, "{}", out.stderr);
    let out = cli(&env, &["account", "list"]).await;
    assert!(out.stdout.contains("northwind") && out.stdout.contains("never run"));

    // Projects only first, then everything.
    let out = cli(&env, &["sync", "northwind", "--only", "clients,projects"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr.contains("[7/7] created project"),
        "{}",
        out.stderr
    );
    assert!(out
        .stdout
        .contains("Created 3 clients, 4 projects, 0 people."));
    assert!(
        out.stdout.contains("Umbrella Audit") && out.stdout.contains("has no client in Clockify")
    );
    let out = cli(&env, &["sync", "northwind"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stderr.contains("[5/5] created person"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("Created 0 clients, 0 projects, 5 people."),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("Already in Runn: 3 clients, 4 projects, 0 people."));
    assert!(out.stdout.contains("5 people are on the \"Unknown\" role"));

    let out = cli(&env, &["status", "northwind", "--runs", "5"]).await;
    assert_eq!(out.stdout.matches("started by the command line").count(), 2);
    let out = cli(&env, &["show", "northwind"]).await;
    assert!(out.stdout.contains("3 clients") && out.stdout.contains("5 people"));
    assert!(out.stdout.contains("Søren van der Berg"), "{}", out.stdout);

    // The daily path through the queue: nothing left to create.
    let out = cli(&env, &["schedule"]).await;
    assert!(
        out.stdout.contains("Queued the import of 1 account(s)"),
        "{}",
        out.stdout
    );
    let out = cli(&env, &["work"]).await;
    assert!(
        out.ok && out.stdout.contains("Ran 1 import job(s); 0 left"),
        "{}",
        out.stdout
    );
    let out = cli(&env, &["status", "northwind", "--runs", "1"]).await;
    assert!(out
        .stdout
        .contains("Created 0 clients, 0 projects, 0 people."));

    let out = cli(&env, &["status", "nobody"]).await;
    assert!(!out.ok && out.stderr.contains("no account nobody"));
    let out = cli(&env, &["sync", "no#such"]).await;
    assert!(!out.ok && out.stderr.contains("an account id is"));
}

/// `setup` on a fresh prefix; the environment it prints.
async fn setup(prefix: &str) -> (HashMap<String, String>, Out) {
    let mut env = HashMap::new();
    let out = cli(&env, &["setup", "--prefix", prefix]).await;
    assert!(out.ok, "{}", out.stderr);
    for line in out.stdout.lines() {
        let (k, v) = line.trim_start_matches("export ").split_once('=').unwrap();
        env.insert(k.to_owned(), v.to_owned());
    }
    (env, out)
}

fn account_json(cr: &sims::common::Running, rr: &sims::common::Running) -> serde_json::Value {
    serde_json::json!({
        "id": "northwind",
        "runn_account": "Northwind Agency",
        "runn_host": {"kind": "custom", "url": rr.url()},
        "runn_token": RUNN_TOKEN,
        "clockify_host": {"kind": "server", "url": cr.url()},
        "clockify_workspace": demo::WORKSPACE_ID,
        "clockify_api_key": demo::API_KEY,
        "switches": {"clients_and_projects": true, "people": true, "actuals": false},
        "time_zone": "Europe/London"
    })
}

#[tokio::test]
async fn setup_run_twice_reuses_what_exists_and_errors_are_one_line_with_a_hint() {
    let prefix = unique("again");
    let (first, _) = setup(&prefix).await;
    let (second, out) = setup(&prefix).await;
    assert_eq!(
        first, second,
        "the same table, key, queue and signing secret"
    );
    assert!(first.contains_key("SIGNING_SECRET_ARN"), "{first:?}");
    for what in ["Table", "Key", "Queue", "Signing secret"] {
        assert!(
            out.stderr.contains(&format!("{what} ")) && out.stderr.contains("exists; reused"),
            "{}",
            out.stderr
        );
    }

    // A table that does not exist: one line, the cause, a hint; no SDK debug dump.
    let mut env = first.clone();
    env.insert("TABLE_NAME".into(), unique("missing"));
    let out = cli(&env, &["account", "list"]).await;
    assert!(!out.ok);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(lines[0].starts_with("error: "), "{}", out.stderr);
    assert!(lines[1].starts_with("hint: "), "{}", out.stderr);
    assert!(!out.stderr.contains("Error {"), "{}", out.stderr);

    // An emulator that is not there.
    let mut env = first;
    env.insert("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into());
    env.insert("AWS_MAX_ATTEMPTS".into(), "1".into());
    let out = cli(&env, &["account", "list"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("hint: is the emulator at AWS_ENDPOINT_URL running?"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn settings_that_would_send_a_key_to_a_local_or_plain_host_are_refused_unless_allowed() {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    let (mut env, _) = setup(&unique("hosts")).await;
    let path = file("local.json", &account_json(&cr, &rr).to_string());
    // Without ALLOW_LOCAL_HOSTS=1, a simulator's http://127.0.0.1 is refused by field.
    env.insert("ALLOW_LOCAL_HOSTS".into(), "0".into());
    let out = cli(&env, &["account", "put", path.to_str().unwrap()]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("runn_host") && out.stderr.contains("https"),
        "{}",
        out.stderr
    );
    let mut sub = account_json(&cr, &rr);
    sub["runn_host"] = serde_json::json!({"kind": "eu"});
    sub["clockify_host"] = serde_json::json!({"kind": "subdomain", "name": "evil.example/x"});
    let sub = file("sub.json", &sub.to_string());
    let out = cli(&env, &["account", "put", sub.to_str().unwrap()]).await;
    assert!(
        !out.ok && out.stderr.contains("clockify_host"),
        "{}",
        out.stderr
    );
    let out = cli(&env, &["account", "list"]).await;
    assert!(out.stdout.contains("No accounts."), "nothing stored");
    env.insert("ALLOW_LOCAL_HOSTS".into(), "1".into());
    let out = cli(&env, &["account", "put", path.to_str().unwrap()]).await;
    assert!(out.ok, "{}", out.stderr);
}

#[tokio::test]
async fn a_killed_sync_is_named_unlock_frees_it_and_ctrl_c_releases_the_lease() {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    let (env, _) = setup(&unique("lease")).await;
    let path = file("acct.json", &account_json(&cr, &rr).to_string());
    assert!(
        cli(&env, &["account", "put", path.to_str().unwrap()])
            .await
            .ok
    );
    // Slow Runn: a sync takes seconds, long enough to interrupt.
    r.ctl.set_faults(sims::common::Faults {
        latency: std::time::Duration::from_millis(400),
        ..Default::default()
    });
    let spawn_sync = || {
        Command::new(workspace_bin("runn-clockify"))
            .args(["sync", "northwind"])
            .envs(&env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait_for_a_write = || async {
        for _ in 0..100 {
            if r.ctl.counts().keys().any(|k| k.starts_with("POST")) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the sync never wrote");
    };

    // Killed outright: the lease stays, and the next sync names the run holding it.
    let mut killed = spawn_sync();
    wait_for_a_write().await;
    killed.kill().unwrap();
    killed.wait().unwrap();
    let out = cli(&env, &["sync", "northwind"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("holds account northwind until") && out.stderr.contains("unlock"),
        "{}",
        out.stderr
    );
    let out = cli(&env, &["unlock", "northwind"]).await;
    assert!(
        out.ok && out.stdout.contains("Released the lease"),
        "{}",
        out.stdout
    );
    let out = cli(&env, &["unlock", "northwind"]).await;
    assert!(
        out.stdout.contains("No run holds northwind"),
        "{}",
        out.stdout
    );

    // Ctrl-C: the lease is released before the command exits.
    r.ctl.reset_stats();
    let interrupted = spawn_sync();
    wait_for_a_write().await;
    let pid = interrupted.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = tokio::task::spawn_blocking(move || interrupted.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("lease of northwind is released"));
    let out = cli(&env, &["unlock", "northwind"]).await;
    assert!(
        out.stdout.contains("No run holds northwind"),
        "{}",
        out.stdout
    );

    // And the import completes with nothing twice.
    r.ctl.set_faults(Default::default());
    let out = cli(&env, &["sync", "northwind"]).await;
    assert!(out.ok, "{}", out.stderr);
    let d = r.data.lock().unwrap();
    assert_eq!(
        (d.clients.len(), d.projects.len(), d.people.len()),
        (3, 4, 5)
    );
}

#[tokio::test]
async fn actuals_are_refused_while_linked_people_are_on_unknown_then_sync_and_autofill() {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    let (env, _) = setup(&unique("actuals")).await;
    let path = file("acct.json", &account_json(&cr, &rr).to_string());
    assert!(
        cli(&env, &["account", "put", path.to_str().unwrap()])
            .await
            .ok
    );
    assert!(cli(&env, &["sync", "northwind"]).await.ok);

    // Every way in refuses while linked people are on "Unknown", naming them.
    let out = cli(&env, &["account", "set", "northwind", "--actuals", "on"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("5 linked people are still on the \"Unknown\" role")
            && out.stderr.contains("Ana García")
            && out.stderr.contains("nothing was changed"),
        "{}",
        out.stderr
    );
    let mut on = account_json(&cr, &rr);
    on["switches"]["actuals"] = true.into();
    let on = file("on.json", &on.to_string());
    let out = cli(&env, &["account", "put", on.to_str().unwrap()]).await;
    assert!(!out.ok && out.stderr.contains("Unknown"), "{}", out.stderr);
    let out = cli(&env, &["status", "northwind"]).await;
    assert!(out.stdout.contains("actuals off"), "{}", out.stdout);

    // Roles given in Runn: actuals go on, and sync brings the timesheets.
    let people: Vec<i64> = r.data.lock().unwrap().people.keys().copied().collect();
    for p in people {
        r.give_role(p, "Consultant");
    }
    let out = cli(
        &env,
        &[
            "account",
            "set",
            "northwind",
            "--actuals",
            "on",
            "--window",
            "30",
        ],
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("actuals on"), "{}", out.stdout);
    let out = cli(&env, &["sync", "northwind"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("day totals written"), "{}", out.stdout);
    let out = cli(
        &env,
        &[
            "sync",
            "northwind",
            "--from",
            "2026-01-05",
            "--to",
            "2026-01-09",
        ],
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    let out = cli(&env, &["autofill", "northwind", "--week", "2026-W02"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("Actuals 2026-01-05 to 2026-01-11"),
        "{}",
        out.stdout
    );
    let out = cli(&env, &["autofill", "northwind", "--week", "2026-13"]).await;
    assert!(!out.ok && out.stderr.contains("ISO week"), "{}", out.stderr);
}

#[tokio::test]
async fn an_account_id_that_is_no_account_id_is_refused_and_a_missing_setting_is_one_line() {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    let (env, _) = setup(&unique("ids")).await;
    for bad in ["acme corp", "a#b", ""] {
        let mut account = account_json(&cr, &rr);
        account["id"] = bad.into();
        let path = file("bad-id.json", &account.to_string());
        let out = cli(&env, &["account", "put", path.to_str().unwrap()]).await;
        assert!(!out.ok, "{bad:?} was stored");
        assert!(
            out.stderr.contains("is not a valid account") && out.stderr.contains("account id"),
            "{}",
            out.stderr
        );
    }
    // Nothing bad was stored: the daily fan-out queues the one good account.
    let good = file("good.json", &account_json(&cr, &rr).to_string());
    assert!(
        cli(&env, &["account", "put", good.to_str().unwrap()])
            .await
            .ok
    );
    let out = cli(&env, &["schedule"]).await;
    assert!(
        out.stdout.contains("Queued the import of 1 account(s)"),
        "{}",
        out.stdout
    );

    // A newcomer's first command, with none of the settings: one line that names what
    // is missing, before any AWS client is built (no SDK warning first).
    let out = Command::new(workspace_bin("runn-clockify"))
        .args(["account", "list"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: KMS_KEY_ID"), "{stderr}");
}

#[tokio::test]
async fn a_dry_run_shows_what_the_import_would_do_and_writes_nothing() {
    let c = ClockifySim::new(demo::data());
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    let (env, _) = setup(&unique("dry")).await;
    let good = file("good.json", &account_json(&cr, &rr).to_string());
    assert!(
        cli(&env, &["account", "put", good.to_str().unwrap()])
            .await
            .ok
    );
    let out = cli(&env, &["sync", "northwind", "--dry-run"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("A dry run: nothing was written.")
            && out
                .stdout
                .contains("Would create 3 clients, 4 projects, 5 people.")
            && out.stdout.contains("Acme Corporation"),
        "{}",
        out.stdout
    );
    let writes: u64 = r
        .ctl
        .counts()
        .iter()
        .filter(|(e, _)| !e.starts_with("GET "))
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(writes, 0, "{:?}", r.ctl.counts());
    assert!(r.data.lock().unwrap().people.is_empty());
    // No lease is left (none was taken): a real sync runs at once, and does what the dry
    // run said.
    let out = cli(&env, &["sync", "northwind"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Created 3 clients, 4 projects, 5 people."),
        "{}",
        out.stdout
    );
    let status = cli(&env, &["status", "northwind", "--runs", "3"]).await;
    assert!(
        status.stdout.contains("A dry run: nothing was written."),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn account_put_checks_the_people_filter_s_groups_with_the_file_s_key() {
    let c = ClockifySim::new(demo::data());
    c.data.write().unwrap().workspaces[0]
        .user_groups
        .push(sims::clockify::SimUserGroup {
            id: "a0000000000000000000g001".into(),
            name: "Design".into(),
            user_ids: vec!["u0000000000000000000u001".into()],
        });
    let r = RunnSim::new(RunnData::new([RUNN_TOKEN]));
    let (cr, rr) = (c.spawn().await.unwrap(), r.spawn().await.unwrap());
    let (env, _) = setup(&unique("filter")).await;
    let mut missing = account_json(&cr, &rr);
    missing["people_filter"] = serde_json::json!({"include_groups": ["ffffffffffffffffffff0000"]});
    let path = file("missing.json", &missing.to_string());
    let out = cli(&env, &["account", "put", path.to_str().unwrap()]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("people_filter")
            && out.stderr.contains("ffffffffffffffffffff0000")
            && out.stderr.contains("nothing was saved"),
        "{}",
        out.stderr
    );
    let out = cli(&env, &["status", "northwind"]).await;
    assert!(!out.ok, "nothing saved: {}", out.stdout);
    let mut design = account_json(&cr, &rr);
    design["people_filter"] = serde_json::json!({"include_groups": ["a0000000000000000000g001"]});
    let path = file("design.json", &design.to_string());
    let out = cli(&env, &["account", "put", path.to_str().unwrap()]).await;
    assert!(out.ok, "{}", out.stderr);
    let out = cli(&env, &["sync", "northwind"]).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("left out by the people filter"),
        "{}",
        out.stdout
    );
    assert_eq!(r.data.lock().unwrap().people.len(), 1, "only Ana");
}
