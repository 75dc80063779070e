#!/usr/bin/env bash
# Gradescope's image setup, run once as root from the unpacked autograder.zip (/autograder/source,
# made by `cargo xtask autograder`): the build tools, Rust for every user (/opt/rust), the grader
# (xtask, root's alone), then `xtask autograder-setup`: private/ made root's alone, the crates
# vendored, and the handout built once at the fixed path every submission is built at, so that
# a submission compiles only its labs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq build-essential ca-certificates curl procps util-linux >/dev/null

export RUSTUP_HOME=/opt/rust/rustup CARGO_HOME=/opt/rust/cargo
export PATH="$CARGO_HOME/bin:$PATH"
if ! command -v cargo >/dev/null; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
        | sh -s -- -y --profile minimal --no-modify-path
fi
chmod -R a+rX /opt/rust

cd "$here/ipc-labs"
CARGO_TARGET_DIR=/autograder/xtask-target cargo build --release -p xtask
install -m 0700 /autograder/xtask-target/release/xtask /autograder/xtask
/autograder/xtask autograder-setup --source "$here" --work /autograder/work
