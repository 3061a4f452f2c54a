"""Memory stores, memories and versions through the official `anthropic` package, with strict response validation.

Run by test/api/python-sdk.test.ts with BASE_URL and API_KEY in the environment; prints
what it parsed, one line per check.
"""
import os

import anthropic

client = anthropic.Anthropic(base_url=os.environ["BASE_URL"], api_key=os.environ["API_KEY"], max_retries=0,
                             _strict_response_validation=True)
memory_stores = client.beta.memory_stores
store = memory_stores.create(name="notes")
memory = memory_stores.memories.create(store.id, path="/team/process.md", content="Tuesdays")
print("created", memory.path, memory.content, memory.content_size_bytes)
updated = memory_stores.memories.update(memory.id, memory_store_id=store.id, content="Wednesdays",
                                        precondition={"type": "content_sha256", "content_sha256": memory.content_sha256})
print("retrieved", memory_stores.memories.retrieve(memory.id, memory_store_id=store.id).content)
memory_stores.memories.create(store.id, path="/top.md", content="top")
print("listed", [f"{item.type}:{item.path}" for item in memory_stores.memories.list(store.id, depth=1)])
versions = list(memory_stores.memory_versions.list(store.id, memory_id=memory.id))
print("versions", [v.operation for v in versions], versions[0].id == updated.memory_version_id, versions[0].created_by.type)
try:
    memory_stores.memories.update(memory.id, memory_store_id=store.id, content="x",
                                  precondition={"type": "content_sha256", "content_sha256": "0" * 64})
except anthropic.ConflictError as error:
    print("conflict:", error.body["error"]["type"])
redacted = memory_stores.memory_versions.redact(versions[1].id, memory_store_id=store.id)
print("redacted", redacted.content, redacted.redacted_by.type)
