# The few nixpkgs `lib` functions that flake.nix and nix/*.nix call outside
# NixOS modules, written from their documented behaviour for the offline checks
# (.ci/check-flake): CI cannot fetch nixpkgs. Only what evaluating the flake's
# outputs needs; a call to anything else fails with "attribute ... missing",
# which is the cue to add it here.
let
  inherit (builtins) concatMap elem filter isFunction listToAttrs readFile;
in rec {
  genAttrs = names: f:
    listToAttrs (map (name: {
        inherit name;
        value = f name;
      })
      names);
  optional = cond: x:
    if cond
    then [x]
    else [];
  optionals = cond: xs:
    if cond
    then xs
    else [];
  optionalAttrs = cond: as:
    if cond
    then as
    else {};
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };
  mkDefault = mkOverride 1000;
  getExe = drv: "${drv}/bin/${drv.meta.mainProgram or drv.pname or drv.name}";
  importTOML = path: builtins.fromTOML (readFile path);
  importJSON = path: builtins.fromJSON (readFile path);
  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  attrNames = builtins.attrNames;
  mapAttrs = builtins.mapAttrs;
  filterAttrs = pred: set:
    listToAttrs (concatMap (name: let
      value = set.${name};
    in
      if pred name value
      then [{inherit name value;}]
      else []) (builtins.attrNames set));
  inherit elem filter isFunction;
  # A file set is only ever turned into a source here: the root stands in for it.
  fileset = {
    toSource = {root, ...}: root;
    unions = xs: xs;
    maybeMissing = x: x;
    fileFilter = _pred: root: root;
  };
  licenses.mit = {spdxId = "MIT";};
  platforms.linux = ["x86_64-linux" "aarch64-linux"];
}
