"""Skills and their versions through the official `anthropic` package, with strict response validation.

Run by test/api/python-sdk.test.ts with BASE_URL and API_KEY in the environment; prints
what it parsed, one line per check.
"""
import io
import os
import zipfile

import anthropic

client = anthropic.Anthropic(base_url=os.environ["BASE_URL"], api_key=os.environ["API_KEY"], max_retries=0,
                             _strict_response_validation=True)
skill_md = b"---\nname: py-tool\ndescription: Made from Python.\n---\nRun run.py.\n"
script = b"print('hello from py-tool')\n"
files = [("py-tool/SKILL.md", skill_md), ("py-tool/scripts/run.py", script)]
skill = client.beta.skills.create(files=files, display_name="Python tool")
print("created", skill.type, skill.display_name, skill.source.type, skill.id.startswith("skill_"))
version = client.beta.skills.versions.retrieve("latest", skill_id=skill.id)
print("version", version.name, version.description, version.id == skill.latest_version_id)
print("listed", [s.id for s in client.beta.skills.list(source="custom")].count(skill.id))
second = client.beta.skills.versions.create(skill.id, files=files)
print("versions", [v.id for v in client.beta.skills.versions.list(skill.id)] == [second.id, version.id])
archive = zipfile.ZipFile(io.BytesIO(client.beta.skills.versions.download(second.id, skill_id=skill.id).read()))
print("archive", sorted(archive.namelist()), archive.read("py-tool/SKILL.md") == skill_md)
try:
    client.beta.skills.create(files=[("py-tool/README.md", b"no SKILL.md")])
except anthropic.BadRequestError as error:
    print("bad request:", error.body["error"]["message"])
print("deleted", client.beta.skills.versions.delete(version.id, skill_id=skill.id).type, client.beta.skills.delete(skill.id).type)
