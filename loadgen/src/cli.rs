//! The command line: goose's options plus ours, one parser, one `--help`.

use std::time::Duration;

use clap::{value_parser, Arg, ArgAction, ArgMatches, Command, CommandFactory};
use goose::config::GooseConfiguration;

use crate::mix::{MixFile, Weights};
use crate::traffic::DriftPlan;

pub const DEFAULT_HOST: &str = "http://127.0.0.1:8000";
pub const DEFAULT_USERS: usize = 50;
pub const DEFAULT_INCREASE_RATE: &str = "10";
/// 3m30s.
pub const DEFAULT_RUN_TIME_SECS: usize = 210;
const MIX_HEADING: &str = "model-server traffic mix (loadgen's own options)";

/// Our options, after the mix file filled in what was not given.
#[derive(Debug)]
pub struct Options {
    pub mix: MixFile,
    pub weights: Weights,
    pub think_time: (Duration, Duration),
    pub summary_file: Option<String>,
    pub drift: Option<DriftPlan>,
    pub seed: u64,
    pub given_test_plan: bool,
    pub given_increase_time: bool,
    pub given_iterations: bool,
}

pub fn parse_think_time(s: &str) -> Result<(Duration, Duration), String> {
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

/// `90` (seconds), `90s`, `1m30s`, `1500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"));
    }
    humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e}"))
}

pub fn parse_offsets(s: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .map(|v| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("`{v}` is not a number"))
        })
        .collect()
}

