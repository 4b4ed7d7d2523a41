# A stand-in for the nixpkgs flake input, for evaluating flake.nix's outputs
# offline (.ci/check-flake). Every package is a fake derivation. callPackage
# behaves as the real one where it matters to `nix flake check`: the arguments
# come from the package set, and an attribute set it returns gains `override`
# and `overrideDerivation` (nixpkgs' makeOverridable).
let
  lib = import ./lib.nix;
  inherit (builtins) functionArgs isAttrs isFunction mapAttrs;

  # A derivation-shaped attribute set: `type = "derivation"`, the attributes it
  # was made from, an outPath, one attribute per extra output, overrideAttrs.
  mkDrv = system: attrs: let
    name = attrs.name or "${attrs.pname}-${attrs.version}";
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    self =
      attrs
      // {
        type = "derivation";
        inherit name system outPath;
        drvPath = "${outPath}.drv";
        meta = attrs.meta or {};
        overrideAttrs = f:
          mkDrv system (attrs
            // (
              if isFunction f
              then f attrs
              else f
            ));
      }
      // lib.genAttrs (builtins.filter (o: o != "out") (attrs.outputs or ["out"])) (
        output: mkDrv system {name = "${name}-${output}";}
      )
      // (attrs.passthru or {});
  in
    self;

  packagesFor = system: let
    drv = mkDrv system;
    tool = name: drv {inherit name;};
    pkgs =
      lib.genAttrs [
        "alejandra"
        "cargo"
        "cargo-nextest"
        "clippy"
        "curl"
        "deadnix"
        "envsubst"
        "grafana"
        "jq"
        "nix-output-monitor"
        "prometheus-alertmanager"
        "prometheus-node-exporter"
        "rust-analyzer"
        "rustc"
        "rustfmt"
      ]
      tool
      // {
        inherit lib;
        stdenv.hostPlatform.system = system;

        callPackage = fn: args: let
          f =
            if isFunction fn
            then fn
            else import fn;
          auto = mapAttrs (name: _: pkgs.${name} or (throw "stub nixpkgs: no package `${name}` (add it to .ci/nix-stubs/nixpkgs.nix)")) (
            lib.filterAttrs (name: hasDefault: !hasDefault || pkgs ? ${name}) (functionArgs f)
          );
          result = f (auto // args);
        in
          if isAttrs result
          then
            result
            // {
              override = newArgs: pkgs.callPackage fn (args // newArgs);
              overrideDerivation = _: result;
            }
          else result;

        runCommand = name: env: _script: drv (env // {inherit name;});
        writeText = name: _text: drv {inherit name;};
        writeShellApplication = {name, ...}:
          drv {
            inherit name;
            meta.mainProgram = name;
          };
        writers.writePython3 = name: _options: _text: drv {inherit name;};
        mkShell = _: drv {name = "nix-shell";};
        rustPlatform = {
          buildRustPackage = drv;
          rustLibSrc = tool "rust-lib-src";
        };
        dockerTools = {
          buildLayeredImage = {name, ...}: drv {name = "${name}.tar.gz";};
          fakeNss = tool "fake-nss";
        };
        python3 = tool "python3" // {withPackages = _: tool "python3-env";};
        prometheus = tool "prometheus" // {cli = tool "promtool";};
        # The test's arguments stay reachable, for the test script checks.
        testers.runNixOSTest = args:
          drv {
            name = "vm-test-run-${args.name}";
            passthru.testArgs = args;
          };
      };
  in
    pkgs;
in {
  inherit lib;
  outPath = "/nix/store/00000000000000000000000000000000-nixpkgs-stub";
  legacyPackages = lib.genAttrs ["x86_64-linux" "aarch64-linux"] packagesFor;
}
