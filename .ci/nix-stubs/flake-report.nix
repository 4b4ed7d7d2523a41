# Evaluates flake.nix's outputs against the stub nixpkgs and describes them for
# .ci/check-flake: each output's shape (what `nix flake check` judges) and each
# NixOS VM test's nodes and test script.
let
  flake = import ../../flake.nix;
  nixpkgs = import ./nixpkgs.nix;
  inherit (nixpkgs) lib;
  inherit (builtins) attrNames isAttrs isFunction isPath mapAttrs typeOf;

  self = outputs // {outPath = toString ../..;};
  outputs = flake.outputs {inherit self nixpkgs;};

  describe = value:
    {
      type = typeOf value;
    }
    // lib.optionalAttrs (isAttrs value) {
      attrs = attrNames value;
      isDerivation = (value.type or null) == "derivation";
      appType = value.type or null;
      programType =
        if value ? program
        then typeOf value.program
        else null;
    };

  perSystem = name: mapAttrs (_system: mapAttrs (_: describe)) (outputs.${name} or {});

  module = value:
    if isPath value
    then {type = "path";}
    else if isFunction value
    then {
      type = "lambda";
      args = attrNames (builtins.functionArgs value);
    }
    else describe value;

  overlay = value:
    if isFunction value
    then {
      type = "lambda";
      result = mapAttrs (_: describe) (value nixpkgs.legacyPackages.x86_64-linux nixpkgs.legacyPackages.x86_64-linux);
    }
    else describe value;

  tests = mapAttrs (_system: checks:
    mapAttrs (_: check: {
      inherit (check.testArgs) name;
      nodes = attrNames check.testArgs.nodes;
      testScript = let
        script = check.testArgs.testScript;
      in
        if isFunction script
        then script {nodes = check.testArgs.nodes;}
        else script;
    }) (lib.filterAttrs (_: check: check ? testArgs) checks))
  outputs.checks;
in {
  outputs = attrNames outputs;
  apps = perSystem "apps";
  packages = perSystem "packages";
  checks = perSystem "checks";
  devShells = perSystem "devShells";
  formatter = mapAttrs (_: describe) (outputs.formatter or {});
  nixosModules = mapAttrs (_: module) (outputs.nixosModules or {});
  overlays = mapAttrs (_: overlay) (outputs.overlays or {});
  inherit tests;
}
