#!/bin/sh
# Create the homes of the compose network in deploy/compose/testnet, using the image itself
# so that the files belong to the image's user (uid 10001) and keys stay mode 0600.
# Usage (from deploy/compose): ./init-homes.sh   (refuses to overwrite an existing testnet)
set -eu
cd "$(dirname "$0")"
docker compose build central-bank
mkdir -p testnet
docker run --rm --user 10001:10001 -v "$PWD/testnet:/out" --entrypoint python tenge-node:latest -c '
from pathlib import Path
from testnet._init import init_testnet

# Peers dial each other by compose service name; node i uses ports 26600 + 10 i (+1 API, +2 metrics).
init_testnet(Path("/out"), validators=4, hosts=["central-bank", "bank-a", "bank-b", "bank-c"])
print("homes written to deploy/compose/testnet/nodes/node0..node3")
'
