#!/usr/bin/env bash
# `make proto`: regenerates the Go code of the plugin contract from every
# .proto file under plugins/. Generated files land beside their .proto.
# Imports between .proto files are resolved from the importing file's own
# directory; the well-known types (google/protobuf/*.proto) come with protoc.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/deps.sh proto
gopath="$(go env GOPATH)"
export PATH="${gopath%%:*}/bin:$PATH"

# plugins/examples holds plugins in other languages, with the .proto files of
# go-plugin's own services they serve; they are not Go code to generate.
mapfile -t dirs < <(find plugins -name '*.proto' -not -path '*/node_modules/*' -not -path 'plugins/examples/*' -printf '%h\n' 2>/dev/null | sort -u)
if [ "${#dirs[@]}" -eq 0 ]; then
	echo "proto: no .proto files under plugins/"
	exit 0
fi

# One protoc run per directory, with that directory as the import root, so
# paths=source_relative writes each output next to its source.
for d in "${dirs[@]}"; do
	mapfile -t protos < <(cd "$d" && find . -maxdepth 1 -name '*.proto' -printf '%P\n' | sort)
	echo "proto: $d: ${protos[*]}"
	(cd "$d" && protoc -I . \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
		"${protos[@]}")
done
echo "proto: done ($(protoc --version), protoc-gen-go $(protoc-gen-go --version | awk '{print $2}'), $(protoc-gen-go-grpc --version))"
