#!/usr/bin/env python3
"""The whole flow of the cheesechain protocol document (seed 001), as a peer
written from that document alone would run it. Standard library only.

    python3 examples/seed001/seed001_flow.py [TRACKER_HOST] [TRACKER_PORT] [--stay SECONDS] [--subscribe N] [--json]

1. Listens on a port of its own and answers as a seed-001 peer: the greeting
   "Connection to peer [PID]", then CHAIN[] to GET_CHAIN (it has no cheese).
   This is what keeps it a tracker member: the tracker checks members by
   connecting to them.
2. Connects to the tracker: "Connection Successful", JOIN_CHAIN:HOST:PORT -> PID,
   GET_PEERS:PID -> CPSS[...].
3. Connects to each peer: "Connection to peer [PID]", GET_CHAIN:PID ->
   CHAIN[...], GET_OPEN_TRANSACTIONS:PID -> TR[...]; with --subscribe N,
   SUBSCRIBE_CHEESES:PID and the next N cheeses as they are connected.
4. With --stay S, waits S seconds (several liveness rounds of the tracker)
   and asks GET_PEERS again: still a member.

Every request is sent as the document does (s.send(request.encode()), no
line end); every reply is one line ended by "\\n" (docs/seed001.md).
With --json it prints one JSON object per step (what the tests read).
"""
import json
import socket
import sys
import threading
import time

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
TRACKER_HOST = ARGS[0] if len(ARGS) > 0 else "localhost"
TRACKER_PORT = int(ARGS[1]) if len(ARGS) > 1 else 9999
STAY = float(sys.argv[sys.argv.index("--stay") + 1]) if "--stay" in sys.argv else 0.0
SUBSCRIBE = int(sys.argv[sys.argv.index("--subscribe") + 1]) if "--subscribe" in sys.argv else 0
AS_JSON = "--json" in sys.argv
PEER_HOST = "127.0.0.1"


def report(event, **fields):
    if AS_JSON:
        print(json.dumps(dict(event=event, **fields)), flush=True)
    else:
        print(event, json.dumps(fields)[:300], flush=True)


def recv_line(s):
    """Reads one reply: everything up to the "\\n" that ends it (a CHAIN may span many recv calls)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


def ask(s, request):
    s.send(request.encode())
    return recv_line(s)


# 1. Our own peer side: the greeting, and CHAIN[] for GET_CHAIN.
my_pid = None
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind((PEER_HOST, 0))
server.listen(16)
PEER_PORT = server.getsockname()[1]


def serve(conn):
    with conn:
        conn.send(("Connection to peer [%s]\n" % my_pid).encode())
        conn.settimeout(5)
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                if data.startswith(b"GET_CHAIN:"):
                    conn.send(b"CHAIN[]\n")
                elif data.startswith(b"GET_OPEN_TRANSACTIONS:"):
                    conn.send(b"TR[]\n")
        except OSError:
            return


def accept_loop():
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


threading.Thread(target=accept_loop, daemon=True).start()

# 2. The tracker.
s = socket.create_connection((TRACKER_HOST, TRACKER_PORT))
report("tracker", greeting=recv_line(s))
my_pid = ask(s, "JOIN_CHAIN:%s:%d" % (PEER_HOST, PEER_PORT))
report("joined", pid=my_pid, port=PEER_PORT)
reply = ask(s, "GET_PEERS:" + my_pid)
peers = json.loads(reply[len("CPSS"):])
report("peers", peers=peers)

# 3. Each peer.
for peer in peers:
    if peer["peer_id"] == my_pid:
        continue
    p = socket.create_connection((peer["host"], int(peer["port"])))
    greeting = recv_line(p)
    chain_reply = ask(p, "GET_CHAIN:" + my_pid)
    open_reply = ask(p, "GET_OPEN_TRANSACTIONS:" + my_pid)
    report("peer", peer_id=peer["peer_id"], greeting=greeting,
           chain=json.loads(chain_reply[len("CHAIN"):]), open_transactions=json.loads(open_reply[len("TR"):]))
    if SUBSCRIBE:
        report("subscribed", reply=ask(p, "SUBSCRIBE_CHEESES:" + my_pid))
        for _ in range(SUBSCRIBE):
            line = recv_line(p)
            report("cheese", cheese=json.loads(line[len("CHEESE"):]))
    p.close()

# 4. Still a member after the tracker's liveness rounds.
if STAY:
    time.sleep(STAY)
    reply = ask(s, "GET_PEERS:" + my_pid)
    report("still_member", ok=reply.startswith("CPSS"), reply=reply[:200])
s.close()
