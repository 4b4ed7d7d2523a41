//! `loadgen`: a goose 0.19 load test for model-server.
//!
//! One scenario whose transactions are weighted (by default) 85 % valid predictions
//! (single rows and batches of 2..=8 realistic Iris rows), 10 % client errors
//! (422 wrong feature count, 400 malformed JSON, 404 unknown path) and 5 % server
//! errors (`x-fault: 500` / `x-fault: 503`, needs `model-server serve --enable-faults`).
//! Every request states the status it expects, so goose's failures are real failures.
//!
//! Besides goose's own metrics (which goose resets after ramp-up unless
//! `--no-reset-metrics`), the load test keeps its own counters of every request that
//! got a response, for the whole run: per status, per status class, and the rows
//! predicted in 200 answers. They are printed at the end and written as JSON with
//! `--summary-file PATH`, for reconciliation with the server's `/metrics`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use clap::{value_parser, Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};
use goose::config::GooseConfiguration;
use goose::prelude::*;

const DEFAULT_HOST: &str = "http://127.0.0.1:8000";
const DEFAULT_USERS: usize = 50;
const DEFAULT_INCREASE_RATE: &str = "10";
/// 3m30s.
const DEFAULT_RUN_TIME_SECS: usize = 210;
const MIX_HEADING: &str = "model-server traffic mix (loadgen's own options)";
/// Share of valid predictions sent as a batch of 2..=8 rows rather than one row.
const BATCH_SHARE: f64 = 0.4;

// ---------------------------------------------------------------------------------
// Counters of our own: every request that got a response, for the whole run.
// ---------------------------------------------------------------------------------

struct Counters {
    by_status: [AtomicU64; 600],
    /// Rows sent in POST /predict requests answered 200.
    rows_predicted: AtomicU64,
    /// Answered, but not with the status the request expected.
    unexpected_status: AtomicU64,
    /// A 200 prediction whose body did not hold one prediction per row sent.
    bad_prediction_bodies: AtomicU64,
    /// No response at all (connection refused or reset, timeout): not in by_status.
    transport_errors: AtomicU64,
    /// Requests made by the pre-flight fault probe (counted in by_status too).
    probe_requests: AtomicU64,
}

static COUNTERS: Counters = Counters {
    by_status: [const { AtomicU64::new(0) }; 600],
    rows_predicted: AtomicU64::new(0),
    unexpected_status: AtomicU64::new(0),
    bad_prediction_bodies: AtomicU64::new(0),
    transport_errors: AtomicU64::new(0),
    probe_requests: AtomicU64::new(0),
};

fn record_status(status: u16) {
    let index = usize::from(status).min(COUNTERS.by_status.len() - 1);
    COUNTERS.by_status[index].fetch_add(1, Relaxed);
}

// ---------------------------------------------------------------------------------
// Realistic Iris rows: per-class means and standard deviations of the Iris data set
// (sepal length, sepal width, petal length, petal width, in cm).
// ---------------------------------------------------------------------------------

const MEANS: [[f64; 4]; 3] = [
    [5.006, 3.428, 1.462, 0.246],
    [5.936, 2.770, 4.260, 1.326],
    [6.588, 2.974, 5.552, 2.026],
];
const STD_DEVS: [[f64; 4]; 3] = [
    [0.352, 0.379, 0.174, 0.105],
    [0.516, 0.314, 0.470, 0.198],
    [0.636, 0.322, 0.552, 0.275],
];

