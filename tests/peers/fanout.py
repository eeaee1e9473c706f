"""Python websockets as the deflate peer of the hub's prepared-message test.

    python3 fanout.py ws://127.0.0.1:PORT/PATH

Offers permessage-deflate (context takeover on both sides unless the server
answers otherwise), echoes every message it receives, and reports the
negotiated extension and the close code: {"step": ..., "ok": ..., "detail": ...}
lines, then {"done": true}.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def report(**fields):
    print(json.dumps(fields), flush=True)


async def main(url):
    async with connect(url, compression="deflate", max_size=1 << 24) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        report(step="deflate", ok=ext.startswith("permessage-deflate"), detail=ext)
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:
            pass
        code = ws.close_code
        report(step="closed", ok=code == 1000, detail=f"{code} {ws.close_reason}")
    report(done=True)


asyncio.run(main(sys.argv[1]))
