"""Agents with `multiagent` and a session on one, through the official `anthropic` package.

Run by test/api/python-sdk.test.ts with BASE_URL and API_KEY in the environment. The
client validates every response strictly against the SDK's models, so a field the
models do not accept fails here; prints what it parsed, one line per check.
"""
import os

import anthropic
from anthropic.types.beta import BetaManagedAgentsMultiagent20261001, BetaManagedAgentsMultiagentCoordinator

client = anthropic.Anthropic(base_url=os.environ["BASE_URL"], api_key=os.environ["API_KEY"], max_retries=0,
                             _strict_response_validation=True)
tools = [{"type": "agent_toolset_20260401"}]
specialist = client.beta.agents.create(name="specialist", model="claude-haiku-5-5", tools=tools)
coordinator = client.beta.agents.create(name="coordinator", model="claude-sonnet-5-5", tools=tools,
                                        multiagent={"type": "coordinator", "agents": [specialist.id, {"type": "self"}]})
assert isinstance(coordinator.multiagent, BetaManagedAgentsMultiagentCoordinator), coordinator.multiagent
print("coordinator", ",".join(f"{entry.id}@{entry.version}" for entry in coordinator.multiagent.agents))

subagents = client.beta.agents.create(name="subagents", model="claude-sonnet-5-5", tools=tools,
                                      multiagent={"type": "multiagent_20261001",
                                                  "subagents": {"type": "enabled", "predefined_agents": [specialist.id]}})
assert isinstance(subagents.multiagent, BetaManagedAgentsMultiagent20261001), subagents.multiagent
print("multiagent_20261001", subagents.multiagent.subagents.type, subagents.multiagent.workflows.type,
      subagents.multiagent.advisor.type)

environment = client.beta.environments.create(name="python-multiagent")
session = client.beta.sessions.create(agent=coordinator.id, environment_id=environment.id)
print("session", session.agent.multiagent.type, ",".join(member.name for member in session.agent.multiagent.agents))

threads = list(client.beta.sessions.threads.list(session.id))
primary = client.beta.sessions.threads.retrieve(threads[0].id, session_id=session.id)
events = list(client.beta.sessions.threads.events.list(primary.id, session_id=session.id))
print("threads", len(threads), primary.type, primary.parent_thread_id, primary.status, primary.agent.name, len(events))
