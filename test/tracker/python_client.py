#!/usr/bin/env python3
"""A cheesechain tracker client written the way document 001's samples are.

Standard library only. Usage:

    python_client.py TRACKER_HOST TRACKER_PORT PEER_HOST PEER_PORT

Connects, reads the greeting, sends JOIN_CHAIN:PEER_HOST:PEER_PORT exactly as
the document does (``s.send(request_message.encode())``, no line end), reads
the PID, asks GET_PEERS:PID, then asks GET_PEERS for an unknown PID with a
CRLF, and prints one JSON object with what it saw.
"""
import json
import socket
import sys

TRACKER_HOST = sys.argv[1]
TRACKER_PORT = int(sys.argv[2])
PEER_HOST = sys.argv[3]
PEER_PORT = int(sys.argv[4])


def recv_line(s):
    """Reads up to the LF that ends every tracker response (a CPSS list may span several recv calls)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode()


# CONNECT TO TRACKER
s = socket.create_connection((TRACKER_HOST, TRACKER_PORT))
s.settimeout(10)
greeting = s.recv(1024).decode()

# REQUEST TO JOIN CHAIN (no line end, as in the document)
request_message = "JOIN_CHAIN:" + PEER_HOST + ":" + str(PEER_PORT)
s.send(request_message.encode())
peer_id = s.recv(1024).decode().strip()

# REQUEST LIST OF PEERS IN THE CHAIN
request_message = "GET_PEERS:" + peer_id
s.send(request_message.encode())
response = recv_line(s).strip()
assert response.startswith("CPSS"), response
peers = json.loads(response[len("CPSS"):])

# An unknown peer id, this time with CRLF
s.send(b"GET_PEERS:PIDnobody\r\n")
error = recv_line(s).strip()
s.close()

print(json.dumps({
    "greeting": greeting,
    "peer_id": peer_id,
    "peers": peers,
    "error": error,
}))