/// A standard normal sample (Box–Muller).
fn gauss() -> f64 {
    let u1 = 1.0 - fastrand::f64(); // (0, 1]
    let u2 = fastrand::f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One flower around a random class mean, rounded to the millimetre like the data set.
fn iris_row() -> [f64; 4] {
    let class = fastrand::usize(0..3);
    let mut row = [0.0; 4];
    for (i, value) in row.iter_mut().enumerate() {
        let v = MEANS[class][i] + STD_DEVS[class][i] * gauss();
        *value = (v.max(0.1) * 10.0).round() / 10.0;
    }
    row
}

fn row_json(row: &[f64]) -> String {
    let cells: Vec<String> = row.iter().map(|v| format!("{v:.1}")).collect();
    format!("[{}]", cells.join(","))
}

fn single_body() -> String {
    format!("{{\"features\":{}}}", row_json(&iris_row()))
}

fn batch_body(rows: usize) -> String {
    let rows: Vec<String> = (0..rows).map(|_| row_json(&iris_row())).collect();
    format!("{{\"instances\":[{}]}}", rows.join(","))
}

// ---------------------------------------------------------------------------------
// Requests.
// ---------------------------------------------------------------------------------

struct Req {
    method: GooseMethod,
    path: &'static str,
    name: &'static str,
    body: Option<String>,
    fault: Option<&'static str>,
    expect: u16,
    /// Rows in the body, counted as predicted if the answer is 200.
    rows: u64,
}

async fn send(user: &mut GooseUser, req: Req) -> TransactionResult {
    let mut builder = user.get_request_builder(&req.method, req.path)?;
    if let Some(body) = req.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    if let Some(fault) = req.fault {
        builder = builder.header("x-fault", fault);
    }
    let request = GooseRequest::builder()
        .method(req.method)
        .path(req.path)
        .name(req.name)
        .expect_status_code(req.expect)
        .set_request_builder(builder)
        .build();
    let goose = user.request(request).await?;
    match goose.response {
        Ok(response) => {
            let status = response.status().as_u16();
            record_status(status);
            if status != req.expect {
                COUNTERS.unexpected_status.fetch_add(1, Relaxed);
            }
            // Read the whole body so the connection is reused.
            let body = response.bytes().await.unwrap_or_default();
            if status == 200 && req.path == "/predict" {
                COUNTERS.rows_predicted.fetch_add(req.rows, Relaxed);
                let predicted = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| {
                        v.get("predictions")
                            .and_then(|p| p.as_array())
                            .map(Vec::len)
                    });
                if predicted != Some(req.rows as usize) {
                    COUNTERS.bad_prediction_bodies.fetch_add(1, Relaxed);
                }
            }
        }
        Err(_) => {
            COUNTERS.transport_errors.fetch_add(1, Relaxed);
        }
    }
    Ok(())
}

/// 200: one row (`features`) or a batch of 2..=8 rows (`instances`).
async fn predict_ok(user: &mut GooseUser) -> TransactionResult {
    let req = if fastrand::f64() < BATCH_SHARE {
        let rows = fastrand::usize(2..=8);
        Req {
            method: GooseMethod::Post,
            path: "/predict",
            name: "/predict batch 2..8 rows -> 200",
            body: Some(batch_body(rows)),
            fault: None,
            expect: 200,
            rows: rows as u64,
        }
    } else {
        Req {
            method: GooseMethod::Post,
            path: "/predict",
            name: "/predict 1 row -> 200",
            body: Some(single_body()),
            fault: None,
            expect: 200,
            rows: 1,
        }
    };
    send(user, req).await
}

const WRONG_FEATURE_COUNT: &[&str] = &[
    r#"{"features":[5.1,3.5,1.4]}"#,
    r#"{"features":[6.7,3.0,5.2,2.3,0.4]}"#,
    r#"{"instances":[[5.1,3.5,1.4,0.2],[6.7,3.0]]}"#,
];
const MALFORMED_JSON: &[&str] = &[
    r#"{"features":[5.1,3.5,1.4,0.2]"#,
    r#"{"features":[5.1,3.5,1.4,0.2],}"#,
    r#"{'features':[5.1,3.5,1.4,0.2]}"#,
    r#"features=5.1,3.5,1.4,0.2"#,
];
const UNKNOWN_PATHS: &[&str] = &[
    "/predictions",
    "/v1/predict",
    "/model/iris",
    "/predict/batch",
];

