#!/usr/bin/env bash
# The Node.js Portcullis runs on: the exact version in .nvmrc, put first on PATH.
#
#   bash .ci/node.sh npm ci        run a command with it (developers, README)
#   . .ci/node.sh                  put it first on PATH in this shell (.ci/run)
#
# The machine's own `node` is used when it is that line and not older than the pinned
# version; then nothing is downloaded. Otherwise Node's official Linux build is taken
# from the npm registry (package node-linux-<arch>, with the machine's npm: `npm pack`,
# no install scripts), its SHA-512 checked against the one pinned below, and kept in
# ${PORTCULLIS_NODE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/portcullis/node}/<version>-linux-<arch>.
# The cache is outside node_modules on purpose: `npm ci` deletes node_modules, and would
# delete the node binary running it. Works with CI=true and no stdin.

# Integrity of each pinned tarball, as the registry publishes it (dist.integrity).
# Changing .nvmrc means adding its lines here; a test keeps the two in step.
portcullis_node_integrity() {
  case "$1" in
    26.12.1-x64) echo 'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==' ;;
    26.12.1-arm64) echo 'sha512-8Oxs6Y7rDcKufVIM/zYRSwytj46WOrZk7yFCLTKDcs17bBjAeD9HMAqo97hMfMyxozIud0S4vZCs5WB/3iavNQ==' ;;
    *) return 1 ;;
  esac
}

portcullis_node_fail() {
  echo "node.sh: $*" >&2
  return 1
}

# true when version $1 is on the same major line as $2 and not older
portcullis_node_satisfies() {
  local have="$1" want="$2"
  [ -n "$have" ] || return 1
  [ "${have%%.*}" = "${want%%.*}" ] || return 1
  [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ]
}

portcullis_node_provision() {
  local root want have arch cache dir integrity tmp tarball got
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  want="$(tr -d ' \t\r\n' < "$root/.nvmrc")"
  want="${want#v}"
  [[ "$want" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { portcullis_node_fail ".nvmrc must hold an exact version such as 26.12.1, not \"$want\""; return 1; }

  have="$(node -p 'process.versions.node' 2>/dev/null || true)"
  if portcullis_node_satisfies "$have" "$want"; then
    PORTCULLIS_NODE="$(command -v node)"
    export PORTCULLIS_NODE
    return 0
  fi

  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) portcullis_node_fail "no pinned Node build for $(uname -s) $(uname -m); install Node $want yourself"; return 1 ;;
  esac
  [ "$(uname -s)" = Linux ] || { portcullis_node_fail "the machine's Node is ${have:-missing}; install Node $want (see .nvmrc)"; return 1; }
  integrity="$(portcullis_node_integrity "$want-$arch")" || { portcullis_node_fail "no integrity pinned for node-linux-$arch@$want in .ci/node.sh"; return 1; }

  cache="${PORTCULLIS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/portcullis/node}"
  dir="$cache/$want-linux-$arch"
  if [ "$("$dir/bin/node" --version 2>/dev/null)" != "v$want" ]; then
    command -v npm > /dev/null || { portcullis_node_fail "Node $want is needed and npm is not here to fetch it; install Node $want"; return 1; }
    echo "node.sh: the machine's Node is ${have:-missing}; fetching node-linux-$arch@$want from the npm registry into $dir" >&2
    mkdir -p "$cache" || return 1
    tmp="$(mktemp -d "$cache/.fetch.XXXXXX")" || return 1
    # outside the repository, so its package.json and workspaces play no part
    if ! (cd "$tmp" && npm pack "node-linux-$arch@$want" --silent --pack-destination "$tmp" < /dev/null > /dev/null); then
      rm -rf "$tmp"
      portcullis_node_fail "npm pack node-linux-$arch@$want failed"
      return 1
    fi
    tarball="$tmp/node-linux-$arch-$want.tgz"
    got="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
    if [ "$got" != "$integrity" ]; then
      rm -rf "$tmp"
      portcullis_node_fail "node-linux-$arch@$want does not match the integrity pinned in .ci/node.sh (got $got)"
      return 1
    fi
    tar -xzf "$tarball" -C "$tmp" package/bin/node package/LICENSE || { rm -rf "$tmp"; portcullis_node_fail "cannot unpack $tarball"; return 1; }
    if [ "$("$tmp/package/bin/node" --version 2>/dev/null)" != "v$want" ]; then
      rm -rf "$tmp"
      portcullis_node_fail "the fetched node does not run here or is not v$want"
      return 1
    fi
    rm -rf "$dir"
    # a rename: a concurrent run sees the old state or the whole new one, never half
    mv "$tmp/package" "$dir" 2> /dev/null || [ "$("$dir/bin/node" --version 2>/dev/null)" = "v$want" ] || { rm -rf "$tmp"; portcullis_node_fail "cannot move Node into $dir"; return 1; }
    rm -rf "$tmp"
  fi
  PATH="$dir/bin:$PATH"
  export PATH
  hash -r 2> /dev/null || true
  PORTCULLIS_NODE="$dir/bin/node"
  export PORTCULLIS_NODE
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  portcullis_node_provision
  [ "$#" -gt 0 ] || { echo "usage: bash .ci/node.sh <command> [args...]   (e.g. bash .ci/node.sh npm start)" >&2; exit 2; }
  exec "$@"
else
  portcullis_node_provision || return 1
fi
