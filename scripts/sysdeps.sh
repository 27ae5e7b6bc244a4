#!/usr/bin/env bash
# Install the system programs gradstep uses, through apt when running as root.
#   scripts/sysdeps.sh graphviz            -> Graphviz's `dot` (computation graph)
#   scripts/sysdeps.sh graphviz chromium   -> plus headless Chromium (browser test)
# Without root, print how to get what is missing and carry on (the features that
# need it degrade: graph.dot instead of SVG/PNG, the browser test is skipped).
set -u
missing=()
for want in "$@"; do
  case "$want" in
    graphviz) command -v dot >/dev/null 2>&1 || missing+=(graphviz) ;;
    chromium) { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } \
                || missing+=(chromium chromium-driver) ;;
    *) echo "sysdeps.sh: unknown package group '$want'" >&2; exit 2 ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} through apt ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "sysdeps.sh: apt-get install ${missing[*]} failed" >&2; exit 1; }
else
  echo "Note: ${missing[*]} not installed; install with: sudo apt-get install ${missing[*]}" >&2
fi
