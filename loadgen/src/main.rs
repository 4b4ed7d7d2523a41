//! `loadgen`: a goose 0.19 load test for model-server.
//!
//! One scenario whose transactions are weighted valid predictions, client errors and
//! injected server errors, all defined by the mix file shared with the Locust file
//! (`loadgen/src/mix.json`, embedded at build time). Every request states the status it
//! expects, so goose's failures are real failures. `--drift-after` shifts the rows
//! sent after a given time, to exercise the server's input-drift monitoring.
//!
//! Besides goose's own metrics (which goose resets after ramp-up unless
//! `--no-reset-metrics`), the load test keeps its own counters of every request that
//! got a response, for the whole run; they are printed at the end and written as JSON
//! with `--summary-file PATH`, for reconciliation with the server's `/metrics`.
//!
//! Modules: `cli` (options), `mix` (the mix file), `traffic` (rows, drift, pre-rendered
//! bodies), `requests` (goose transactions), `client` (their HTTP/1.1 client),
//! `predictions` (the check of a 200 answer), `probe` (pre-flight), `counters`, `summary`.
//! This file owns the run: probe, attack, summary and exit status.

mod cli;
mod client;
mod counters;
mod mix;
mod predictions;
mod probe;
mod requests;
mod summary;
mod traffic;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::FromArgMatches;
use goose::config::GooseConfiguration;
use goose::prelude::*;

use cli::{Options, DEFAULT_HOST, DEFAULT_INCREASE_RATE, DEFAULT_RUN_TIME_SECS, DEFAULT_USERS};
use counters::COUNTERS;
use probe::ProbeError;
use requests::{client_error, predict_ok, server_error, TRAFFIC};
use summary::Summary;
use traffic::Traffic;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let matches = match cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    let options = match cli::options(&matches) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match GooseConfiguration::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let w = options.weights;
    if w.ok + w.client_error + w.server_error == 0 {
        eprintln!("loadgen: every weight is 0: nothing to send");
        return ExitCode::from(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(config, options))
}

async fn run(config: GooseConfiguration, options: Options) -> ExitCode {
    let host = config
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
        .trim_end_matches('/')
        .to_string();
    let goose_reset_metrics = !config.no_reset_metrics;
    let traffic = TRAFFIC
        .get_or_init(|| Traffic::new(options.mix.clone(), options.drift.clone(), options.seed));

    let fault = (options.weights.server_error > 0).then(|| {
        (
            traffic.mix.server_errors.header.as_str(),
            &traffic.mix.probe,
            traffic.probe_body(),
        )
    });
    if let Err(e) = probe::probe(&host, fault).await {
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

    let attack = match build_attack(config, &options) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e:?}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    traffic.start_clock();
    let result = attack.execute().await;
    let elapsed = started.elapsed();
    if let Err(e) = &result {
        // Goose refuses some combinations of options only when the attack starts.
        eprintln!("loadgen: goose stopped with an error: {e:?}");
        if COUNTERS.answered() <= counters::Counters::get(&COUNTERS.probe_requests) {
            return ExitCode::from(2);
        }
    }

    let summary = Summary::collect(
        &host,
        options.weights,
        elapsed,
        goose_reset_metrics,
        options.drift.as_ref(),
    );
    summary.print();
    if let Some(path) = &options.summary_file {
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
    let load_5xx = summary.class("5xx").saturating_sub(summary.probe_requests);
    if options.weights.server_error > 0 && load_5xx == 0 {
        eprintln!(
            "loadgen: WARNING: server errors were requested (weight {}) but the server answered no 5xx at all: \
             is it running with --enable-faults?",
            options.weights.server_error
        );
        ok = false;
    }
    if summary.unexpected_status > 0
        || summary.transport_errors > 0
        || summary.bad_prediction_bodies > 0
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

fn build_attack(config: GooseConfiguration, options: &Options) -> Result<GooseAttack, GooseError> {
    let w = options.weights;
    let mut scenario = scenario!("ModelServerTraffic");
    if w.ok > 0 {
        scenario = scenario.register_transaction(
            transaction!(predict_ok)
                .set_name("valid prediction")
                .set_weight(w.ok)?,
        );
    }
    if w.client_error > 0 && !options.mix.client_errors.is_empty() {
        scenario = scenario.register_transaction(
            transaction!(client_error)
                .set_name("client error")
                .set_weight(w.client_error)?,
        );
    }
    if w.server_error > 0 {
        scenario = scenario.register_transaction(
            transaction!(server_error)
                .set_name("server error")
                .set_weight(w.server_error)?,
        );
    }
    let (min, max) = options.think_time;
    if max > Duration::ZERO {
        scenario = scenario.set_wait_time(min, max)?;
    }
    // Our defaults only where they cannot clash with what was given: goose refuses
    // --increase-rate with --increase-time or --test-plan, --users with --test-plan,
    // and --run-time with --iterations.
    let mut attack = GooseAttack::initialize_with_config(config)?
        .register_scenario(scenario)
        .set_default(GooseDefault::Host, DEFAULT_HOST)?
        .set_default(GooseDefault::NoTelnet, true)?;
    if !options.given_test_plan {
        attack = attack.set_default(GooseDefault::Users, DEFAULT_USERS)?;
        if !options.given_increase_time {
            attack = attack.set_default(GooseDefault::IncreaseRate, DEFAULT_INCREASE_RATE)?;
        }
        if !options.given_iterations {
            attack = attack.set_default(GooseDefault::RunTime, DEFAULT_RUN_TIME_SECS)?;
        }
    }
    Ok(*attack)
}
