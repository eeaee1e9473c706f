"""Python `websockets` as an interop peer for websocket-protocol's tests.

    python3 peer.py client ws://127.0.0.1:PORT [--deflate]   # the client scenario
    python3 peer.py server [--deflate]                       # the server scenario

With --deflate, permessage-deflate is offered (client) or accepted (server), and
the client reports the negotiated extension as the step "deflate".

Both print one JSON object per line: the server first prints {"listening": PORT};
every check prints {"step": NAME, "ok": BOOL, "detail": ...}; the client ends with
{"done": true}. The scenario is described in tests/peers/README.md.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

SIZES = [0, 125, 126, 65535, 65536, 1 << 20, 16 << 20]
MAX = 64 << 20


def report(**fields):
    print(json.dumps(fields), flush=True)


def text_of(n):
    return ("abcdefghijklmnopqrstuvwxyz0123456789" * (n // 36 + 1))[:n]


def binary_of(n):
    return bytes(i % 251 for i in range(n)) if n < 4096 else (bytes(range(251)) * (n // 251 + 1))[:n]


DEFLATE = "--deflate" in sys.argv
COMPRESSION = "deflate" if DEFLATE else None


async def client(url):
    base = url.rstrip("/")
    async with connect(base + "/echo", subprotocols=["chat", "superchat"], max_size=MAX,
                       compression=COMPRESSION) as ws:
        report(step="subprotocol", ok=ws.subprotocol == "superchat", detail=ws.subprotocol)
        if DEFLATE:
            ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            report(step="deflate", ok=ext.startswith("permessage-deflate"), detail=ext)
        for n in SIZES:
            for kind, payload in (("text", text_of(n)), ("binary", binary_of(n))):
                await ws.send(payload)
                echoed = await ws.recv()
                report(step=f"echo-{kind}-{n}", ok=echoed == payload, detail=len(echoed))
        await ws.send(["frag", "ment", "ed"])
        echoed = await ws.recv()
        report(step="fragmented-by-client", ok=echoed == "fragmented", detail=echoed)
        waiter = await ws.ping(b"cli")
        await asyncio.wait_for(waiter, 5)
        report(step="ping-by-client", ok=True, detail="pong")
        await ws.send("ping-me")
        report(step="ping-by-server", ok=(await ws.recv()) == "pinged", detail="")
        await ws.send("fragment-me")
        echoed = await ws.recv()
        report(step="fragmented-by-server", ok=echoed == "fragmented", detail=echoed)
        await ws.close(4001, "client bye")
        report(step="close-by-client", ok=ws.close_code == 4001,
               detail=[ws.close_code, ws.close_reason])
    async with connect(base + "/echo", max_size=MAX, compression=COMPRESSION) as ws:
        await ws.send("close-me")
        try:
            await ws.recv()
            report(step="close-by-server", ok=False, detail="no close")
        except ConnectionClosed as e:
            report(step="close-by-server", ok=e.rcvd is not None and e.rcvd.code == 4002
                   and e.rcvd.reason == "server bye", detail=[e.rcvd and e.rcvd.code, e.rcvd and e.rcvd.reason])
    try:
        async with connect(base + "/refuse", compression=COMPRESSION):
            report(step="refused", ok=False, detail="connected")
    except InvalidStatus as e:
        report(step="refused", ok=e.response.status_code == 403, detail=e.response.status_code)
    report(done=True)


async def handler(ws):
    try:
        async for message in ws:
            if message == "close-me":
                await ws.close(4002, "server bye")
            elif message == "ping-me":
                waiter = await ws.ping(b"srv")
                await asyncio.wait_for(waiter, 5)
                await ws.send("pinged")
            elif message == "fragment-me":
                await ws.send(["frag", "ment", "ed"])
            else:
                await ws.send(message)
    except ConnectionClosed:
        pass
    report(event="closed", code=ws.close_code, reason=ws.close_reason)


def select_subprotocol(connection, offered):
    # Like ours: no match (or no offer) means no subprotocol, not a refusal.
    return "superchat" if "superchat" in offered else None


def refuse(connection, request):
    if request.path == "/refuse":
        return connection.respond(403, "refused by the peer\n")
    return None


async def server():
    async with serve(handler, "127.0.0.1", 0, select_subprotocol=select_subprotocol, max_size=MAX,
                     compression=COMPRESSION, process_request=refuse) as srv:
        port = srv.sockets[0].getsockname()[1]
        report(listening=port)
        await asyncio.Future()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2]))
    else:
        asyncio.run(server())
