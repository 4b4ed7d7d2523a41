# `nix develop`: the Rust toolchain of the pinned nixpkgs plus the monitoring tools.
{
  mkShell,
  rustPlatform,
  cargo,
  rustc,
  clippy,
  rustfmt,
  rust-analyzer,
  cargo-nextest,
  prometheus,
  prometheus-alertmanager,
  prometheus-node-exporter,
  grafana,
  python3,
  alejandra,
  deadnix,
  nix-output-monitor,
}:
mkShell {
  packages = [
    cargo
    rustc
    clippy
    rustfmt
    rust-analyzer
    cargo-nextest
    prometheus
    prometheus.cli # promtool
    prometheus-alertmanager # alertmanager, amtool
    prometheus-node-exporter
    grafana
    (python3.withPackages (ps: [ps.locust]))
    alejandra
    deadnix
    nix-output-monitor
  ];

  # For rust-analyzer's standard library sources.
  RUST_SRC_PATH = "${rustPlatform.rustLibSrc}";

  shellHook = ''
    export MODEL_SERVER_GRAFANA_HOME="${grafana}/share/grafana"
  '';
}
