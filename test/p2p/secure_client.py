#!/usr/bin/env python3
"""A client that produces and checks the message format of python-p2p-network's
SecureNode, written from that format with the standard library and the
``cryptography`` package (Debian ``python3-cryptography``).

Format: to the data are added ``_mcs``, ``_mcr``, ``_id`` and ``_timestamp``
(``time.time()``); ``_message_id`` = SHA-512 hex of
``json.dumps(data, sort_keys=True)``; ``_hash`` = the same over the data with
``_message_id``; ``_signature`` = base64 of the RSA PKCS#1 v1.5 / SHA-512
signature of ``json.dumps(data, sort_keys=True)`` with both; ``_public_key``
= PEM. Sent as ``json.dumps(data, separators=(',', ':'))`` + 0x04.

Usage: secure_client.py dial HOST PORT
  After the id exchange, sends (one JSON line on stdout per step):
    1. a signed message with floats, integers, non-ASCII text and nesting;
    2. a signed ping;
    3. a tampered message (a field changed after signing);
    4. an unsigned message;
    5. a message signed with another key than its _public_key;
    6. a signed {"message": "done"}.
  Every message received is checked and reported as
  {"event": "received", "valid": bool, "data": ...}; it stops after the
  peer has sent a pong and two other messages, then closes.
"""

import base64
import hashlib
import json
import socket
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

EOT = b"\x04"


def out(**fields):
    print(json.dumps(fields), flush=True)


def get_hash(data):
    return hashlib.sha512(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


class Signer:
    def __init__(self, node_id):
        self.id = node_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sent = 0
        self.received = 0

    def public_pem(self):
        return self.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("utf-8")

    def create_message(self, data, sign_with=None):
        for el in ["_id", "_timestamp", "_message_id", "_hash", "_signature", "_public_key"]:
            data.pop(el, None)
        data["_mcs"] = self.sent
        data["_mcr"] = self.received
        data["_id"] = self.id
        data["_timestamp"] = time.time()
        data["_message_id"] = get_hash(data)
        data["_hash"] = get_hash(data)
        key = sign_with or self.key
        signature = key.sign(json.dumps(data, sort_keys=True).encode("utf-8"), padding.PKCS1v15(), hashes.SHA512())
        data["_signature"] = base64.b64encode(signature).decode("utf-8")
        data["_public_key"] = self.public_pem()
        self.sent += 1
        return json.dumps(data, separators=(",", ":"))


def check_message(data):
    signature = data.pop("_signature")
    public_key = data.pop("_public_key")
    try:
        key = serialization.load_pem_public_key(public_key.encode("utf-8"))
        key.verify(base64.b64decode(signature), json.dumps(data, sort_keys=True).encode("utf-8"), padding.PKCS1v15(), hashes.SHA512())
        check_signature = True
    except (InvalidSignature, ValueError):
        check_signature = False
    data_hash = data.pop("_hash")
    check_hash = get_hash(data) == data_hash
    message_id = data.pop("_message_id")
    check_id = get_hash(data) == message_id
    return check_signature and check_hash and check_id


def main():
    host, port = sys.argv[2], int(sys.argv[3])
    sock = socket.create_connection((host, port), timeout=10)
    signer = Signer("python-secure")
    sock.send((signer.id + ":10011").encode("utf-8"))
    out(event="id", value=sock.recv(4096).decode("utf-8"))

    first = {"message": "hello from python", "amount": 1.0, "fee": 0.00001, "big": 1e16, "n": 7, "huge": 2 ** 70,
             "text": "h\u00e9llo \U0001f9c0 \"quoted\" \\ tab\t", "nested": {"b": [1, 2.5, None, True], "a": {"z": -0.0}}}
    sock.sendall(signer.create_message(first).encode("utf-8") + EOT)
    sock.sendall(signer.create_message({"_type": "ping", "timestamp": time.time(), "id": signer.id}).encode("utf-8") + EOT)
    tampered = json.loads(signer.create_message({"message": "pay 1"}))
    tampered["message"] = "pay 1000"
    sock.sendall(json.dumps(tampered).encode("utf-8") + EOT)
    sock.sendall(json.dumps({"message": "unsigned"}).encode("utf-8") + EOT)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sock.sendall(signer.create_message({"message": "wrong key"}, sign_with=other).encode("utf-8") + EOT)
    sock.sendall(signer.create_message({"message": "done"}).encode("utf-8") + EOT)
    out(event="sent", count=6)

    buffer = b""
    pongs = others = 0
    while pongs < 1 or others < 2:
        chunk = sock.recv(65536)
        if not chunk:
            out(event="error", message="closed early")
            return 1
        buffer += chunk
        while EOT in buffer:
            packet, buffer = buffer.split(EOT, 1)
            data = json.loads(packet.decode("utf-8"))
            signer.received += 1
            shown = {k: v for k, v in data.items() if k not in ("_signature", "_public_key")}
            valid = check_message(data)
            out(event="received", valid=valid, data=shown)
            if not valid:
                return 1
            if data.get("_type") == "pong":
                pongs += 1
            else:
                others += 1
    sock.close()
    out(event="closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
