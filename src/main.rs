//! `model-server`: serve a tabular model (Iris by default) with Prometheus metrics, train
//! one on Iris or on a CSV file, or run the whole monitoring stack.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use model_server::config::{LogFormat, ServeConfig};
use model_server::model::table::Table;
use model_server::model::train::{train, train_table, Algorithm, TrainOptions};
use model_server::model::{Task, TrainingInfo};
use model_server::server::signals::Signals;
use model_server::server::{memory, rlimit, ModelSource, Server};
use model_server::stack::files::write_private;
use model_server::stack::{envsubst, StackArgs};
use model_server::telemetry::Telemetry;

/// A smartcore model (an Iris classifier by default, or one trained on your CSV)
/// served over HTTP, instrumented with OpenTelemetry and exported to Prometheus.
///
/// With no subcommand, `serve` runs with the embedded default model:
/// `model-server` alone listens on http://127.0.0.1:8000.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve predictions and metrics (the default).
    ///
    /// SIGTERM, SIGINT (Ctrl-C) and SIGHUP all drain: /readyz turns 503 for
    /// --shutdown-delay, then the listener closes and the requests in flight get up
    /// to --shutdown-grace to finish. SIGHUP is not a reload (the model and flags
    /// are read once, at start). A second of these signals during the drain exits
    /// at once, with status 1, cutting what is still in flight.
    Serve(ServeConfig),
    /// Train a model on Iris or on a CSV file, print its held-out metrics and write an
    /// artifact.
    Train(TrainArgs),
    /// Run the monitoring stack: model server, node-exporter, Prometheus,
    /// Alertmanager and Grafana on loopback, with the repository's configs.
    ///
    /// Once everything is ready, a child that exits is restarted, each restart
    /// logged with the exit status, the restart's number and the wait before it.
    /// The wait starts at --restart-delay and doubles with each restart of that
    /// child within --restart-window, up to --restart-delay-max. The model servers
    /// are restarted without limit, and the rest keeps running meanwhile, so that
    /// Prometheus sees them down and Alertmanager sends ModelServerDown. A
    /// monitoring child has a restart budget: --restart-limit restarts within
    /// --restart-window (default 5 within 5m); its next exit stops the stack with
    /// exit status 1. A child that exits during start-up stops the stack at once.
    ///
    /// The data (Prometheus' history, Alertmanager's silences, Grafana's database
    /// and generated secrets) lives in a persistent folder per user, kept across
    /// runs: --data-dir, default $XDG_STATE_HOME/model-server/stack, else
    /// ~/.local/state/model-server/stack. One stack at a time may use a folder.
    /// --ephemeral uses a temporary one instead, removed on a clean stop.
    ///
    /// Ctrl-C, SIGTERM or SIGHUP stop every child (SIGTERM, then SIGKILL after 10 s).
    Stack(StackArgs),
    /// Render an envsubst template (monitoring/alertmanager/alertmanager.yml) from
    /// the environment, as the NixOS Alertmanager module does at start; the stack
    /// renders with the same code.
    RenderConfig(RenderArgs),
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// The template; `-` reads standard input.
    template: PathBuf,
    /// Write the result here, mode 0600 (it may hold secrets), instead of to
    /// standard output.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// Where to write the artifact (JSON). Written atomically.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// A CSV file with a header line to train on (default: the Iris data set). Features
    /// are its numeric columns other than the target.
    #[arg(long, value_name = "FILE.csv", requires = "target")]
    data: Option<PathBuf>,
    /// The column of --data to predict.
    #[arg(long, value_name = "COLUMN", requires = "data")]
    target: Option<String>,
    /// What to predict. Default: regression when every target value is a number and some
    /// has a fraction or there are more than 20 distinct values; classification otherwise.
    #[arg(long, value_enum, requires = "data")]
    task: Option<Task>,
    /// The algorithm to train. random-forest and decision-tree do both tasks,
    /// logistic-regression classification, linear-regression regression.
    #[arg(long, value_enum, default_value_t = Algorithm::RandomForest)]
    algorithm: Algorithm,
    /// Seed of the train/test split and of the estimator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of the rows held out to measure accuracy (or RMSE and R²), in (0, 1).
    #[arg(long, default_value_t = 0.2)]
    test_size: f32,
    /// Model name, as shown in responses, V2 paths and `model_info` (default: `iris`, or
    /// the CSV file's name without its extension).
    #[arg(long)]
    name: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Train(args)) => run_train(args),
        Some(Command::Serve(config)) => run_serve(config),
        Some(Command::Stack(args)) => run_stack(args),
        Some(Command::RenderConfig(args)) => run_render_config(args),
        None => run_serve(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_train(args: TrainArgs) -> anyhow::Result<()> {
    let mut opts = TrainOptions {
        algorithm: args.algorithm,
        seed: args.seed,
        test_size: args.test_size,
        name: args.name.clone().unwrap_or_else(|| "iris".to_owned()),
    };
    let artifact = match (&args.data, &args.target) {
        (Some(data), Some(target)) => {
            let table = Table::read(data, target)?;
            if args.name.is_none() {
                if let Some(stem) = data.file_stem() {
                    opts.name = stem.to_string_lossy().into_owned();
                }
            }
            println!(
                "read {}: {} rows, {} features ({}), target {:?}",
                data.display(),
                table.len(),
                table.feature_names.len(),
                table.feature_names.join(", "),
                table.target_name
            );
            if !table.ignored.is_empty() {
                println!(
                    "ignored text columns (no cell is a number): {}",
                    table.ignored.join(", ")
                );
            }
            let trained = train_table(&table, args.task, &opts)?;
            let classes = trained.artifact.class_names();
            if classes.is_empty() {
                println!("task: {} ({})", trained.task, trained.task_reason);
            } else {
                let shown = classes.iter().take(20).cloned().collect::<Vec<_>>();
                let more = if classes.len() > shown.len() {
                    ", …"
                } else {
                    ""
                };
                println!(
                    "task: {} ({}); {} classes: {}{more}",
                    trained.task,
                    trained.task_reason,
                    classes.len(),
                    shown.join(", ")
                );
            }
            trained.artifact
        }
        _ => train(&opts)?,
    };
    artifact.save(&args.out)?;
    let info = artifact.training();
    println!(
        "trained {} (seed {}) on {} rows; held-out {} on {} rows",
        artifact.algorithm(),
        info.seed,
        info.train_rows,
        metrics_line(info),
        info.test_rows
    );
    println!(
        "wrote {} (version {}, {})",
        args.out.display(),
        artifact.version(),
        artifact.checksum()
    );
    Ok(())
}

/// `accuracy 0.9667`, or `RMSE 2.31, R² 0.912`.
fn metrics_line(info: &TrainingInfo) -> String {
    match (info.test_accuracy, info.test_rmse) {
        (Some(accuracy), _) => format!("accuracy {accuracy:.4}"),
        (None, Some(rmse)) => match info.test_r2 {
            Some(r2) => format!("RMSE {rmse:.4}, R² {r2:.4}"),
            None => format!("RMSE {rmse:.4}, R² undefined (the held-out target is constant)"),
        },
        (None, None) => "no metrics".to_owned(),
    }
}

fn init_logging(config: &ServeConfig) -> anyhow::Result<()> {
    let mut directives = config.log_level.clone();
    if !directives.contains("opentelemetry") {
        // The SDK logs its own lifecycle at info; keep that out of the default output.
        directives.push_str(",opentelemetry_sdk=warn");
    }
    let filter = EnvFilter::try_new(&directives)
        .with_context(|| format!("invalid --log-level {:?}", config.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
    // A panicking handler is answered 500 and logged by the API; log the panic
    // itself as one structured line instead of the default multi-line report.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = model_server::api::panic_message(info.payload());
        tracing::error!(%location, message, "panic");
    }));
    Ok(())
}

