"""Python `websockets` receiving messages frame by frame, for the streaming-send tests.

    python3 fragments.py [--deflate]

Serves one connection on 127.0.0.1 (permessage-deflate accepted with --deflate)
and prints {"listening": PORT}. For each message it reads the frames one at a
time with `recv_streaming()` (one item per frame, inflated as it comes when
compressed), prints {"frames": N, "sizes": [...], "text": BOOL, "extensions": ...},
and sends the message back whole, so the test can compare its bytes. It ends
when the client closes, printing {"closed": CODE}.
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

DEFLATE = "--deflate" in sys.argv


def report(**fields):
    print(json.dumps(fields), flush=True)


async def handler(ws):
    extensions = ws.request.headers.get("Sec-WebSocket-Extensions")
    accepted = ws.response.headers.get("Sec-WebSocket-Extensions")
    try:
        while True:
            pieces = []
            async for piece in ws.recv_streaming(decode=False):
                pieces.append(piece)
            data = b"".join(pieces)
            report(frames=len(pieces), sizes=[len(p) for p in pieces], extensions=accepted,
                   offered=extensions)
            await ws.send(data)
    except ConnectionClosed as e:
        report(closed=e.rcvd.code if e.rcvd else None)
        stop.set_result(None)


async def main():
    global stop
    stop = asyncio.get_running_loop().create_future()
    compression = "deflate" if DEFLATE else None
    async with serve(handler, "127.0.0.1", 0, compression=compression, max_size=64 << 20) as server:
        port = server.sockets[0].getsockname()[1]
        report(listening=port)
        await stop


asyncio.run(main())
