//! The SAM template against the code: every function crate is a function of the template,
//! built by cargo lambda (for the Architecture parameter, arm64 by default); every environment variable a function's code reads is
//! set for it; every route of `infra/api.yaml` is an event of the API function; every
//! metric the worker emits is on the dashboard; the alarms and log groups are there; and
//! the API function can seal credentials but never open them. Webhooks: their jobs' own
//! queue (and dead-letter queue) that the worker is started by, the public URL they are
//! registered at, their route's own throttle, metrics and alarms, and the hourly sweep of
//! clean-up keys past their hour.

use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).expect("the template parses")
}

/// A tagged value (`!Ref X`, `!GetAtt X.Y`) as its plain value.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        v => v,
    }
}

fn resources(t: &Value) -> BTreeMap<String, Value> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn of_type(t: &Value, ty: &str) -> BTreeMap<String, Value> {
    resources(t)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .collect()
}

/// The environment variables each helper of `shared::aws` reads, itself or through the
/// helpers it calls (`queues_from_env` reads `QUEUE_URL` through `queue_from_env`).
fn helper_env() -> BTreeMap<String, BTreeSet<String>> {
    let src = std::fs::read_to_string(root().join("shared/src/aws.rs")).unwrap();
    let mut bodies: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut current = None;
    for line in src.lines() {
        let l = line.trim_start();
        if let Some(rest) = l
            .strip_prefix("pub fn ")
            .or(l.strip_prefix("pub async fn "))
        {
            current = rest.split('(').next().map(str::to_owned);
            bodies.entry(current.clone().unwrap()).or_default();
            continue;
        }
        if let Some(f) = &current {
            bodies.get_mut(f).unwrap().push(line);
        }
    }
    let calls = |line: &str, helper: &str| {
        line.match_indices(&format!("{helper}(")).any(|(i, _)| {
            !line[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = bodies
        .iter()
        .map(|(f, lines)| {
            (
                f.clone(),
                lines.iter().filter_map(|l| env_name(l)).collect(),
            )
        })
        .collect();
    // Each round adds what the helpers called read; the set only grows, so it settles.
    loop {
        let before = out.clone();
        for (f, lines) in &bodies {
            for other in bodies.keys().filter(|o| *o != f) {
                if lines.iter().any(|l| calls(l, other)) {
                    let vars = before[other].clone();
                    out.get_mut(f).unwrap().extend(vars);
                }
            }
        }
        if out == before {
            return out;
        }
    }
}

/// `X` of an `env("X")` on the line (`shared::aws::env`, which requires it), or of a
/// `std::env::var("X")` (read where a variable is optional, as `HOOK_QUEUE_URL` and
/// `PUBLIC_API_URL`: the template still sets it, or the feature is off in AWS).
fn env_name(line: &str) -> Option<String> {
    let (i, len) = ["env(\"", "env::var(\""]
        .iter()
        .find_map(|p| line.find(p).map(|i| (i, p.len())))?;
    let rest = &line[i + len..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// What a function's `main` reads from its environment, directly or through a helper.
fn env_read_by(function: &str) -> BTreeSet<String> {
    let main =
        std::fs::read_to_string(root().join(format!("functions/{function}/src/main.rs"))).unwrap();
    let helpers = helper_env();
    let mut names = BTreeSet::new();
    for line in main.lines() {
        if let Some(n) = env_name(line) {
            names.insert(n);
        }
        for (helper, vars) in &helpers {
            if line.contains(&format!("shared::aws::{helper}(")) {
                names.extend(vars.iter().cloned());
            }
        }
    }
    names
}

fn function_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_function_is_in_the_template_with_what_its_code_reads() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    // The architecture is a parameter (x86_64 for `make package` here), arm64 by default.
    assert_eq!(
        untag(&globals["Architectures"][0]).as_str(),
        Some("Architecture")
    );
    assert_eq!(
        t["Parameters"]["Architecture"]["Default"].as_str(),
        Some("arm64")
    );
    let global_env: BTreeSet<String> = globals["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    let functions = of_type(&t, "AWS::Serverless::Function");
    // The scan sees what is read through `std::env::var` and helper-to-helper calls too.
    let worker = env_read_by("worker");
    for var in [
        "QUEUE_URL",
        "HOOK_QUEUE_URL",
        "PUBLIC_API_URL",
        "KMS_KEY_ID",
    ] {
        assert!(worker.contains(var), "the scan misses the worker's {var}");
    }
    let api = env_read_by("api");
    for var in ["QUEUE_URL", "HOOK_QUEUE_URL", "SIGNING_SECRET_ARN"] {
        assert!(api.contains(var), "the scan misses the api's {var}");
    }
    let dirs = function_dirs();
    assert_eq!(dirs, ["api", "autofill", "scheduler", "worker"]);
    for dir in dirs {
        let (name, f) = functions
            .iter()
            .find(|(_, f)| {
                f["Properties"]["CodeUri"].as_str() == Some(&format!("../functions/{dir}"))
            })
            .unwrap_or_else(|| panic!("no function of the template builds functions/{dir}"));
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name}"
        );
        let mut env = global_env.clone();
        if let Some(vars) = f["Properties"]["Environment"]["Variables"].as_mapping() {
            env.extend(vars.keys().map(|k| k.as_str().unwrap().to_owned()));
        }
        let read = env_read_by(&dir);
        assert!(!read.is_empty(), "{dir} reads nothing?");
        for var in read {
            assert!(
                env.contains(&var),
                "{name} ({dir}) reads {var}, which the template does not set"
            );
        }
        // Every function's logs are kept for a set time.
        let logs = of_type(&t, "AWS::Logs::LogGroup");
        assert!(
            logs.values().any(|g| {
                let group = untag(&g["Properties"]["LogGroupName"]);
                group.as_str() == Some(&format!("/aws/lambda/${{{name}}}"))
                    && g["Properties"]["RetentionInDays"] != Value::Null
            }),
            "{name} has no log group with a retention"
        );
    }
}

#[test]
fn the_resources_the_code_needs_and_the_alarms_are_there() {
    let t = template();
    let r = resources(&t);
    let table = &r["Table"]["Properties"];
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some("expires_at")
    );
    assert!(r["JobsQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] != Value::Null);
    let visibility = r["JobsQueue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .unwrap();
    let worker_timeout = r["WorkerFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    assert!(visibility >= 6 * worker_timeout);
    assert_eq!(r["CredentialsKey"]["Type"].as_str(), Some("AWS::KMS::Key"));
    assert_eq!(
        r["SigningSecret"]["Type"].as_str(),
        Some("AWS::SecretsManager::Secret")
    );
    assert_eq!(
        r["HttpApi"]["Type"].as_str(),
        Some("AWS::Serverless::HttpApi")
    );
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let text = serde_yaml_ng::to_string(&alarms).unwrap();
    for needle in [
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "Throttles",
        "RunsFailed",
    ] {
        assert!(text.contains(needle), "no alarm on {needle}");
    }
    // Both schedules deliver what their handlers are tested with (EventBridge
    // Scheduler's envelope; no Input of their own).
    for (f, event) in [
        ("SchedulerFunction", "Daily"),
        ("AutofillFunction", "Weekly"),
    ] {
        let e = &r[f]["Properties"]["Events"][event];
        assert_eq!(e["Type"].as_str(), Some("ScheduleV2"), "{f}");
        assert_eq!(e["Properties"]["Input"], Value::Null, "{f}");
    }
}

#[test]
fn every_route_of_the_contract_is_an_event_of_the_api_function() {
    let t = template();
    let events = t["Resources"]["ApiFunction"]["Properties"]["Events"]
        .as_mapping()
        .unwrap();
    let routes: BTreeSet<(String, String)> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("HttpApi"))
        .map(|e| {
            let p = &e["Properties"];
            (
                p["Method"].as_str().unwrap().to_ascii_lowercase(),
                p["Path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let doc = sims::contract::contract().doc();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.insert((method.to_owned(), path.clone()));
            }
        }
    }
    assert_eq!(routes, documented);
}

#[test]
fn the_api_may_seal_credentials_but_only_the_worker_opens_them() {
    let t = template();
    let r = resources(&t);
    let policies = |f: &str| serde_yaml_ng::to_string(&r[f]["Properties"]["Policies"]).unwrap();
    let api = policies("ApiFunction");
    assert!(api.contains("kms:Encrypt"), "{api}");
    assert!(!api.contains("Decrypt") && !api.contains("kms:*"), "{api}");
    let worker = policies("WorkerFunction");
    assert!(worker.contains("KMSDecryptPolicy"));
    // Both may seal only bound to a host (the worker: version-1 credentials, anew).
    for p in [&api, &worker] {
        assert!(
            p.contains("kms:Encrypt") && p.contains("kms:EncryptionContextKeys"),
            "{p}"
        );
    }
    for f in ["SchedulerFunction", "AutofillFunction"] {
        let p = policies(f);
        assert!(!p.contains("KMS") && !p.contains("kms:"), "{f}: {p}");
        assert!(!p.contains("DynamoDBCrudPolicy"), "{f}: {p}");
    }
    // The scheduler writes only the accounts' "queued or running" marks.
    assert!(policies("SchedulerFunction").contains("dynamodb:PutItem"));
    assert!(!policies("AutofillFunction").contains("dynamodb:PutItem"));
}

#[test]
fn the_dashboard_shows_every_metric_a_run_emits() {
    let t = template();
    let body =
        serde_yaml_ng::to_string(&t["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
            .unwrap();
    for (name, _) in shared::metrics::RUN_METRICS
        .iter()
        .chain(shared::metrics::FAN_OUT_METRICS)
    {
        assert!(
            body.contains(&format!("\"{name}\"")),
            "{name} is not on the dashboard"
        );
    }
    assert!(body.contains(shared::metrics::NAMESPACE));
}

/// The resource a `!Ref X` / `!GetAtt X.Attr` names, and the attribute (`""` for a Ref).
fn reference(v: &Value) -> Option<(String, String)> {
    let Value::Tagged(t) = v else { return None };
    let target = t.value.as_str()?;
    match t.tag.to_string().trim_start_matches('!') {
        "Ref" => Some((target.to_owned(), String::new())),
        "GetAtt" => {
            let (r, a) = target.split_once('.')?;
            Some((r.to_owned(), a.to_owned()))
        }
        _ => None,
    }
}

/// The queues a function is started by (its SQS events), with each event's properties.
fn sqs_sources(f: &Value) -> BTreeMap<String, Value> {
    f["Properties"]["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, e)| e["Type"].as_str() == Some("SQS"))
        .filter_map(|(_, e)| {
            let (queue, attr) = reference(&e["Properties"]["Queue"])?;
            assert_eq!(attr, "Arn", "an SQS event names its queue by its Arn");
            Some((queue, e["Properties"].clone()))
        })
        .collect()
}

/// The queues a function may send to (`SQSSendMessagePolicy`).
fn send_rights(f: &Value) -> BTreeSet<String> {
    f["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|p| reference(&p["SQSSendMessagePolicy"]["QueueName"]))
        .map(|(q, attr)| {
            assert_eq!(attr, "QueueName");
            q
        })
        .collect()
}

#[test]
fn webhook_jobs_have_a_queue_of_their_own_that_the_worker_runs() {
    let t = template();
    let r = resources(&t);
    let q = &r["HookQueue"]["Properties"];
    assert_eq!(r["HookQueue"]["Type"].as_str(), Some("AWS::SQS::Queue"));
    assert_eq!(
        r["HookDeadLetterQueue"]["Type"].as_str(),
        Some("AWS::SQS::Queue")
    );
    assert_eq!(
        reference(&q["RedrivePolicy"]["deadLetterTargetArn"]),
        Some(("HookDeadLetterQueue".into(), "Arn".into()))
    );
    assert_eq!(
        untag(&q["RedrivePolicy"]["maxReceiveCount"]).as_str(),
        Some("MaxReceives")
    );
    // Its jobs set their own delay on each send (up to 900 s): none at the queue.
    assert!(
        q["DelaySeconds"].as_u64().unwrap_or(0) == 0,
        "{:?}",
        q["DelaySeconds"]
    );
    // At least the worker's timeout (Lambda refuses a shorter one), and short enough that
    // a clean-up handed back is tried at least twice more while its key is kept.
    let visibility = q["VisibilityTimeout"].as_u64().unwrap();
    let worker_timeout = r["WorkerFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    assert!(visibility >= worker_timeout);
    assert!(3 * visibility <= shared::store::CLEANUP_WINDOW.as_secs());

    // The worker is started by both queues, one job per invocation, partial batch
    // responses on each, and each capped.
    let worker = &r["WorkerFunction"];
    let sources = sqs_sources(worker);
    assert_eq!(
        sources.keys().map(String::as_str).collect::<Vec<_>>(),
        ["HookQueue", "JobsQueue"]
    );
    for (queue, p) in &sources {
        assert_eq!(p["BatchSize"].as_u64(), Some(1), "{queue}");
        assert_eq!(
            p["FunctionResponseTypes"][0].as_str(),
            Some("ReportBatchItemFailures"),
            "{queue}"
        );
        assert!(
            p["ScalingConfig"]["MaximumConcurrency"] != Value::Null,
            "{queue}"
        );
    }
    // Who writes webhook jobs may send to the queue, and is told its URL.
    for f in ["WorkerFunction", "ApiFunction"] {
        let env = &r[f]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            reference(&env["HOOK_QUEUE_URL"]),
            Some(("HookQueue".into(), String::new())),
            "{f}"
        );
        assert_eq!(
            reference(&env["QUEUE_URL"]),
            Some(("JobsQueue".into(), String::new())),
            "{f}"
        );
        assert_eq!(
            send_rights(&r[f]),
            BTreeSet::from(["HookQueue".to_owned(), "JobsQueue".to_owned()]),
            "{f}"
        );
    }
    // The fan-outs never queue webhook jobs.
    for f in ["SchedulerFunction", "AutofillFunction"] {
        assert_eq!(
            send_rights(&r[f]),
            BTreeSet::from(["JobsQueue".to_owned()]),
            "{f}"
        );
    }
    // One alarm watches both dead-letter queues; the dashboard shows all four queues.
    let dead_letter = serde_yaml_ng::to_string(&r["DeadLetterAlarm"]).unwrap();
    for dlq in ["JobsDeadLetterQueue", "HookDeadLetterQueue"] {
        assert!(dead_letter.contains(dlq), "{dead_letter}");
    }
    let body = serde_yaml_ng::to_string(&r["Dashboard"]["Properties"]["DashboardBody"]).unwrap();
    for queue in [
        "JobsQueue",
        "JobsDeadLetterQueue",
        "HookQueue",
        "HookDeadLetterQueue",
    ] {
        assert!(
            body.contains(&format!("${{{queue}.QueueName}}")),
            "{queue} is not on the dashboard"
        );
    }
    for (output, queue) in [
        ("HookQueueUrl", "HookQueue"),
        ("HookDeadLetterQueueUrl", "HookDeadLetterQueue"),
    ] {
        assert_eq!(
            reference(&t["Outputs"][output]["Value"]),
            Some((queue.into(), String::new()))
        );
    }
}

#[test]
fn the_worker_knows_where_clockify_delivers_webhooks() {
    let t = template();
    let p = &t["Parameters"]["PublicApiUrl"];
    assert_eq!(p["Type"].as_str(), Some("String"));
    assert_eq!(p["Default"].as_str(), Some(""));
    let condition = untag(&t["Conditions"]["HasPublicApiUrl"]);
    assert!(
        serde_yaml_ng::to_string(condition)
            .unwrap()
            .contains("PublicApiUrl"),
        "{condition:?}"
    );
    // The parameter when set, else the API's own URL, built as the ApiUrl output is.
    let Value::Tagged(url) = &t["Resources"]["WorkerFunction"]["Properties"]["Environment"]
        ["Variables"]["PUBLIC_API_URL"]
    else {
        panic!("PUBLIC_API_URL is no !If");
    };
    assert_eq!(url.tag.to_string().trim_start_matches('!'), "If");
    let branches = url.value.as_sequence().unwrap();
    assert_eq!(branches[0].as_str(), Some("HasPublicApiUrl"));
    assert_eq!(
        reference(&branches[1]),
        Some(("PublicApiUrl".into(), String::new()))
    );
    assert_eq!(branches[2], t["Outputs"]["ApiUrl"]["Value"]);
    assert!(untag(&branches[2])
        .as_str()
        .unwrap()
        .starts_with("https://${HttpApi}."));
}

/// Every metric an alarm reads (its own, or those of its metric math): namespace, name
/// and dimensions, each dimension's value as the template writes it.
fn alarm_metrics(alarm: &Value) -> Vec<(String, String, BTreeMap<String, Value>)> {
    let p = &alarm["Properties"];
    let one = |m: &Value, dims: &Value| {
        let dims = dims
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|d| (d["Name"].as_str().unwrap().to_owned(), d["Value"].clone()))
            .collect();
        (
            m["Namespace"].as_str().unwrap_or_default().to_owned(),
            m["MetricName"].as_str().unwrap_or_default().to_owned(),
            dims,
        )
    };
    let mut out = vec![];
    if p["MetricName"] != Value::Null {
        out.push(one(p, &p["Dimensions"]));
    }
    for m in p["Metrics"].as_sequence().into_iter().flatten() {
        let metric = &m["MetricStat"]["Metric"];
        if metric != &Value::Null {
            out.push(one(metric, &metric["Dimensions"]));
        }
    }
    out
}

#[test]
fn the_webhook_route_has_its_own_throttle_metrics_and_alarms() {
    let t = template();
    let r = resources(&t);
    // The route is the API function's event, as the contract has it.
    let path = "/webhooks/clockify/{accountId}";
    let doc = sims::contract::contract().doc();
    assert!(doc["paths"][path]["post"].is_object());
    let events = r["ApiFunction"]["Properties"]["Events"]
        .as_mapping()
        .unwrap();
    let route_keys: BTreeSet<String> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("HttpApi"))
        .map(|e| {
            let p = &e["Properties"];
            format!(
                "{} {}",
                p["Method"].as_str().unwrap(),
                p["Path"].as_str().unwrap()
            )
        })
        .collect();
    let key = format!("POST {path}");
    assert!(route_keys.contains(&key));

    // Its own throttle (route settings replace the defaults, so each is given) and its
    // detailed metrics; Runn's routes keep the stage's default throttle.
    let api = &r["HttpApi"]["Properties"];
    let settings = api["RouteSettings"].as_mapping().unwrap();
    for k in settings.keys() {
        // A key no route has fails the deployment ("Unable to find Route by key").
        assert!(route_keys.contains(k.as_str().unwrap()), "{k:?}");
    }
    let own = &api["RouteSettings"][key.as_str()];
    assert_eq!(
        untag(&own["ThrottlingRateLimit"]).as_str(),
        Some("WebhookThrottleRate")
    );
    assert_eq!(
        untag(&own["ThrottlingBurstLimit"]).as_str(),
        Some("WebhookThrottleBurst")
    );
    assert_eq!(own["DetailedMetricsEnabled"].as_bool(), Some(true));
    for p in ["WebhookThrottleRate", "WebhookThrottleBurst"] {
        assert!(t["Parameters"][p]["Default"].as_u64().unwrap() > 0, "{p}");
    }
    let defaults = &api["DefaultRouteSettings"];
    assert!(defaults["ThrottlingRateLimit"].as_u64().unwrap() > 0);
    assert!(defaults["ThrottlingBurstLimit"].as_u64().unwrap() > 0);

    // An alarm on its 5xx, one on its 4xx, each on the route's own metrics.
    let route_metric = |name: &str| {
        of_type(&t, "AWS::CloudWatch::Alarm")
            .into_iter()
            .filter(|(_, a)| {
                alarm_metrics(a).iter().any(|(ns, m, dims)| {
                    ns == "AWS/ApiGateway"
                        && m == name
                        && dims.get("ApiId").and_then(reference)
                            == Some(("HttpApi".into(), String::new()))
                        && dims.get("Stage").and_then(Value::as_str) == Some("$default")
                        && dims.get("Method").and_then(Value::as_str) == Some("POST")
                        && dims.get("Resource").and_then(Value::as_str) == Some(path)
                })
            })
            .map(|(name, a)| {
                let actions = serde_yaml_ng::to_string(&a["Properties"]["AlarmActions"]).unwrap();
                assert!(actions.contains("AlarmTopicArn"), "{name} notifies no one");
                name
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(route_metric("5xx"), ["WebhookErrorsAlarm"]);
    assert_eq!(route_metric("4xx"), ["WebhookRejectionsAlarm"]);
    // The 4xx alarm is on a share of the deliveries, so it counts them too.
    assert_eq!(route_metric("Count"), ["WebhookRejectionsAlarm"]);
    assert_eq!(
        untag(&r["WebhookRejectionsAlarm"]["Properties"]["Threshold"]).as_str(),
        Some("WebhookRejectedShare")
    );
    // And the dashboard shows them.
    let body = serde_yaml_ng::to_string(&r["Dashboard"]["Properties"]["DashboardBody"]).unwrap();
    assert!(
        body.contains(&format!("\"Resource\", \"{path}\"")),
        "{body}"
    );
}

#[test]
fn the_clean_up_keys_past_their_hour_are_swept_hourly() {
    let t = template();
    let r = resources(&t);
    let scheduler = &r["SchedulerFunction"]["Properties"];
    let sweeps: Vec<&Value> = scheduler["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|e| e["Properties"]["Input"] != Value::Null)
        .collect();
    assert_eq!(sweeps.len(), 1, "one schedule with an input: the sweep");
    let sweep = sweeps[0];
    // EventBridge Scheduler, as the daily one.
    assert_eq!(sweep["Type"].as_str(), Some("ScheduleV2"));
    assert_eq!(
        sweep["Properties"]["ScheduleExpression"].as_str(),
        Some("rate(1 hour)")
    );
    // What the scheduler's handler takes for the sweep (a `sweep` key).
    let input: serde_json::Value =
        serde_json::from_str(sweep["Properties"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input, serde_json::json!({"sweep": "cleanup"}));
    // The key is kept an hour: an hourly sweep deletes it at most an hour late.
    assert_eq!(shared::store::CLEANUP_WINDOW.as_secs(), 3600);

    // The sweep Scans the table (DynamoDBReadPolicy has dynamodb:Scan), deletes the key
    // (conditionally) and saves the webhooks' record; it never opens a key.
    let policies = serde_yaml_ng::to_string(&scheduler["Policies"]).unwrap();
    for needed in [
        "DynamoDBReadPolicy",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
    ] {
        assert!(policies.contains(needed), "{needed}: {policies}");
    }
    assert!(
        !policies.contains("KMS") && !policies.contains("kms:"),
        "{policies}"
    );
}
