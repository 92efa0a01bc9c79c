#!/usr/bin/env bash
# Installs what the tests start for real: PostgreSQL, Chromium, protoc, slapd,
# maildev, the SCIM server (scimmy) and the protoc Go plugins. Every step checks first, so a second run
# installs nothing and needs no network.
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
# The SCIM 2.0 server the SCIM group source is tested against; express 4 is
# the one maildev already brings, so both share it.
SCIM_NPM_PKGS=(scimmy@1.3.5 scimmy-routers@1.3.2 express@4.22.3)
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

# --- maildev (npm) ---------------------------------------------------------
if [ "$what" = all ]; then
	pkg_json="$NPM_PREFIX/node_modules/maildev/package.json"
	have=""
	if [ -f "$pkg_json" ] && [ -x "$NPM_PREFIX/node_modules/.bin/maildev" ]; then
		have="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg_json" | head -n1 || true)"
	fi
	if [ "$have" = "$MAILDEV_VERSION" ]; then
		echo "deps: npm maildev@$MAILDEV_VERSION present in $NPM_PREFIX"
	else
		echo "deps: npm install maildev@$MAILDEV_VERSION into $NPM_PREFIX"
		mkdir -p "$NPM_PREFIX"
		npm_log="$(mktemp)"
		if ! npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
			"maildev@$MAILDEV_VERSION" >"$npm_log" 2>&1; then
			echo "deps: FAILED: npm install --prefix $NPM_PREFIX maildev@$MAILDEV_VERSION" >&2
			sed 's/^/  npm: /' "$npm_log" >&2
			rm -f "$npm_log"
			exit 1
		fi
		rm -f "$npm_log"
		echo "deps: npm maildev@$MAILDEV_VERSION installed"
	fi
fi

# --- SCIM server (npm) -----------------------------------------------------
if [ "$what" = all ]; then
	scim_missing=()
	for spec in "${SCIM_NPM_PKGS[@]}"; do
		pkg="${spec%@*}" want="${spec##*@}"
		pkg_json="$NPM_PREFIX/node_modules/$pkg/package.json"
		have=""
		if [ -f "$pkg_json" ]; then
			have="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg_json" | head -n1 || true)"
		fi
		[ "$have" = "$want" ] || scim_missing+=("$spec")
	done
	if [ "${#scim_missing[@]}" -eq 0 ]; then
		echo "deps: npm ${SCIM_NPM_PKGS[*]} present in $NPM_PREFIX"
	else
		echo "deps: npm install ${scim_missing[*]} into $NPM_PREFIX"
		mkdir -p "$NPM_PREFIX"
		npm_log="$(mktemp)"
		if ! npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
			"${SCIM_NPM_PKGS[@]}" >"$npm_log" 2>&1; then
			echo "deps: FAILED: npm install --prefix $NPM_PREFIX ${SCIM_NPM_PKGS[*]}" >&2
			sed 's/^/  npm: /' "$npm_log" >&2
			rm -f "$npm_log"
			exit 1
		fi
		rm -f "$npm_log"
		echo "deps: npm ${SCIM_NPM_PKGS[*]} installed"
	fi
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
