"""An agent written with the official MCP Python SDK (`mcp` on PyPI), over Streamable HTTP.

Used by test/integration/mcp.test.ts: it lists the tools, creates a cross-thread plan, waits
(pending within the bound), tells the test the run id and waits for the test to approve it as a
person, then waits again (approved); prints one JSON line per step for the test to check.

    python3 test/mcp/python_client.py URL TOKEN
"""

import asyncio
import json
import sys
import time

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
import httpx2

DRAFT = {
    "title": "Weekly report (Python)",
    "objective": "Drafted by a Python agent over MCP.",
    "nodes": [{"id": "collect", "title": "Collect", "executor": {"type": "system", "action": "noop"}}],
}


def say(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


async def main(url, token):
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(90))
    async with streamable_http_client(url, http_client=client) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            say("tools", names=[tool.name for tool in tools.tools])
            created = await session.call_tool(
                "create_plan",
                {"draft": DRAFT, "threadId": "py-1", "sourceThreadId": "py-9", "leadAgentId": "planner"},
            )
            run = created.structured_content
            say("created", isError=bool(created.is_error), runId=run["runId"], status=run["status"], next=run["next"])
            started = time.monotonic()
            waited = await session.call_tool("wait_for_decision", {"runId": run["runId"], "timeoutSeconds": 2})
            say("waited", status=waited.structured_content["status"], seconds=time.monotonic() - started,
                next=waited.structured_content["next"])
            refused = await session.call_tool("create_plan", {"draft": {"title": "x"}, "threadId": "py-1", "leadAgentId": "planner"})
            say("refused", isError=bool(refused.is_error), text=refused.content[0].text)
            sys.stdin.readline()  # the test approves the run as a person, then says so
            decided = await session.call_tool("wait_for_decision", {"runId": run["runId"]})
            say("decided", status=decided.structured_content["status"], decision=decided.structured_content["decision"],
                decidedBy=decided.structured_content["decidedBy"])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
