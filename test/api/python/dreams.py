"""Memory store resources and dreams through the official `anthropic` package, with strict response validation.

Run by test/api/python-sdk.test.ts with BASE_URL and API_KEY in the environment; prints
what it parsed, one line per check.
"""
import os
import time

import anthropic

client = anthropic.Anthropic(base_url=os.environ["BASE_URL"], api_key=os.environ["API_KEY"], max_retries=0,
                             _strict_response_validation=True)
beta = client.beta
store = beta.memory_stores.create(name="Team Notes", description="what we learned")
agent = beta.agents.create(name="worker", model="claude-sonnet-4-5", tools=[{"type": "agent_toolset_20260401"}])
environment = beta.environments.create(name="python-dreams")
session = beta.sessions.create(agent=agent.id, environment_id=environment.id,
                               resources=[{"type": "memory_store", "memory_store_id": store.id, "access": "read_only",
                                           "instructions": "Read it first."}])
resource = session.resources[0]
print("resource", resource.type, resource.mount_path, resource.access, resource.name, resource.instructions)
print("filtered", [s.id for s in beta.sessions.list(memory_store_id=store.id)] == [session.id])
beta.sessions.events.send(session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": "look around"}]}])
while beta.sessions.retrieve(session.id).status != "idle" or not any(e.type == "agent.message" for e in beta.sessions.events.list(session.id)):
    time.sleep(0.2)

dream = beta.dreams.create(inputs=[{"type": "memory_store", "memory_store_id": store.id},
                                   {"type": "sessions", "session_ids": [session.id]}],
                           model="claude-sonnet-4-5", instructions="Keep it short.")
print("created", dream.status, dream.model.id, dream.model.speed, dream.output_behavior.type, dream.outputs)
while dream.status in ("pending", "running"):
    time.sleep(0.3)
    dream = beta.dreams.retrieve(dream.id)
print("ended", dream.status, len(dream.outputs), dream.session_id is not None, dream.usage.output_tokens > 0)
print("listed", dream.id in [d.id for d in beta.dreams.list(statuses=["completed"])])
try:
    beta.dreams.cancel(dream.id)
except anthropic.BadRequestError as error:
    print("cancel refused:", error.body["error"]["type"])
print("archived", beta.dreams.archive(dream.id).archived_at is not None)