/// 422 (wrong feature count), 400 (malformed JSON) or 404 (unknown path), evenly.
async fn client_error(user: &mut GooseUser) -> TransactionResult {
    let req = match fastrand::u8(0..3) {
        0 => Req {
            method: GooseMethod::Post,
            path: "/predict",
            name: "/predict wrong feature count -> 422",
            body: Some(WRONG_FEATURE_COUNT[fastrand::usize(0..WRONG_FEATURE_COUNT.len())].into()),
            fault: None,
            expect: 422,
            rows: 0,
        },
        1 => Req {
            method: GooseMethod::Post,
            path: "/predict",
            name: "/predict malformed JSON -> 400",
            body: Some(MALFORMED_JSON[fastrand::usize(0..MALFORMED_JSON.len())].into()),
            fault: None,
            expect: 400,
            rows: 0,
        },
        _ => Req {
            method: GooseMethod::Get,
            path: UNKNOWN_PATHS[fastrand::usize(0..UNKNOWN_PATHS.len())],
            name: "unknown path -> 404",
            body: None,
            fault: None,
            expect: 404,
            rows: 0,
        },
    };
    send(user, req).await
}

/// 500 or 503 injected with the `x-fault` header, evenly.
async fn server_error(user: &mut GooseUser) -> TransactionResult {
    let (fault, expect, name) = if fastrand::bool() {
        ("500", 500, "/predict x-fault: 500 -> 500")
    } else {
        ("503", 503, "/predict x-fault: 503 -> 503")
    };
    let req = Req {
        method: GooseMethod::Post,
        path: "/predict",
        name,
        body: Some(single_body()),
        fault: Some(fault),
        expect,
        rows: 1,
    };
    send(user, req).await
}

// ---------------------------------------------------------------------------------
// Command line: goose's options plus ours, one parser, one --help.
// ---------------------------------------------------------------------------------

struct Mix {
    ok: usize,
    client_error: usize,
    server_error: usize,
    think_time: (Duration, Duration),
    summary_file: Option<String>,
    given_test_plan: bool,
    given_increase_time: bool,
    given_iterations: bool,
}

