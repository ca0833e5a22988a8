#!/usr/bin/env python3
"""A python-p2p-network 1.2 node, written from the wire of source document 002
with the standard library only (no p2pnetwork package), to test the
TypeScript library against the Python side of that wire.

The id exchange is done as the Python library does it: the dialer sends
``<id>:<port>`` and reads the acceptor's bare id with one ``recv(4096)``; the
acceptor reads the id line with one ``recv(4096)`` and answers with its bare
id. Messages are sent as ``NodeConnection.send`` sends them: a ``str`` as its
UTF-8 text, a ``dict`` as ``json.dumps(dict)``, each followed by 0x04, or
``base64(zlib.compress(data, 6) + b"zlib") + 0x02 + 0x04`` when compressed;
and parsed as ``parse_packet`` parses them (JSON when it is JSON, else text).

Modes (one JSON object per line on stdout; exit 0 when every step succeeded):

  dial HOST PORT [--id ID] [--listen-port N]
      connects, sends a dict, a str, a zlib-compressed dict and a list, and
      expects each back as {"echo": <what it sent>}; then closes.
  listen [--id ID]
      accepts one node, answers each message with {"echo": <message>}
      (compressed with zlib when the message was), until the node closes.
"""

import argparse
import base64
import json
import socket
import sys
import zlib

EOT = b"\x04"
COMPR = b"\x02"


def out(**fields):
    print(json.dumps(fields), flush=True)


def frame(data, compression="none"):
    raw = data.encode("utf-8") if isinstance(data, str) else json.dumps(data).encode("utf-8")
    if compression == "zlib":
        return base64.b64encode(zlib.compress(raw, 6) + b"zlib") + COMPR + EOT
    return raw + EOT


def parse(packet):
    compressed = packet.endswith(COMPR)
    if compressed:
        raw = base64.b64decode(packet[:-1])
        if raw[-4:] != b"zlib":
            raise ValueError("unknown compression")
        packet = zlib.decompress(raw[:-4])
    text = packet.decode("utf-8")
    try:
        return json.loads(text), compressed
    except json.decoder.JSONDecodeError:
        return text, compressed


class Frames:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def next(self):
        while True:
            pos = self.buffer.find(EOT)
            if pos >= 0:
                packet, self.buffer = self.buffer[:pos], self.buffer[pos + 1:]
                return parse(packet)
            chunk = self.sock.recv(4096)
            if not chunk:
                return None
            self.buffer += chunk


def dial(args):
    sock = socket.create_connection((args.host, args.port), timeout=10)
    sock.send((args.id + ":" + str(args.listen_port)).encode("utf-8"))
    node_id = sock.recv(4096).decode("utf-8")
    out(event="id", value=node_id)
    sent = [({"type": "greeting", "n": 1, "text": "h\u00e9llo"}, "none"), ("just a string", "none"),
            ({"type": "compressed", "items": list(range(50))}, "zlib"), ([1, 2, 3], "none")]
    frames = Frames(sock)
    for data, compression in sent:
        sock.sendall(frame(data, compression))
        got = frames.next()
        if got is None:
            out(event="error", message="closed early")
            return 1
        message, compressed = got
        out(event="message", data=message, compressed=compressed)
        if message != {"echo": data}:
            out(event="error", message="unexpected echo")
            return 1
    sock.close()
    out(event="closed")
    return 0


def listen(args):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    out(event="listening", port=server.getsockname()[1], id=args.id)
    conn, _ = server.accept()
    conn.settimeout(10)
    line = conn.recv(4096).decode("utf-8")
    node_id, port = line.split(":")
    out(event="id", value=node_id, port=int(port))
    conn.send(args.id.encode("utf-8"))
    frames = Frames(conn)
    count = 0
    while True:
        got = frames.next()
        if got is None:
            break
        message, compressed = got
        count += 1
        out(event="message", data=message, compressed=compressed)
        conn.sendall(frame({"echo": message}, "zlib" if compressed else "none"))
    conn.close()
    out(event="closed", messages=count)
    return 0 if count > 0 else 1


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("dial")
    d.add_argument("host")
    d.add_argument("port", type=int)
    d.add_argument("--id", default="python-dialer")
    d.add_argument("--listen-port", type=int, default=10009)
    l = sub.add_parser("listen")
    l.add_argument("--id", default="python-listener")
    args = parser.parse_args()
    try:
        return dial(args) if args.mode == "dial" else listen(args)
    except Exception as e:  # the test reads the reason from stdout
        out(event="error", message=repr(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
