# `nix run .#stack`, `nix run .#loadtest`, `nix run` (the server).
# Imported, not callPackage'd: `apps.<system>` must hold nothing but apps.
{
  pkgs,
  model-server,
}: let
  inherit (pkgs) lib grafana;
  mkApp = description: program: {
    type = "app";
    inherit program;
    meta = {inherit description;};
  };

  stack = pkgs.writeShellApplication {
    name = "model-server-stack";
    runtimeInputs = [
      model-server
      model-server.loadgen
      pkgs.prometheus
      pkgs.prometheus-node-exporter
      pkgs.prometheus-alertmanager
      grafana
    ];
    text = ''
      # The repo's monitoring/ and dashboards/ as installed by the package,
      # unless the caller points elsewhere (e.g. a checkout being edited).
      export MODEL_SERVER_CONFIG_DIR="''${MODEL_SERVER_CONFIG_DIR:-${model-server}/share/model-server}"
      # nixpkgs' Grafana keeps conf/defaults.ini and public/ here, not next to the binary.
      export MODEL_SERVER_GRAFANA_HOME="''${MODEL_SERVER_GRAFANA_HOME:-${grafana}/share/grafana}"
      exec model-server stack "$@"
    '';
  };
in {
  default = mkApp "Run the model server (model-server serve)" (lib.getExe model-server);
  stack = mkApp "Run the model server with node-exporter, Prometheus, Alertmanager and Grafana" (lib.getExe stack);
  loadtest = mkApp "Run the goose load generator against a model server" "${model-server.loadgen}/bin/loadgen";
}
