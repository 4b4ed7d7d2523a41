# `nix flake check`: build and unit tests, lints, the monitoring configs, the NixOS tests.
{
  lib,
  pkgs,
  model-server,
  images,
  nixosModules,
}: let
  fs = lib.fileset;

  nixFiles = fs.toSource {
    root = ../.;
    fileset = fs.fileFilter (file: file.hasExt "nix") ../.;
  };

  configDir = fs.toSource {
    root = ../.;
    fileset = fs.unions [
      ../monitoring
      ../dashboards
    ];
  };

  # The package's build with its cargo invocation replaced by another one.
  cargoCheck = name: nativeBuildInputs: command:
    model-server.overrideAttrs (old: {
      pname = "model-server-${name}";
      outputs = ["out"];
      nativeBuildInputs = old.nativeBuildInputs ++ nativeBuildInputs;
      buildPhase = ''
        runHook preBuild
        ${command}
        runHook postBuild
      '';
      doCheck = false;
      installPhase = ''
        runHook preInstall
        touch "$out"
        runHook postInstall
      '';
      postInstall = "";
      dontFixup = true;
    });
in
  {
    package = model-server;

    clippy = cargoCheck "clippy" [pkgs.clippy] ''
      cargo clippy --workspace --all-targets --offline --locked -- -D warnings
    '';

    rustfmt = cargoCheck "rustfmt" [pkgs.rustfmt] ''
      cargo fmt --all --check
    '';

    nix-format = pkgs.runCommand "model-server-nix-format" {nativeBuildInputs = [pkgs.alejandra];} ''
      alejandra --check ${nixFiles}
      touch "$out"
    '';

    deadnix = pkgs.runCommand "model-server-deadnix" {nativeBuildInputs = [pkgs.deadnix];} ''
      deadnix --fail ${nixFiles}
      touch "$out"
    '';

    # promtool from the pinned nixpkgs (a far newer Prometheus than Debian's).
    prometheus-rules = pkgs.runCommand "model-server-prometheus-rules" {nativeBuildInputs = [pkgs.prometheus.cli];} ''
      cp -r ${configDir}/monitoring/prometheus prometheus
      chmod -R u+w prometheus
      cd prometheus
      promtool check config prometheus.yml
      promtool check rules rules/*.yml
      shopt -s nullglob
      tests=(tests/*.yml)
      if [ ''${#tests[@]} -gt 0 ]; then
        promtool test rules "''${tests[@]}"
      fi
      touch "$out"
    '';

    # The Alertmanager template rendered as the NixOS module renders it (a8m
    # envsubst; the unit's ALERTMANAGER_TEMPLATES_DIR and GRAFANA_URL, every secret
    # unset, i.e. the template's defaults), then checked with the templates it loads.
    alertmanager-config =
      pkgs.runCommand "model-server-alertmanager-config" {
        nativeBuildInputs = [
          pkgs.envsubst
          pkgs.prometheus-alertmanager
        ];
        ALERTMANAGER_TEMPLATES_DIR = "${configDir}/monitoring/alertmanager/templates";
        GRAFANA_URL = "http://127.0.0.1:3000";
      } ''
        envsubst -i ${configDir}/monitoring/alertmanager/alertmanager.yml -o alertmanager.yml
        amtool check-config alertmanager.yml
        touch "$out"
      '';
  }
  // import ./tests.nix {inherit lib pkgs model-server images nixosModules;}