fn run_stack(args: StackArgs) -> anyhow::Result<()> {
    // The stack's own events (a signal received, ...); RUST_LOG overrides.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(model_server::stack::run(args))?;
    Ok(())
}

fn run_render_config(args: RenderArgs) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut template = String::new();
    if args.template.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut template)
            .context("cannot read the template from standard input")?;
    } else {
        template = std::fs::read_to_string(&args.template)
            .with_context(|| format!("cannot read {}", args.template.display()))?;
    }
    let rendered = envsubst::render_from_env(&template).with_context(|| {
        if args.template.as_os_str() == "-" {
            "cannot render standard input".to_owned()
        } else {
            format!("cannot render {}", args.template.display())
        }
    })?;
    match &args.out {
        Some(out) => write_private(out, rendered.as_bytes())?,
        None => std::io::stdout()
            .write_all(rendered.as_bytes())
            .context("cannot write to standard output")?,
    }
    Ok(())
}

fn run_serve(config: ServeConfig) -> anyhow::Result<()> {
    init_logging(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config));
    // Don't wait for blocking work (a metrics render) that outlived the drain.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    // Before anything else: from here on SIGTERM drains instead of killing.
    let mut signals = Signals::install().context("cannot install the signal handlers")?;
    match rlimit::raise_nofile() {
        Ok((before, after)) if before != after => {
            tracing::info!(
                before,
                after,
                "raised the open-file limit to its hard limit"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    if let Err(e) = memory::disable_transparent_huge_pages() {
        tracing::warn!(error = %e, "cannot opt out of transparent huge pages: RSS may not come back down after a wave of connections");
    }
    let source = match &config.model {
        Some(path) => ModelSource::File {
            path: path.clone(),
            max_size: config.max_model_size,
        },
        None => ModelSource::Embedded,
    };
    let started = Instant::now();
    let model = source.load()?;
    tracing::info!(
        name = model.name(),
        version = model.version(),
        task = %model.task(),
        algorithm = %model.algorithm(),
        source = ?source,
        load_ms = started.elapsed().as_millis() as u64,
        "model ready"
    );
    let telemetry = Telemetry::new()?;
    let server = Server::bind(&config, Arc::new(model), telemetry).await?;
    tracing::info!(
        address = %server.local_addr()?,
        faults = config.enable_faults,
        max_connections = server.max_connections(),
        "listening; POST /predict, GET /metrics"
    );
    if config.enable_faults {
        tracing::warn!(
            "fault injection is ON: requests with an x-fault header will fail on purpose"
        );
    }
    // The first signal starts the drain and hands the handlers on: a second one
    // during the drain (a person who will not wait) exits at once.
    let (draining, drain_started) = tokio::sync::oneshot::channel();
    let drain = server.run(async move {
        let name = signals.recv().await;
        if name == "SIGHUP" {
            tracing::info!(
                signal = name,
                "received SIGHUP (the terminal hung up; there is no reload): draining as for SIGTERM"
            );
        } else {
            tracing::info!(signal = name, "received {name}");
        }
        let _ = draining.send(signals);
    });
    let impatient = async move {
        match drain_started.await {
            Ok(mut signals) => signals.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = drain => Ok(()),
        name = impatient => {
            tracing::warn!(
                signal = name,
                "received {name} during the drain: exiting now, without waiting for the requests in flight"
            );
            std::process::exit(FORCED_EXIT);
        }
    }
}

/// Exit status after a second signal cut the drain short.
const FORCED_EXIT: i32 = 1;