pub fn command() -> Command {
    let defaults = MixFile::load(None).expect("the embedded mix file is valid");
    let w = defaults.weights;
    let weight =
        |id: &'static str, long: &'static str, env: &'static str, default: usize, help: &str| {
            Arg::new(id)
                .long(long)
                .env(env)
                .value_name("WEIGHT")
                .value_parser(value_parser!(usize))
                .help_heading(MIX_HEADING)
                .help(format!("{help} [default: {default}, from the mix file]"))
        };
    <GooseConfiguration as CommandFactory>::command()
        .before_help(format!(
            "Load test for model-server: weighted 200 / 4xx / 5xx traffic against POST /predict, \
             as loadgen/src/mix.json defines it (shared with the Locust file).\n\
             Defaults here: -H {DEFAULT_HOST} -u {DEFAULT_USERS} -r {DEFAULT_INCREASE_RATE} -t 3m30s, \
             telnet controller off (--no-telnet); any goose option given wins.\n\
             Server errors need `model-server serve --enable-faults`; a pre-flight probe checks it \
             (and that the host answers GET /healthz) and stops with a clear message if not.\n\
             The counts printed at the end (and written by --summary-file) cover every request that \
             got a response, ramp-up and probe included, whatever goose's --no-reset-metrics says.\n\
             Exit status: 0 all answers as expected, 1 unexpected statuses or transport errors, \
             2 bad command line or mix file, 3 host unreachable or not healthy, 4 faults not enabled.\n\n\
             Use -h for a summary of each option, --help for details."
        ))
        .arg(
            weight("ok_weight", "ok-weight", "LOADGEN_OK_WEIGHT", w.ok,
                "Weight of valid predictions -> 200 (one row, or batches of rows)"),
        )
        .arg(
            weight("client_error_weight", "client-error-weight", "LOADGEN_CLIENT_ERROR_WEIGHT", w.client_error,
                "Weight of client errors: 422 wrong feature count, 400 malformed JSON, 404 unknown path"),
        )
        .arg(
            weight("server_error_weight", "server-error-weight", "LOADGEN_SERVER_ERROR_WEIGHT", w.server_error,
                "Weight of injected server errors (x-fault: 500 / 503); 0 runs against a server without --enable-faults"),
        )
        .arg(
            Arg::new("mix")
                .long("mix")
                .env("LOADGEN_MIX")
                .value_name("PATH")
                .help_heading(MIX_HEADING)
                .help("Read the traffic mix from PATH instead of the loadgen/src/mix.json built in"),
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
            Arg::new("drift_after")
                .long("drift-after")
                .visible_alias("drift")
                .env("LOADGEN_DRIFT_AFTER")
                .value_name("DURATION")
                .value_parser(parse_duration)
                .help_heading(MIX_HEADING)
                .help("Shift the input distribution from DURATION (e.g. 60s, 2m) after the load starts: \
                       every row sent then is row * --drift-scale + --drift-offset"),
        )
        .arg(
            Arg::new("drift_scale")
                .long("drift-scale")
                .env("LOADGEN_DRIFT_SCALE")
                .value_name("FACTOR")
                .value_parser(value_parser!(f64))
                .help_heading(MIX_HEADING)
                .help(format!("Factor of every feature of drifted rows [default: {}, from the mix file]", defaults.drift.scale)),
        )
        .arg(
            Arg::new("drift_offset")
                .long("drift-offset")
                .env("LOADGEN_DRIFT_OFFSET")
                .value_name("A,B,..")
                .value_parser(parse_offsets)
                .help_heading(MIX_HEADING)
                .help("Offset added to each feature of drifted rows, one per feature [default: 0 each, from the mix file]"),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .env("LOADGEN_SEED")
                .value_name("N")
                .value_parser(value_parser!(u64))
                .help_heading(MIX_HEADING)
                .help("Seed of the rows rendered at start [default: random]"),
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

/// Our options; an error is a bad mix file or a drift that does not fit it.
pub fn options(matches: &ArgMatches) -> Result<Options, String> {
    let mix = MixFile::load(matches.get_one::<String>("mix").map(String::as_str))?;
    let weight =
        |id: &str, default: usize| matches.get_one::<usize>(id).copied().unwrap_or(default);
    let weights = Weights {
        ok: weight("ok_weight", mix.weights.ok),
        client_error: weight("client_error_weight", mix.weights.client_error),
        server_error: weight("server_error_weight", mix.weights.server_error),
    };
    let drift = match matches.get_one::<Duration>("drift_after") {
        None => None,
        Some(after) => {
            let offset = matches
                .get_one::<Vec<f64>>("drift_offset")
                .cloned()
                .unwrap_or_else(|| mix.drift.offset.clone());
            if offset.len() != mix.rows.features.len() {
                return Err(format!(
                    "--drift-offset needs {} values (one per feature: {}), got {}",
                    mix.rows.features.len(),
                    mix.rows.features.join(", "),
                    offset.len()
                ));
            }
            let scale = matches
                .get_one::<f64>("drift_scale")
                .copied()
                .unwrap_or(mix.drift.scale);
            Some(DriftPlan {
                after: *after,
                scale,
                offset,
            })
        }
    };
    Ok(Options {
        weights,
        think_time: *matches
            .get_one::<(Duration, Duration)>("think_time")
            .expect("has a default"),
        summary_file: matches.get_one::<String>("summary_file").cloned(),
        drift,
        seed: matches
            .get_one::<u64>("seed")
            .copied()
            .unwrap_or_else(|| fastrand::u64(..)),
        mix,
        // Goose's option ids are its configuration's field names.
        given_test_plan: given(matches, "test_plan"),
        given_increase_time: given(matches, "increase_time"),
        given_iterations: given(matches, "iterations"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_options_parse_and_default_from_the_mix_file() {
        let m = command()
            .try_get_matches_from(["loadgen", "--drift-after", "1m30s"])
            .unwrap();
        let o = options(&m).unwrap();
        let d = o.drift.unwrap();
        assert_eq!(d.after, Duration::from_secs(90));
        assert_eq!((d.scale, d.offset), (1.6, vec![0.0; 4]));
        assert_eq!(o.weights, o.mix.weights);

        let m = command()
            .try_get_matches_from([
                "loadgen",
                "--drift",
                "5",
                "--drift-scale",
                "1",
                "--drift-offset",
                "1,0,0,-0.5",
            ])
            .unwrap();
        let d = options(&m).unwrap().drift.unwrap();
        assert_eq!((d.after, d.scale), (Duration::from_secs(5), 1.0));
        assert_eq!(d.offset, [1.0, 0.0, 0.0, -0.5]);

        let m = command()
            .try_get_matches_from(["loadgen", "--drift-after", "5s", "--drift-offset", "1,2"])
            .unwrap();
        assert!(options(&m).unwrap_err().contains("needs 4 values"));
        assert!(command()
            .try_get_matches_from(["loadgen", "--drift-after", "soon"])
            .is_err());
        let m = command().try_get_matches_from(["loadgen"]).unwrap();
        assert!(options(&m).unwrap().drift.is_none());
    }
}
