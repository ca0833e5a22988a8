#!/usr/bin/env python3
"""Builds, mines and submits a regtest block to a cheesechain peer.

Written from docs/consensus.md (byte layouts, merkle root, proof of work,
reward) and docs/protocol.md (id exchange, 0x04 framing, HELLO/HEY,
GETBLOCK/BLOCK/REJECT) alone, with the Python standard library only.

    python_block_builder.py HOST PORT NETWORK_ID_HEX

Prints one JSON line per step; the last is {"event": "accepted", ...} when
the peer serves the new block back, or {"event": "rejected", ...}. Exit code
0 only when accepted.
"""
import hashlib
import json
import socket
import struct
import sys
import time

EOT = b"\x04"
COIN = 100_000_000
INITIAL_REWARD = 50 * COIN  # regtest (docs/consensus.md section 10)
HALVING_INTERVAL = 150
TIMEOUT_S = 20.0


def out(**fields):
    print(json.dumps(fields), flush=True)


def sha256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def display(internal):
    """Display hex: the 32 bytes reversed (docs/consensus.md, conventions)."""
    return internal[::-1].hex()


def internal(display_hex):
    return bytes.fromhex(display_hex)[::-1]


def target_from_bits(bits):
    """Bitcoin's compact form (docs/consensus.md section 1)."""
    e = bits >> 24
    m = bits & 0x007FFFFF
    return m >> (8 * (3 - e)) if e <= 3 else m << (8 * (e - 3))


def reward(height):
    halvings = height // HALVING_INTERVAL
    return 0 if halvings >= 64 else INITIAL_REWARD >> halvings


class Peer:
    """0x04-framed JSON messages, each an object with one key (docs/protocol.md)."""

    def __init__(self, host, port, node_id):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT_S)
        self.buf = b""
        self.sock.sendall((node_id + ":0").encode("utf-8"))
        self.remote_id = self.sock.recv(4096).decode("utf-8")

    def send(self, method, payload):
        self.sock.sendall(json.dumps({method: payload}).encode("utf-8") + EOT)

    def recv(self):
        while EOT not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("peer closed the connection")
            self.buf += chunk
        frame, self.buf = self.buf.split(EOT, 1)
        msg = json.loads(frame.decode("utf-8"))
        (method, payload), = msg.items()
        return method, payload

    def wait_for(self, methods):
        """Next message among `methods`; answers PING on the way, ignores the rest."""
        while True:
            method, payload = self.recv()
            if method == "PING":
                self.send("PONG", {"nonce": payload["nonce"]})
            elif method in methods:
                return method, payload


def status(network, node_id):
    return {"version": 1, "network": network, "height": 0, "tip": network, "chainWork": "1",
            "time": int(time.time()), "nodeId": node_id, "port": 0, "agent": "python-block-builder/1"}


def main():
    host, port, network = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    node_id = "pyblock"
    peer = Peer(host, port, node_id)
    out(event="id", value=peer.remote_id)
    # Handshake: our HELLO, their HEY and HELLO (either order), our HEY.
    peer.send("HELLO", status(network, node_id))
    theirs = {}
    while len(theirs) < 2:
        method, payload = peer.wait_for({"HEY", "HELLO", "REJECT"})
        if method == "REJECT":
            raise RuntimeError("handshake refused: %s" % json.dumps(payload))
        theirs[method] = payload
    peer.send("HEY", status(network, node_id))
    tip_hash, tip_height = theirs["HELLO"]["tip"], theirs["HELLO"]["height"]
    out(event="handshake", tip=tip_hash, height=tip_height)

    # The tip's header: its time and bits (regtest never retargets).
    peer.send("GETBLOCK", {"hash": tip_hash})
    _, payload = peer.wait_for({"BLOCK"})
    tip_header = payload["block"]["header"]

    # Coinbase (section 2), alone in the block: the merkle root is its txid (section 6).
    height = tip_height + 1
    recipient = hashlib.sha256(b"python block builder").digest()
    amount = reward(height)
    coinbase = b"\x00" + recipient + struct.pack("<Q", amount) + struct.pack("<I", height)
    merkle = sha256d(coinbase)

    # Header (section 1); time after the tip's (hence after the median time past).
    bits = tip_header["bits"]
    block_time = max(int(time.time()), tip_header["time"] + 1)
    target = target_from_bits(bits)
    prefix = struct.pack("<I", 1) + internal(tip_hash) + merkle + struct.pack("<II", block_time, bits)
    nonce = 0
    while True:
        header = prefix + struct.pack("<I", nonce)
        block_hash = sha256d(header)
        if int.from_bytes(block_hash, "little") <= target:
            break
        nonce += 1
    out(event="mined", hash=display(block_hash), height=height, nonce=nonce)

    block = {
        "header": {"version": 1, "prevHash": tip_hash, "merkleRoot": display(merkle),
                   "time": block_time, "bits": bits, "nonce": nonce},
        "transactions": [{"type": "coinbase", "recipient": recipient.hex(), "amount": str(amount), "height": height}],
    }
    peer.send("BLOCK", {"block": block})
    # Accepted when the peer serves it back; refused with a REJECT.
    peer.send("GETBLOCK", {"hash": display(block_hash)})
    while True:
        method, payload = peer.wait_for({"BLOCK", "REJECT"})
        if method == "REJECT":
            out(event="rejected", code=payload.get("code"), reason=payload.get("reason"))
            return 1
        if payload["block"]["header"]["merkleRoot"] == display(merkle):
            out(event="accepted", hash=display(block_hash))
            return 0


if __name__ == "__main__":
    sys.exit(main())