fn parse_think_time(s: &str) -> Result<(Duration, Duration), String> {
    let parse = |v: &str| {
        v.trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{v}` is not a whole number of milliseconds"))
    };
    let (min, max) = match s.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let v = parse(s)?;
            (v, v)
        }
    };
    if min > max {
        return Err(format!("minimum {min:?} is above maximum {max:?}"));
    }
    Ok((min, max))
}

fn command() -> Command {
    let weight =
        |id: &'static str, long: &'static str, env: &'static str, default: &'static str| {
            Arg::new(id)
                .long(long)
                .env(env)
                .value_name("WEIGHT")
                .value_parser(value_parser!(usize))
                .default_value(default)
                .help_heading(MIX_HEADING)
        };
    <GooseConfiguration as CommandFactory>::command()
        .before_help(format!(
            "Load test for model-server: weighted 200 / 4xx / 5xx traffic against POST /predict.\n\
             Defaults here: -H {DEFAULT_HOST} -u {DEFAULT_USERS} -r {DEFAULT_INCREASE_RATE} -t 3m30s, \
             telnet controller off (--no-telnet); any goose option given wins.\n\
             Server errors need `model-server serve --enable-faults`; a pre-flight probe checks it \
             (and that the host answers GET /healthz) and stops with a clear message if not.\n\
             The counts printed at the end (and written by --summary-file) cover every request that \
             got a response, ramp-up included, whatever goose's --no-reset-metrics says.\n\
             Exit status: 0 all answers as expected, 1 unexpected statuses or transport errors, \
             2 bad command line, 3 host unreachable or not healthy, 4 faults not enabled.\n\n\
             Use -h for a summary of each option, --help for details."
        ))
        .arg(
            weight("ok_weight", "ok-weight", "LOADGEN_OK_WEIGHT", "85").help(
                "Weight of valid predictions -> 200 (60 % one row, 40 % batches of 2..=8 rows)",
            ),
        )
        .arg(
            weight("client_error_weight", "client-error-weight", "LOADGEN_CLIENT_ERROR_WEIGHT", "10")
                .help("Weight of client errors: 422 wrong feature count, 400 malformed JSON, 404 unknown path"),
        )
        .arg(
            weight("server_error_weight", "server-error-weight", "LOADGEN_SERVER_ERROR_WEIGHT", "5")
                .help("Weight of injected server errors (x-fault: 500 / 503); 0 runs against a server without --enable-faults"),
        )
        .arg(
            Arg::new("think_time")
                .long("think-time")
                .env("LOADGEN_THINK_TIME")
                .value_name("MS[..MS]")
                .value_parser(parse_think_time)
                .default_value("0")
                .help_heading(MIX_HEADING)
                .help("Pause of each user between requests, in ms, e.g. 50..150 [default: 0, closed loop]"),
        )
        .arg(
            Arg::new("summary_file")
                .long("summary-file")
                .env("LOADGEN_SUMMARY_FILE")
                .value_name("PATH")
                .action(ArgAction::Set)
                .help_heading(MIX_HEADING)
                .help("Write the final counts (per status, per status class, rows predicted) as JSON to PATH"),
        )
}

fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(matches.try_get_raw(id), Ok(Some(_)))
}

fn mix_from(matches: &ArgMatches) -> Mix {
    Mix {
        ok: *matches.get_one::<usize>("ok_weight").unwrap(),
        client_error: *matches.get_one::<usize>("client_error_weight").unwrap(),
        server_error: *matches.get_one::<usize>("server_error_weight").unwrap(),
        think_time: *matches
            .get_one::<(Duration, Duration)>("think_time")
            .unwrap(),
        summary_file: matches.get_one::<String>("summary_file").cloned(),
        // Goose's option ids are its configuration's field names.
        given_test_plan: given(matches, "test_plan"),
        given_increase_time: given(matches, "increase_time"),
        given_iterations: given(matches, "iterations"),
    }
}

// ---------------------------------------------------------------------------------
// Pre-flight probes.
// ---------------------------------------------------------------------------------

enum ProbeError {
    Unreachable(String),
    FaultsDisabled(String),
}

async fn probe(host: &str, check_faults: bool) -> Result<(), ProbeError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| ProbeError::Unreachable(format!("cannot build an HTTP client: {e}")))?;
    let healthz = format!("{host}/healthz");
    match client.get(&healthz).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            return Err(ProbeError::Unreachable(format!(
                "GET {healthz} answered {}, not 200: is this a model server, and is it healthy?",
                r.status()
            )))
        }
        Err(e) => {
            // The innermost cause ("Connection refused (os error 111)") says it best.
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = s.to_string();
                source = s.source();
            }
            return Err(ProbeError::Unreachable(format!(
                "cannot reach the model server at {host} (GET /healthz: {reason}).\n\
                 Start it first, e.g. `model-server serve --enable-faults --listen 127.0.0.1:8000`, \
                 or point the load test elsewhere with --host URL."
            )));
        }
    }
    if !check_faults {
        return Ok(());
    }
    let predict = format!("{host}/predict");
    let response = client
        .post(&predict)
        .header("content-type", "application/json")
        .header("x-fault", "500")
        .body(single_body())
        .send()
        .await;
    COUNTERS.probe_requests.fetch_add(1, Relaxed);
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            record_status(status);
            let body = r.text().await.unwrap_or_default();
            let error = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
            if status == 500 && error.as_deref() == Some("injected_fault") {
                return Ok(());
            }
            if status == 200 {
                COUNTERS.rows_predicted.fetch_add(1, Relaxed);
            }
            Err(ProbeError::FaultsDisabled(format!(
                "the server at {host} does not inject faults: POST /predict with `x-fault: 500` \
                 answered {status} {body:.200}, not 500 {{\"error\":\"injected_fault\"}}.\n\
                 Restart it with `model-server serve --enable-faults` (or MODEL_SERVER_ENABLE_FAULTS=true), \
                 or run the load test without server errors: --server-error-weight 0."
            )))
        }
        Err(e) => {
            COUNTERS.transport_errors.fetch_add(1, Relaxed);
            Err(ProbeError::Unreachable(format!(
                "the fault probe POST {predict} got no answer: {e}"
            )))
        }
    }
}

// ---------------------------------------------------------------------------------
// Summary.
// ---------------------------------------------------------------------------------

fn summary_json(
    host: &str,
    mix: &Mix,
    elapsed: Duration,
    goose_reset_metrics: bool,
) -> serde_json::Value {
    let mut by_status = BTreeMap::new();
    let mut by_class: BTreeMap<String, u64> = ["2xx", "4xx", "5xx"]
        .iter()
        .map(|c| (c.to_string(), 0))
        .collect();
    let mut total = 0;
    for (status, count) in COUNTERS.by_status.iter().enumerate() {
        let count = count.load(Relaxed);
        if count == 0 {
            continue;
        }
        total += count;
        by_status.insert(status.to_string(), count);
        *by_class.entry(format!("{}xx", status / 100)).or_default() += count;
    }
    serde_json::json!({
        "generator": "goose",
        "host": host,
        "weights": {"ok": mix.ok, "client_error": mix.client_error, "server_error": mix.server_error},
        "requests": total,
        "by_class": by_class,
        "by_status": by_status,
        "rows_predicted": COUNTERS.rows_predicted.load(Relaxed),
        "unexpected_status": COUNTERS.unexpected_status.load(Relaxed),
        "bad_prediction_bodies": COUNTERS.bad_prediction_bodies.load(Relaxed),
        "transport_errors": COUNTERS.transport_errors.load(Relaxed),
        "probe_requests": COUNTERS.probe_requests.load(Relaxed),
        "elapsed_seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "goose_metrics_reset_after_ramp_up": goose_reset_metrics,
    })
}

fn print_summary(summary: &serde_json::Value) {
    let n = |k: &str| summary[k].as_u64().unwrap_or(0);
    let class = |c: &str| summary["by_class"][c].as_u64().unwrap_or(0);
    let statuses: Vec<String> = summary["by_status"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}: {v}")).collect())
        .unwrap_or_default();
    let elapsed = summary["elapsed_seconds"].as_f64().unwrap_or(0.0);
    println!();
    println!(
        "=== model-server load summary (every answered request, ramp-up and probe included) ==="
    );
    println!(
        "requests: {}  ({:.1}/s over {elapsed:.1} s)",
        n("requests"),
        n("requests") as f64 / elapsed.max(0.001)
    );
    println!(
        "by class: 2xx {}  4xx {}  5xx {}",
        class("2xx"),
        class("4xx"),
        class("5xx")
    );
    println!("by status: {}", statuses.join(", "));
    println!(
        "rows predicted (rows sent in 200 predictions): {}",
        n("rows_predicted")
    );
    println!(
        "unexpected statuses: {}  transport errors (no response): {}  bad prediction bodies: {}",
        n("unexpected_status"),
        n("transport_errors"),
        n("bad_prediction_bodies")
    );
}

// ---------------------------------------------------------------------------------

fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    let mix = mix_from(&matches);
    let config = match GooseConfiguration::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if mix.ok + mix.client_error + mix.server_error == 0 {
        eprintln!("loadgen: every weight is 0: nothing to send");
        return ExitCode::from(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(config, mix))
}

async fn run(config: GooseConfiguration, mix: Mix) -> ExitCode {
    let host = config
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
        .trim_end_matches('/')
        .to_string();
    let goose_reset_metrics = !config.no_reset_metrics;

    if let Err(e) = probe(&host, mix.server_error > 0).await {
        return match e {
            ProbeError::Unreachable(m) => {
                eprintln!("loadgen: {m}");
                ExitCode::from(3)
            }
            ProbeError::FaultsDisabled(m) => {
                eprintln!("loadgen: {m}");
                ExitCode::from(4)
            }
        };
    }

    let attack = match build_attack(config, &mix) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e:?}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let result = attack.execute().await;
    let elapsed = started.elapsed();
    if let Err(e) = &result {
        // Goose refuses some combinations of options only when the attack starts.
        eprintln!("loadgen: goose stopped with an error: {e:?}");
        if COUNTERS
            .by_status
            .iter()
            .map(|c| c.load(Relaxed))
            .sum::<u64>()
            <= COUNTERS.probe_requests.load(Relaxed)
        {
            return ExitCode::from(2);
        }
    }

    let summary = summary_json(&host, &mix, elapsed, goose_reset_metrics);
    print_summary(&summary);
    if let Some(path) = &mix.summary_file {
        let text = serde_json::to_string_pretty(&summary).expect("summary serialises");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("loadgen: cannot write the summary to {path}: {e}");
            return ExitCode::from(1);
        }
        println!("summary written to {path}");
    }
    if result.is_err() {
        return ExitCode::from(1);
    }

    let mut ok = true;
    // The fault probe's 500 does not count here.
    let load_5xx = summary["by_class"]["5xx"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(COUNTERS.probe_requests.load(Relaxed));
    if mix.server_error > 0 && load_5xx == 0 {
        eprintln!(
            "loadgen: WARNING: server errors were requested (weight {}) but the server answered no 5xx at all: \
             is it running with --enable-faults?",
            mix.server_error
        );
        ok = false;
    }
    if summary["unexpected_status"].as_u64().unwrap_or(0) > 0
        || summary["transport_errors"].as_u64().unwrap_or(0) > 0
        || summary["bad_prediction_bodies"].as_u64().unwrap_or(0) > 0
    {
        eprintln!("loadgen: some requests did not get the answer they expected (see goose's errors above)");
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn build_attack(config: GooseConfiguration, mix: &Mix) -> Result<GooseAttack, GooseError> {
    let mut scenario = scenario!("ModelServerTraffic");
    if mix.ok > 0 {
        scenario = scenario.register_transaction(
            transaction!(predict_ok)
                .set_name("valid prediction")
                .set_weight(mix.ok)?,
        );
    }
    if mix.client_error > 0 {
        scenario = scenario.register_transaction(
            transaction!(client_error)
                .set_name("client error")
                .set_weight(mix.client_error)?,
        );
    }
    if mix.server_error > 0 {
        scenario = scenario.register_transaction(
            transaction!(server_error)
                .set_name("server error")
                .set_weight(mix.server_error)?,
        );
    }
    let (min, max) = mix.think_time;
    if max > Duration::ZERO {
        scenario = scenario.set_wait_time(min, max)?;
    }
    // Our defaults only where they cannot clash with what was given: goose refuses
    // --increase-rate with --increase-time or --test-plan, --users with --test-plan,
    // and --run-time with --iterations.
    let (test_plan, increase_time, iterations) = (
        mix.given_test_plan,
        mix.given_increase_time,
        mix.given_iterations,
    );
    let mut attack = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, DEFAULT_HOST)?
        .set_default(GooseDefault::NoTelnet, true)?;
    if !test_plan {
        attack = attack.set_default(GooseDefault::Users, DEFAULT_USERS)?;
        if !increase_time {
            attack = attack.set_default(GooseDefault::IncreaseRate, DEFAULT_INCREASE_RATE)?;
        }
        if !iterations {
            attack = attack.set_default(GooseDefault::RunTime, DEFAULT_RUN_TIME_SECS)?;
        }
    }
    Ok(*attack)
}
