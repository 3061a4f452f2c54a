"""The README's Python quickstart, driven by the official `anthropic` package.

Run by test/api/python-sdk.test.ts with BASE_URL and API_KEY in the environment;
prints the event types it saw, one per line, then the final message text.
"""
import os

import anthropic

client = anthropic.Anthropic(base_url=os.environ["BASE_URL"], api_key=os.environ["API_KEY"], max_retries=0)
agent = client.beta.agents.create(name="Coding Assistant", model="claude-sonnet-5-5",
                                  tools=[{"type": "agent_toolset_20260401"}])
environment = client.beta.environments.create(name="python", config={"type": "cloud", "networking": {"type": "limited"}})
session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
final_text = ""
with client.beta.sessions.events.stream(session.id) as stream:
    client.beta.sessions.events.send(session.id, events=[
        {"type": "user.message", "content": [{"type": "text", "text": os.environ["TASK"]}]}])
    for event in stream:
        print(event.type)
        if event.type == "agent.message":
            final_text = "".join(block.text for block in event.content if block.type == "text")
        if event.type == "session.status_idle":
            break

listed = [event.id for event in client.beta.sessions.events.list(session.id)]
print("listed", len(listed))
try:
    client.beta.agents.create(name="", model="claude-sonnet-5-5")
except anthropic.BadRequestError as error:
    print("bad request:", error.body["error"]["message"] if isinstance(error.body, dict) else error)
print("final:", final_text)
