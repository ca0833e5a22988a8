#!/usr/bin/env python3
"""A Senz client written from the description of seed document 000 (issue text
and docs/senz.md), with the Python standard library and `cryptography` only.

    python3 senz_client.py HOST PORT

runs a scenario against a cheesechain switch (name `mysensors`) and prints one
JSON object per checked step: {"step": name, "ok": bool, "detail": str}. The
exit code is 0 when every step is ok.

Messages: `CMD #attr [value] ... @receiver #time T ^sender SIGNATURE`; the
signature is base64 of RSA PKCS#1 v1.5 over SHA-256 (or ed25519) of the
message with all whitespace removed, up to and including ^sender.
"""
import base64
import json
import socket
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

SWITCH = "mysensors"
TIMEOUT = 5.0
results = []


def check(step, ok, detail=""):
    results.append({"step": step, "ok": bool(ok), "detail": str(detail)[:300]})
    print(json.dumps(results[-1]), flush=True)


def parse(text):
    """Document 000's grammar: returns dict(cmd, attrs, receivers, sender, sig, signed)."""
    tokens = text.split()
    out = {"cmd": tokens[0], "attrs": {}, "receivers": [], "sender": None, "sig": None}
    i = 1
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("^"):
            out["sender"] = tok[1:]
            out["sig"] = tokens[i + 1] if i + 1 < len(tokens) else None
            out["signed"] = "".join(tokens[: i + 1])
            break
        if tok.startswith("@"):
            out["receivers"].append(tok[1:])
        elif tok[0] in "#$":
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is not None and nxt[0] not in "#$@^":
                out["attrs"][tok[1:]] = nxt
                i += 1
            else:
                out["attrs"][tok[1:]] = None
        i += 1
    return out


def load_public(b64pem):
    return serialization.load_pem_public_key(base64.b64decode(b64pem))


def verify(public_key, signed_text, sig_b64):
    sig = base64.b64decode(sig_b64)
    data = signed_text.encode("ascii")
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(sig, data)
        else:
            public_key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


class User:
    def __init__(self, name, key, addr):
        self.name = name
        self.key = key
        self.addr = addr
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(TIMEOUT)
        self.switch_key = None
        self.last = 0.0

    def pubkey_b64(self):
        pem = self.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(pem).decode("ascii")

    def sign(self, text):
        data = "".join(text.split()).encode("ascii")
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            sig = self.key.sign(data)
        else:
            sig = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(sig).decode("ascii")

    def seal(self, body, t=None):
        if t is None:
            t = max(time.time(), self.last + 0.001)
            self.last = t
        text = "%s #time %.3f ^%s" % (body, t, self.name)
        return "%s %s" % (text, self.sign(text))

    def send_raw(self, datagram):
        self.sock.sendto(datagram.encode("ascii"), self.addr)

    def send(self, body, t=None):
        d = self.seal(body, t)
        self.send_raw(d)
        return d

    def recv(self):
        """Next message that is not a PING; None on timeout."""
        while True:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            text = data.decode("ascii")
            if text != "PING":
                return text

    def recv_from_switch(self):
        text = self.recv()
        if text is None:
            return None, False
        m = parse(text)
        ok = m["sender"] == SWITCH and self.switch_key is not None and verify(self.switch_key, m["signed"], m["sig"])
        return m, ok


