"""The chat room of chat.ts, written with python-p2p-network 1.2 (`pip install p2pnetwork`).

    python3 examples/chat/chat.py NAME PORT [HOST:PORT ...]

Listens on 127.0.0.1:PORT under the node id NAME, connects with every
HOST:PORT given (a chat.ts or another chat.py), sends each line typed as
{"chat": line, "from": NAME} to every connected node and prints what arrives.
/peers lists the connected nodes, /quit (or end of input) leaves.
"""
import sys

from p2pnetwork.node import Node


class ChatNode(Node):
    def outbound_node_connected(self, node):
        print(f"* connected to {node.id} ({node.host}:{node.port})", flush=True)

    def inbound_node_connected(self, node):
        print(f"* {node.id} joined ({node.host}:{node.port})", flush=True)

    def inbound_node_disconnected(self, node):
        print(f"* {node.id} left", flush=True)

    def outbound_node_disconnected(self, node):
        print(f"* {node.id} left", flush=True)

    def node_message(self, node, data):
        if isinstance(data, dict) and isinstance(data.get("chat"), str) and isinstance(data.get("from"), str):
            print(f"{data['from']}: {data['chat']}", flush=True)
        else:
            print(f"* {node.id} sent something that is not a chat line: {data!r}", flush=True)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    name, port = sys.argv[1], int(sys.argv[2])
    node = ChatNode("127.0.0.1", port, id=name, max_connections=0)
    node.start()
    print(f"* {name} listening on 127.0.0.1:{port}", flush=True)
    for peer in sys.argv[3:]:
        host, _, p = peer.rpartition(":")
        node.connect_with_node(host, int(p))
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        if line == "/quit":
            break
        if line == "/peers":
            print("* " + (", ".join(n.id for n in node.all_nodes) or "nobody"), flush=True)
            continue
        node.send_to_nodes({"chat": line, "from": name})
    node.stop()
    node.join()
    print("* bye", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
