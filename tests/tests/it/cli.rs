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

    let mut env = HashMap::new();
    let setup = cli(&env, &["setup", "--prefix", &unique("cli")]).await;
    assert!(setup.ok, "{}", setup.stderr);
    for line in setup.stdout.lines() {
        let (k, v) = line.trim_start_matches("export ").split_once('=').unwrap();
        env.insert(k.to_owned(), v.to_owned());
    }
    assert!(["TABLE_NAME", "KMS_KEY_ID", "QUEUE_URL"]
        .iter()
        .all(|k| env.contains_key(*k)));

    let account = serde_json::json!({
        "id": "northwind",
        "runn_account": "Northwind Agency",
        "runn_host": {"kind": "custom", "url": rr.url()},
        "runn_token": RUNN_TOKEN,
        "clockify_host": {"kind": "server", "url": cr.url()},
        "clockify_workspace": demo::WORKSPACE_ID,
        "clockify_api_key": demo::API_KEY,
        "switches": {"clients_and_projects": true, "people": true, "actuals": false},
        "time_zone": "Europe/London"
    });
    let mut bad = account.clone();
    bad["time_zone"] = "Mars/Olympus_Mons".into();
    let bad = file("bad.json", &bad.to_string());
    let out = cli(&env, &["account", "put", bad.to_str().unwrap()]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("is not a valid account") && out.stderr.contains("Mars"),
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
