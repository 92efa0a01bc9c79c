#!/usr/bin/env bash
# Installs what the tests start for real: PostgreSQL, Chromium, protoc, slapd,
# maildev, oidc-provider, the SCIM server (scimmy) and the protoc Go plugins.
# Every step checks first, so a second run installs nothing and needs no
# network.
#
# Usage: deps.sh [all|proto]   (proto: only protoc and its Go plugins)
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-all}"
case "$what" in
all | proto) ;;
*)
	echo "usage: $0 [all|proto]" >&2
	exit 2
	;;
esac

# protoc-gen-go follows the protobuf runtime in go.mod, so generated code and
# runtime always agree; protoc-gen-go-grpc is the newest 1.6 patch.
PROTOC_GEN_GO_VERSION="$(go list -m -f '{{.Version}}' google.golang.org/protobuf)"
PROTOC_GEN_GO_GRPC_VERSION="v1.6.2"
MAILDEV_VERSION="2.2.1" # 3.0.0 does not install: a dependency is missing from the registry.
OIDC_PROVIDER_VERSION="8.8.1" # 9.x declares an engine Node 20 does not meet.
# The SCIM 2.0 server the SCIM group source is tested against; express 4 is
# the one maildev already brings, so both share it.
SCIMMY_VERSION="1.3.5"
SCIMMY_ROUTERS_VERSION="1.3.2"
EXPRESS_VERSION="4.22.3"
NPM_PREFIX=".cache/npm"

# gcc: cgo is needed by the SQLite driver and by the race detector.
# libprotobuf-dev: the well-known .proto files (google/protobuf/*.proto).
if [ "$what" = proto ]; then
	apt_pkgs=(protobuf-compiler libprotobuf-dev)
else
	apt_pkgs=(postgresql chromium protobuf-compiler libprotobuf-dev slapd ldap-utils gcc)
fi

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		echo "deps: need root (or sudo) to run: $*" >&2
		return 1
	fi
}

# --- Debian packages -------------------------------------------------------
missing=()
for p in "${apt_pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: apt packages present: ${apt_pkgs[*]}"
else
	echo "deps: apt-get install ${missing[*]}"
	# noninteractive: slapd's postinst would otherwise ask for an admin password.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	echo "deps: apt packages installed: ${missing[*]}"
fi

# --- npm packages: maildev, oidc-provider, the SCIM server ---------------
# npm_pkg NAME VERSION [BIN]: installs NAME@VERSION into $NPM_PREFIX unless
# that exact version (and its executable BIN, when named) is there already.
npm_pkg() {
	local name="$1" version="$2" bin="${3:-}" pkg_json="$NPM_PREFIX/node_modules/$1/package.json" have=""
	if [ -f "$pkg_json" ] && { [ -z "$bin" ] || [ -x "$NPM_PREFIX/node_modules/.bin/$bin" ]; }; then
		have="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg_json" | head -n1 || true)"
	fi
	if [ "$have" = "$version" ]; then
		echo "deps: npm $name@$version present in $NPM_PREFIX"
		return 0
	fi
	echo "deps: npm install $name@$version into $NPM_PREFIX"
	mkdir -p "$NPM_PREFIX"
	local npm_log
	npm_log="$(mktemp)"
	if ! npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
		"$name@$version" >"$npm_log" 2>&1; then
		echo "deps: FAILED: npm install --prefix $NPM_PREFIX $name@$version" >&2
		sed 's/^/  npm: /' "$npm_log" >&2
		rm -f "$npm_log"
		exit 1
	fi
	rm -f "$npm_log"
	echo "deps: npm $name@$version installed"
}
if [ "$what" = all ]; then
	npm_pkg maildev "$MAILDEV_VERSION" maildev
	npm_pkg oidc-provider "$OIDC_PROVIDER_VERSION"
	npm_pkg express "$EXPRESS_VERSION"
	npm_pkg scimmy "$SCIMMY_VERSION"
	npm_pkg scimmy-routers "$SCIMMY_ROUTERS_VERSION"
fi

# --- protoc Go plugins -----------------------------------------------------
gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then
	gopath="$(go env GOPATH)"
	gobin="${gopath%%:*}/bin"
fi

# go_tool NAME MODULE PACKAGE VERSION: installs PACKAGE@VERSION unless the
# binary in $gobin was already built from MODULE at VERSION.
go_tool() {
	local name="$1" module="$2" pkg="$3" version="$4" have=""
	if [ -x "$gobin/$name" ]; then
		have="$(go version -m "$gobin/$name" 2>/dev/null |
			awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }' || true)"
	fi
	if [ "$have" = "$version" ]; then
		echo "deps: $name $version present in $gobin"
	else
		echo "deps: go install $pkg@$version${have:+ (had $have)}"
		go install "$pkg@$version"
		echo "deps: $name $version installed in $gobin"
	fi
}
go_tool protoc-gen-go google.golang.org/protobuf \
	google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
go_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"
