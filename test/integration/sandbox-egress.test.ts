/**
 * The egress proxy on real Docker: a `limited` sandbox has no interface but
 * loopback, reaches only its allowed hosts through the worker's proxy, and sees
 * secrets only as placeholders that the proxy replaces toward the secret's hosts.
 *
 * The servers run on this machine's loopback; the proxy (in this process) reaches
 * them by name through `resolveEgressHost`, which maps the test's example.com names
 * to 127.0.0.1 the way /etc/hosts would.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DockerSandbox } from '../../sandbox/docker-sandbox.ts';
import { InterceptionCa } from '../../sandbox/egress/interception-ca.ts';
import { ExecutorClient } from '../../sandbox/executor-client.ts';
import type { SandboxSpec, ToolOutcome } from '../../sandbox/types.ts';
import { createSandboxFixture, exec, type SandboxFixture, text, toolUseId } from './sandbox-fixture.ts';

type Seen = { path: string; headers: IncomingHttpHeaders; body: string };

// Stands in for the public CA of real https servers: the proxy trusts it for
// destinations, the sandbox does not.
const upstreamCa = InterceptionCa.create();

/** An HTTP (or, with `tls`, HTTPS for any of NAMES) server that records what reached it. */
async function recordingServer(name: string, { tls = false } = {}): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      res.end(`${name} says hi\n`);
    });
  };
  const server = tls
    ? createHttpsServer({ SNICallback: (host, done) => done(null, upstreamCa.contextFor(host)) }, handler)
    : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

const NAMES = ['api.example.com', 'plain.example.com', 'other.example.com', 'deep.wild.example.com'];
const secretValue = `sk-test-${randomBytes(12).toString('hex')}`;
const debugLogs: string[] = [];

let fixture: SandboxFixture;
let api: Awaited<ReturnType<typeof recordingServer>>;
let plain: Awaited<ReturnType<typeof recordingServer>>;
let other: Awaited<ReturnType<typeof recordingServer>>;
let secure: Awaited<ReturnType<typeof recordingServer>>;
let limited: DockerSandbox;
let limitedSpec: SandboxSpec;

before(async () => {
  [api, plain, other, secure] = await Promise.all([
    recordingServer('api'),
    recordingServer('plain'),
    recordingServer('other'),
    recordingServer('secure', { tls: true }),
  ]);
  fixture = await createSandboxFixture({
    egressUpstreamCa: [upstreamCa.certificatePem],
    resolveEgressHost: async (host) => {
      if (NAMES.includes(host)) return ['127.0.0.1'];
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    },
    logger: {
      debug: (message, meta) => debugLogs.push(`${message} ${JSON.stringify(meta)}`),
      info: () => undefined,
    },
  });
  limitedSpec = fixture.spec(fixture.newSessionId('egress'), {
    networking: { type: 'limited', allowed_hosts: ['https://api.example.com/v1', 'plain.example.com', '*.wild.example.com'] },
    egress: { secrets: [{ name: 'API_TOKEN', value: secretValue, hosts: ['api.example.com'], header: true, body: true }] },
  });
  limited = await fixture.driver.ensure(limitedSpec);
});

after(async () => {
  await fixture?.[Symbol.asyncDispose]();
  for (const s of [api, plain, other, secure]) s?.server.close();
});

function bash(sandbox: DockerSandbox, command: string): Promise<ToolOutcome> {
  return sandbox.runTool({ toolUseId: toolUseId(), name: 'bash', input: { command, timeout_ms: 30_000 } });
}

