#!/usr/bin/env python3
"""A python-p2p-network 1.2 style peer speaking cheesechain's wire protocol.

Standard library only. It does the id exchange exactly as the p2pnetwork
package does it (``Node.connect_with_node`` and ``Node.run``: the id line and
the id reply are each one ``recv(4096)``, nothing terminates them), frames
messages as ``NodeConnection.send`` does (``json.dumps(dict)`` + 0x04, or
``base64(zlib.compress(data, 6) + b"zlib") + 0x02 + 0x04`` when compressed)
and splits the stream as ``NodeConnection.run`` does (on 0x04).

Modes (each prints one JSON object per line on stdout and exits 0 when every
step succeeded, 1 otherwise):

  dial HOST PORT --network HEX [--id ID] [--listen-port N]
      dials a cheesechain peer: id exchange, HELLO -> HEY + HELLO -> HEY,
      a zlib-compressed PING answered by PONG, GETADDR answered by ADDR,
      then a clean close.

  listen --network HEX [--id ID]
      accepts one cheesechain dialer: id exchange, HELLO -> HEY + HELLO ->
      HEY, answers one GETADDR with ADDR, then a clean close.
"""

import argparse
import base64
import hashlib
import json
import random
import socket
import sys
import time
import zlib

EOT_CHAR = (0x04).to_bytes(1, "big")
COMPR_CHAR = (0x02).to_bytes(1, "big")
TIMEOUT_S = 10.0


def out(**fields):
    print(json.dumps(fields), flush=True)


def generate_id(host, port):
    """p2pnetwork's Node.generate_id: a SHA-512 hex digest (128 characters)."""
    h = hashlib.sha512()
    h.update((host + str(port) + str(random.randint(1, 99999999))).encode("ascii"))
    return h.hexdigest()


class Framed:
    """The message side of p2pnetwork's NodeConnection."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def send(self, data, compression="none"):
        raw = json.dumps(data).encode("utf-8")
        if compression == "zlib":
            self.sock.sendall(base64.b64encode(zlib.compress(raw, 6) + b"zlib") + COMPR_CHAR + EOT_CHAR)
        else:
            self.sock.sendall(raw + EOT_CHAR)

    def recv(self):
        """Next message as a dict (the library's parse_packet), or None when the peer closed."""
        while True:
            eot_pos = self.buffer.find(EOT_CHAR)
            if eot_pos > 0:
                packet = self.buffer[:eot_pos]
                self.buffer = self.buffer[eot_pos + 1:]
                if packet.find(COMPR_CHAR) == len(packet) - 1:
                    decoded = base64.b64decode(packet[:-1])
                    if decoded[-4:] != b"zlib":
                        raise ValueError("unexpected compression")
                    packet = zlib.decompress(decoded[:-4])
                return json.loads(packet.decode("utf-8"))
            if eot_pos == 0:
                raise ValueError("empty frame received (python-p2p-network would block here forever)")
            chunk = self.sock.recv(4096)
            if chunk == b"":
                return None
            self.buffer += chunk

    def expect(self, method):
        msg = self.recv()
        if msg is None:
            raise ValueError("connection closed while waiting for " + method)
        if not isinstance(msg, dict) or list(msg.keys()) != [method]:
            raise ValueError("expected %s, got %s" % (method, json.dumps(msg)[:200]))
        out(event="message", method=method, payload=msg[method])
        return msg[method]


def hello(args, node_id, port):
    return {
        "version": 1,
        "network": args.network,
        "height": 0,
        "tip": args.network,
        "chainWork": "1",
        "time": int(time.time()),
        "nodeId": node_id,
        "port": port,
        "agent": "python-p2p-network/1.2 (test client)",
    }


def check_hello(args, payload, remote_id):
    if payload["network"] != args.network:
        raise ValueError("remote is on another network: " + payload["network"])
    if payload["nodeId"] != remote_id:
        raise ValueError("remote HELLO nodeId %s differs from its id %s" % (payload["nodeId"], remote_id))


def dial(args):
    node_id = args.id or generate_id("127.0.0.1", args.listen_port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT_S)
    sock.connect((args.host, args.port))
    # Node.connect_with_node: send "id:port", then one recv for the bare id.
    sock.send((node_id + ":" + str(args.listen_port)).encode("utf-8"))
    connected_node_id = sock.recv(4096).decode("utf-8")
    out(event="id", value=connected_node_id)
    conn = Framed(sock)
    conn.send({"HELLO": hello(args, node_id, args.listen_port)})
    check_hello(args, conn.expect("HEY"), connected_node_id)
    check_hello(args, conn.expect("HELLO"), connected_node_id)
    conn.send({"HEY": hello(args, node_id, args.listen_port)})
    out(event="handshake", remote=connected_node_id)
    conn.send({"PING": {"nonce": 4242}}, compression="zlib")
    pong = conn.expect("PONG")
    if pong["nonce"] != 4242:
        raise ValueError("PONG carries the wrong nonce")
    conn.send({"GETADDR": {}})
    conn.expect("ADDR")
    sock.close()
    out(event="closed")


def listen(args):
    node_id = args.id or generate_id("127.0.0.1", 0)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(TIMEOUT_S)
    out(event="listening", port=server.getsockname()[1], id=node_id)
    sock, address = server.accept()
    sock.settimeout(TIMEOUT_S)
    # Node.run: one recv for "id:port", split on ':', answer with the bare id.
    connected_node_id = sock.recv(4096).decode("utf-8")
    (connected_node_id, connected_node_port) = connected_node_id.split(":")
    sock.send(node_id.encode("utf-8"))
    out(event="id", value=connected_node_id, port=int(connected_node_port))
    conn = Framed(sock)
    check_hello(args, conn.expect("HELLO"), connected_node_id)
    conn.send({"HEY": hello(args, node_id, server.getsockname()[1])})
    conn.send({"HELLO": hello(args, node_id, server.getsockname()[1])})
    check_hello(args, conn.expect("HEY"), connected_node_id)
    out(event="handshake", remote=connected_node_id)
    conn.expect("GETADDR")
    conn.send({"ADDR": {"addresses": [{"host": "127.0.0.1", "port": 9999}]}}, compression="zlib")
    sock.close()
    server.close()
    out(event="closed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("dial")
    d.add_argument("host")
    d.add_argument("port", type=int)
    d.add_argument("--network", required=True)
    d.add_argument("--id")
    d.add_argument("--listen-port", type=int, default=10001)
    l = sub.add_parser("listen")
    l.add_argument("--network", required=True)
    l.add_argument("--id")
    args = parser.parse_args()
    try:
        dial(args) if args.mode == "dial" else listen(args)
    except Exception as e:  # report every failure as a line, exit 1
        out(event="error", message="%s: %s" % (type(e).__name__, e))
        sys.exit(1)


if __name__ == "__main__":
    main()