def main():
    addr = (sys.argv[1], int(sys.argv[2]))
    alice = User("alice", rsa.generate_private_key(public_exponent=65537, key_size=1024), addr)
    bob = User("bob", rsa.generate_private_key(public_exponent=65537, key_size=2048), addr)
    carol = User("carol", ed25519.Ed25519PrivateKey.generate(), addr)

    # Registration: SHARE #pubkey <base64 PEM> #time t @mysensors ^name sig
    for u in (alice, bob, carol):
        u.send("SHARE #pubkey %s @%s" % (u.pubkey_b64(), SWITCH))
        text = u.recv()
        m = parse(text) if text else None
        ok = m is not None and m["attrs"].get("msg") == "REGISTRATION_DONE" and "pubkey" in m["attrs"]
        if ok:
            u.switch_key = load_public(m["attrs"]["pubkey"])
            ok = m["sender"] == SWITCH and verify(u.switch_key, m["signed"], m["sig"])
        check("register %s: signed REGISTRATION_DONE" % u.name, ok, text)

    alice.send("SHARE #pubkey %s @%s" % (alice.pubkey_b64(), SWITCH))
    m, signed = alice.recv_from_switch()
    check("register twice: ALREADY_REGISTERED", signed and m["attrs"].get("msg") == "ALREADY_REGISTERED", m)

    # Someone else's key under alice's name.
    mallory = User("alice", rsa.generate_private_key(public_exponent=65537, key_size=1024), addr)
    mallory.switch_key = alice.switch_key
    mallory.send("SHARE #pubkey %s @%s" % (mallory.pubkey_b64(), SWITCH))
    m, signed = mallory.recv_from_switch()
    check("a taken name: REGISTRATION_FAIL", signed and m["attrs"].get("msg") == "REGISTRATION_FAIL", m)

    # A bad signature: alice's message signed by mallory's key.
    text = "DATA #msg hello #time %.3f @bob ^alice" % time.time()
    alice.send_raw("%s %s" % (text, mallory.sign(text)))
    m, signed = alice.recv_from_switch()
    check("bad signature: SignatureVerificationFailed", signed and m["attrs"].get("msg") == "SignatureVerificationFailed", m)

    # SHARE is recorded and forwarded; bob checks alice's signature with her key from GET #pubkey.
    shared = alice.send("SHARE #lat #lon @bob")
    got = bob.recv()
    bob.send("GET #pubkey @alice")
    m, signed = bob.recv_from_switch()
    alice_key = load_public(m["attrs"]["pubkey"]) if m and m["attrs"].get("pubkey") else None
    g = parse(got) if got else None
    check("GET #pubkey answered by the switch", signed and m["attrs"].get("name") == "alice" and alice_key is not None, m)
    check("SHARE forwarded unchanged, alice's signature verifies", got == shared and alice_key is not None and verify(alice_key, g["signed"], g["sig"]), got)

    # The same datagram again is dropped: bob's next message is the fresh DATA.
    alice.send_raw(shared)
    fresh = alice.send("DATA #lat 6.9271 #lon 79.8612 @bob")
    got = bob.recv()
    check("replayed SHARE dropped, fresh DATA forwarded", got == fresh, got)

    # PUT of a shared attribute is forwarded; of an unshared one refused.
    put = bob.send("PUT #lat 7.0 @alice")
    got = alice.recv()
    check("PUT of a shared attribute forwarded", got == put, got)
    bob.send("PUT #gpio10 ON @alice")
    m, signed = bob.recv_from_switch()
    check("PUT of an unshared attribute: NotShared", signed and m["attrs"].get("msg") == "NotShared" and m["attrs"].get("name") == "alice", m)

    # Unknown receiver.
    alice.send("DATA #msg hi @nobody")
    m, signed = alice.recv_from_switch()
    check("unknown receiver: UnknownReceiver", signed and m["attrs"].get("msg") == "UnknownReceiver" and m["attrs"].get("name") == "nobody", m)

    # Malformed grammar: a typed reason each time.
    for datagram, reason in [
        ("HELLO world", "unknown-command"),
        ("SHARE #lat @bob ^alice", "no-signature"),
        ("SHARE #lat @bob", "no-sender"),
        ("SHARE #lat @bob ^alice c2ln #extra", "trailing-tokens"),
        ("SHARE #lat #lat @bob ^alice c2ln", "duplicate-attribute"),
    ]:
        alice.send_raw(datagram)
        m, signed = alice.recv_from_switch()
        check("malformed %r: MalformedSenz %s" % (datagram, reason), signed and m["attrs"].get("msg") == "MalformedSenz" and m["attrs"].get("reason") == reason, m)

    # An attribute right before ^sender has no value (the original parser raised IndexError here).
    text = "SHARE @alice #time %.3f #lat ^carol" % time.time()
    last = "%s %s" % (text, carol.sign(text))
    carol.send_raw(last)
    got = alice.recv()
    check("trailing attribute without value: forwarded", got == last, got)

    # #time outside the window.
    alice.send("DATA #msg late @bob", t=time.time() - 3600)
    m, signed = alice.recv_from_switch()
    check("old #time: BadTime out-of-window", signed and m["attrs"].get("msg") == "BadTime" and m["attrs"].get("reason") == "out-of-window", m)

    # UNSHARE #pubkey @mysensors removes the user.
    bob.send("UNSHARE #pubkey @%s" % SWITCH)
    m, signed = bob.recv_from_switch()
    check("UNSHARE #pubkey: UserRemoved", signed and m["attrs"].get("msg") == "UserRemoved", m)
    bob.send("UNSHARE #pubkey @%s" % SWITCH)
    m, signed = bob.recv_from_switch()
    check("UNSHARE #pubkey again: UserCannotRemoved", signed and m["attrs"].get("msg") == "UserCannotRemoved", m)

    # The switch keeps serving.
    alice.send("GET #pubkey @carol")
    m, signed = alice.recv_from_switch()
    check("switch still serving", signed and m["attrs"].get("name") == "carol" and m["attrs"].get("pubkey") == carol.pubkey_b64(), m)

    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