test('a limited sandbox reaches its allowed hosts through the proxy and gets a clear 403 for others', async () => {
  const allowed = await bash(limited, `curl -sS http://plain.example.com:${plain.port}/hello`);
  assert.equal(text(allowed), 'plain says hi\n');
  assert.equal(plain.seen.at(-1)?.path, '/hello');

  const py = await bash(limited, `python3 -c "import urllib.request as u; print(u.urlopen('http://api.example.com:${api.port}/py').read().decode(), end='')"`);
  assert.equal(text(py), 'api says hi\n');

  const refused = await bash(limited, `curl -sS -w '%{http_code}' http://other.example.com:${other.port}/`);
  assert.match(text(refused), /refused the request: other\.example\.com:\d+ is not in this environment's allowed_hosts\n403$/);
  assert.equal(other.seen.length, 0);
  assert.ok(debugLogs.some((l) => l.startsWith('egress denied') && l.includes('other.example.com')));
  assert.ok(debugLogs.some((l) => l.startsWith('egress allowed') && l.includes('plain.example.com')));
});

test('CONNECT tunnels (https and the like) are allowed and refused by host, too', async () => {
  // --proxytunnel makes curl use CONNECT even for http, so a plain server can stand in for TLS.
  const tunnel = await bash(limited, `curl -sS --proxytunnel http://plain.example.com:${plain.port}/tunnel`);
  assert.equal(text(tunnel), 'plain says hi\n');
  const refused = await bash(limited, `curl -sS --proxytunnel http://other.example.com:${other.port}/tunnel`);
  assert.equal(refused.is_error, true);
  assert.match(text(refused), /CONNECT tunnel failed, response 403/);
  assert.equal(other.seen.length, 0);
});

test('a wildcard entry does not open internal addresses: only hosts named exactly may resolve to one', async () => {
  const wild = await bash(limited, `curl -sS -w '%{http_code}' http://deep.wild.example.com:${plain.port}/`);
  assert.match(text(wild), /deep\.wild\.example\.com resolves to the internal address 127\.0\.0\.1; name the host exactly.*\n403$/s);
});

test('the secret placeholder is replaced in plain-HTTP headers and body toward its host only', async () => {
  const placeholder = text(await bash(limited, 'printf %s "$API_TOKEN"'));
  assert.match(placeholder, /^longhaul_secret_placeholder_[0-9a-f]{32}$/);

  await bash(limited, `curl -sS -H "Authorization: Bearer $API_TOKEN" -d "token=$API_TOKEN&x=1" http://api.example.com:${api.port}/call`);
  const call = api.seen.find((s) => s.path === '/call');
  assert.equal(call?.headers.authorization, `Bearer ${secretValue}`);
  assert.equal(call?.body, `token=${secretValue}&x=1`);

  // Toward another allowed host the placeholder stays what it is.
  await bash(limited, `curl -sS -H "Authorization: Bearer $API_TOKEN" -d "token=$API_TOKEN" http://plain.example.com:${plain.port}/leak`);
  const leak = plain.seen.find((s) => s.path === '/leak');
  assert.equal(leak?.headers.authorization, `Bearer ${placeholder}`);
  assert.equal(leak?.body, `token=${placeholder}`);


  assert.ok(!debugLogs.some((l) => l.includes(secretValue) || l.includes(placeholder)), 'no secret or header value in the logs');
});

test('https toward a secret\'s host is opened by the proxy (the sandbox trusts its CA) and gets the secret; other tunnels pass through untouched', async () => {
  const placeholder = text(await bash(limited, 'printf %s "$API_TOKEN"'));
  const viaCurl = await bash(limited, `curl -sS -H "Authorization: Bearer $API_TOKEN" -d "token=$API_TOKEN" https://api.example.com:${secure.port}/tls`);
  assert.equal(text(viaCurl), 'secure says hi\n');
  const call = secure.seen.find((s) => s.path === '/tls');
  assert.equal(call?.headers.authorization, `Bearer ${secretValue}`);
  assert.equal(call?.body, `token=${secretValue}`);

  const viaPython = await bash(
    limited,
    `python3 -c "import os, urllib.request as u; r = u.Request('https://api.example.com:${secure.port}/py-tls', headers={'X-Key': os.environ['API_TOKEN']}); print(u.urlopen(r).read().decode(), end='')"`,
  );
  assert.equal(text(viaPython), 'secure says hi\n');
  assert.equal(secure.seen.find((s) => s.path === '/py-tls')?.headers['x-key'], secretValue);

  // No secret for plain.example.com: its tunnel is end to end, so the sandbox sees the
  // server's own certificate (which it does not trust) and, told to ignore that, sends
  // the placeholder as it is.
  const untrusted = await bash(limited, `curl -sS https://plain.example.com:${secure.port}/pass`);
  assert.equal(untrusted.is_error, true);
  assert.match(text(untrusted), /certificate/i);
  const passed = await bash(limited, `curl -sS -k -H "Authorization: Bearer $API_TOKEN" https://plain.example.com:${secure.port}/pass`);
  assert.equal(text(passed), 'secure says hi\n');
  assert.equal(secure.seen.find((s) => s.path === '/pass')?.headers.authorization, `Bearer ${placeholder}`);
});

test('a secret is not sent to an https destination whose certificate the worker does not trust', async () => {
  const worker = fixture.newDriver({ egressUpstreamCa: [] });
  const sandbox = await worker.ensure(
    fixture.spec(fixture.newSessionId('impostor'), {
      networking: { type: 'limited', allowed_hosts: ['api.example.com'] },
      egress: { secrets: [{ name: 'API_TOKEN', value: secretValue, hosts: ['api.example.com'], header: true, body: true }] },
    }),
  );
  const outcome = await bash(sandbox, `curl -sS -w ' %{http_code}' -H "Authorization: Bearer $API_TOKEN" https://api.example.com:${secure.port}/impostor`);
  assert.match(text(outcome), /egress proxy could not reach api\.example\.com:\d+: .*certificate.* 502$/s);
  assert.equal(secure.seen.filter((s) => s.path === '/impostor').length, 0);
});

test('the secret value is nowhere in the container: not in docker inspect, /proc/1/environ or env', async () => {
  const { stdout } = await exec('docker', ['inspect', limited.containerId]);
  assert.ok(!stdout.includes(secretValue));
  assert.match(stdout, /API_TOKEN=longhaul_secret_placeholder_/);
  const inside = await bash(limited, `tr '\\0' '\\n' </proc/1/environ; env; cat /proc/$$/environ | tr '\\0' '\\n'; grep -rs API_TOKEN /run/longhaul || true`);
  assert.match(text(inside), /API_TOKEN=longhaul_secret_placeholder_/);
  assert.ok(!text(inside).includes(secretValue));
});

test('nothing leaves without the proxy: no interface but loopback, no name resolution, no route to the host', async () => {
  const { stdout } = await exec('docker', ['inspect', '--format', '{{.HostConfig.NetworkMode}}', limited.containerId]);
  assert.equal(stdout.trim(), 'none');
  const direct = await bash(
    limited,
    [
      `curl -sS --noproxy '*' --max-time 3 http://plain.example.com:${plain.port}/direct; echo "curl=$?"`,
      'cat /proc/net/dev; echo routes; tail -n +2 /proc/net/route',
    ].join('; '),
  );
  assert.match(text(direct), /Could not resolve host: plain\.example\.com\ncurl=6\n/);
  assert.doesNotMatch(text(direct), /eth0/);
  // No route at all: no packet for any address but loopback can leave.
  assert.match(text(direct), /routes\n$/);
  assert.equal(plain.seen.filter((s) => s.path === '/direct').length, 0);
});

test('an unrestricted environment with secrets goes through the proxy: any public host, internal ones only when a secret names them', async () => {
  const sandbox = await fixture.driver.ensure(
    fixture.spec(fixture.newSessionId('open'), {
      networking: { type: 'unrestricted' },
      egress: { secrets: [{ name: 'API_TOKEN', value: secretValue, hosts: ['api.example.com'], header: true, body: false }] },
    }),
  );
  const { stdout } = await exec('docker', ['inspect', '--format', '{{.HostConfig.NetworkMode}}', sandbox.containerId]);
  assert.equal(stdout.trim(), 'none');
  await bash(sandbox, `curl -sS -H "X-Key: $API_TOKEN" -d "k=$API_TOKEN" http://api.example.com:${api.port}/open`);
  const seen = api.seen.find((s) => s.path === '/open');
  assert.equal(seen?.headers['x-key'], secretValue);
  assert.match(seen?.body ?? '', /^k=longhaul_secret_placeholder_/, 'body injection was not asked for');
  const internal = await bash(sandbox, `curl -sS -w '%{http_code}' http://other.example.com:${other.port}/`);
  assert.match(text(internal), /resolves to the internal address 127\.0\.0\.1.*403$/s);
});

test('a new worker adopting the sandbox serves its proxy again, with the same placeholders', async () => {
  await fixture.driver.close();
  // The container runs on with no worker serving its proxy: requests fail clearly, nothing leaks.
  const client = new ExecutorClient({ socketPath: join(fixture.driver.sessionDir(limitedSpec.sessionId), 'exec.sock') });
  const gone = await client.run({ toolUseId: toolUseId(), name: 'bash', input: { command: `curl -sS -w '%{http_code}' http://plain.example.com:${plain.port}/` } });
  client.close();
  assert.match(text(gone), /egress proxy is not reachable.*502$/s);

  const worker = fixture.newDriver();
  const adopted = await worker.ensure(limitedSpec);
  assert.equal(adopted.containerId, limited.containerId);
  await bash(adopted, `curl -sS -H "Authorization: Bearer $API_TOKEN" http://api.example.com:${api.port}/adopted`);
  assert.equal(api.seen.find((s) => s.path === '/adopted')?.headers.authorization, `Bearer ${secretValue}`);
  // The new worker's proxy has a CA of its own, and the sandbox trusts it.
  const tls = await bash(adopted, `curl -sS -H "Authorization: Bearer $API_TOKEN" https://api.example.com:${secure.port}/adopted-tls`);
  assert.equal(text(tls), 'secure says hi\n');
  assert.equal(secure.seen.find((s) => s.path === '/adopted-tls')?.headers.authorization, `Bearer ${secretValue}`);

  // A rotated value is used from the next ensure on, without a new container.
  const rotated = `${secretValue}-rotated`;
  const again = await worker.ensure({ ...limitedSpec, egress: { secrets: [{ name: 'API_TOKEN', value: rotated, hosts: ['api.example.com'], header: true, body: false }] } });
  assert.equal(again.containerId, limited.containerId);
  await bash(again, `curl -sS -H "Authorization: Bearer $API_TOKEN" http://api.example.com:${api.port}/rotated`);
  assert.equal(api.seen.find((s) => s.path === '/rotated')?.headers.authorization, `Bearer ${rotated}`);
});
