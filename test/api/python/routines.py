"""Deployments, their runs and a webhook verified by `webhooks.unwrap`, through the official `anthropic` package.

Run by test/api/python-sdk.test.ts with BASE_URL and API_KEY in the environment. The
client validates every response strictly against the SDK's models; prints what it
parsed, one line per check.
"""
import json
import os
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import anthropic

client = anthropic.Anthropic(base_url=os.environ["BASE_URL"], api_key=os.environ["API_KEY"], max_retries=0,
                             _strict_response_validation=True)

agent = client.beta.agents.create(name="reporter", model="claude-sonnet-5-5")
environment = client.beta.environments.create(name="python-routines")
deployment = client.beta.deployments.create(
    name="Morning report",
    agent=agent.id,
    environment_id=environment.id,
    initial_events=[{"type": "user.message", "content": [{"type": "text", "text": "write the report"}]}],
    schedule={"type": "cron", "expression": "0 8 * * 1-5", "timezone": "Europe/Berlin"},
)
print("deployment", deployment.status, deployment.schedule.expression, len(deployment.schedule.upcoming_runs_at))

try:
    client.beta.deployments.create(name="bad", agent=agent.id, environment_id=environment.id,
                                   initial_events=deployment.initial_events,
                                   schedule={"type": "cron", "expression": "0 8 * * 8", "timezone": "UTC"})
except anthropic.BadRequestError as error:
    print("bad request:", error.body["error"]["message"] if isinstance(error.body, dict) else error)

paused = client.beta.deployments.pause(deployment.id)
print("paused", paused.status, paused.paused_reason.type, len(paused.schedule.upcoming_runs_at))

# A receiver for the run's session webhook, verified by the SDK.
received: "queue.Queue[tuple[str, dict]]" = queue.Queue()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        received.put((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
endpoint = client.post("/v1/webhook_endpoints", cast_to=object,
                       body={"url": f"http://127.0.0.1:{server.server_port}/", "event_types": ["session.created"]})

run = client.beta.deployments.run(deployment.id)
print("run", run.trigger_context.type, run.error, run.session_id == client.beta.deployment_runs.retrieve(run.id).session_id)
print("runs", [r.id for r in client.beta.deployment_runs.list(deployment_id=deployment.id, trigger_type="manual")] == [run.id])

body, headers = received.get(timeout=30)
event = client.beta.webhooks.unwrap(body, headers=headers, key=endpoint["secret"])
print("webhook", event.type, event.data.type, event.data.id == run.session_id)
server.shutdown()
