import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { hostAllowed, isInternalAddress, runWebTool } from '../../activities/web-tools.ts';

let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/page') {
      res.setHeader('content-type', 'text/html');
      res.end('<html><head><style>x{}</style><script>alert(1)</script></head><body><h1>Title</h1><p>Hello &amp; welcome</p></body></html>');
    } else if (req.url === '/away') {
      res.statusCode = 302;
      res.setHeader('location', 'http://localhost.invalid/elsewhere');
      res.end();
    } else if (req.url?.startsWith('/hop?to=')) {
      res.statusCode = 302;
      res.setHeader('location', decodeURIComponent(req.url.slice('/hop?to='.length)));
      res.end();
    } else if (req.url === '/big') {
      res.end('y'.repeat(2 * 1024 * 1024));
    } else {
      res.statusCode = 404;
      res.end('nope');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(() => server.close());

const signal = new AbortController().signal;
const fetchTool = (url: string, networking: Parameters<typeof runWebTool>[0]['networking']) => runWebTool({ name: 'web_fetch', input: { url }, networking, signal });
const textOf = (o: Awaited<ReturnType<typeof runWebTool>>) => o.content.map((c) => c.text).join('');

test('web_fetch returns page text without markup when the policy allows the host', async () => {
  const outcome = await fetchTool(`${base}/page`, { type: 'limited', allowed_hosts: ['127.0.0.1'] });
  assert.equal(outcome.is_error, false);
  assert.match(textOf(outcome), /^HTTP 200 /);
  assert.match(textOf(outcome), /Title\s+Hello & welcome/);
  assert.doesNotMatch(textOf(outcome), /alert|<h1>/);
});

test('web_fetch refuses hosts outside allowed_hosts, and redirects out of them, before any data is returned', async () => {
  const denied = await fetchTool(`${base}/page`, { type: 'limited' });
  assert.equal(denied.is_error, true);
  assert.match(textOf(denied), /does not allow 127\.0\.0\.1/);
  const redirected = await fetchTool(`${base}/away`, { type: 'limited', allowed_hosts: ['127.0.0.1'] });
  assert.equal(redirected.is_error, true);
  assert.match(textOf(redirected), /localhost\.invalid/);
});

test('web_fetch does not reach internal addresses (the worker network) unless allowed_hosts names them', async () => {
  for (const url of [`${base}/page`, 'http://169.254.169.254/latest/meta-data', 'http://[::1]:7233/', 'http://10.1.2.3/']) {
    const outcome = await fetchTool(url, { type: 'unrestricted' });
    assert.equal(outcome.is_error, true, url);
    assert.match(textOf(outcome), /internal address/, url);
  }
  assert.equal((await fetchTool(`${base}/page`, { type: 'limited', allowed_hosts: ['127.0.0.1'] })).is_error, false);
  assert.ok(isInternalAddress('192.168.1.1') && isInternalAddress('172.20.0.1') && isInternalAddress('::ffff:127.0.0.1') && isInternalAddress('fd00::1'));
  assert.ok(!isInternalAddress('93.184.216.34') && !isInternalAddress('172.32.0.1') && !isInternalAddress('2606:4700::1'));
});

test('web_fetch judges the addresses it connects to (one lookup per connection, so a rebinding name cannot pass a check and then connect inside)', async () => {
  const port = new URL(base).port;
  const lookups: string[] = [];
  // A name whose every answer is the worker's own network; another whose answer is the test server, named by allowed_hosts.
  const resolveHost = async (host: string) => {
    lookups.push(host);
    return ['127.0.0.1'];
  };
  let hits = 0;
  const count = () => hits++;
  server.on('request', count);
  try {
    const refused = await runWebTool({ name: 'web_fetch', input: { url: `http://rebind.test:${port}/page` }, networking: { type: 'unrestricted' }, signal, resolveHost });
    assert.equal(refused.is_error, true);
    assert.match(textOf(refused), /rebind\.test resolves to the internal address 127\.0\.0\.1/);
    assert.equal(hits, 0, 'nothing reached the internal server');

    const redirected = await runWebTool({ name: 'web_fetch', input: { url: `${base}/hop?to=http://rebind.test:${port}/page` }, networking: { type: 'limited', allowed_hosts: ['127.0.0.1', 'rebind.test', 'named.test'] }, signal, resolveHost });
    assert.equal(redirected.is_error, false, textOf(redirected));

    lookups.length = 0;
    const allowed = await runWebTool({ name: 'web_fetch', input: { url: `http://named.test:${port}/page` }, networking: { type: 'limited', allowed_hosts: ['named.test'] }, signal, resolveHost });
    assert.equal(allowed.is_error, false, textOf(allowed));
    assert.deepEqual(lookups, ['named.test'], 'the connection resolved the name once: no separate check to race');
  } finally {
    server.off('request', count);
  }
});

test('web_fetch reports HTTP errors, bad URLs and caps large bodies', async () => {
  const missing = await fetchTool(`${base}/missing`, { type: 'limited', allowed_hosts: ['127.0.0.1'] });
  assert.equal(missing.is_error, true);
  assert.match(textOf(missing), /^HTTP 404/);
  assert.match(textOf(await fetchTool('not a url', { type: 'unrestricted' })), /not a valid URL/);
  assert.match(textOf(await fetchTool('file:///etc/passwd', { type: 'unrestricted' })), /only http and https/);
  const big = await fetchTool(`${base}/big`, { type: 'limited', allowed_hosts: ['127.0.0.1'] });
  assert.match(textOf(big), /truncated to 524288 bytes/);
  assert.ok(textOf(big).length < 600_000);
});

test('web_search uses the configured provider, and says clearly when there is none', async () => {
  const none = await runWebTool({ name: 'web_search', input: { query: 'temporal' }, networking: { type: 'unrestricted' }, signal });
  assert.equal(none.is_error, true);
  assert.match(textOf(none), /no search provider is configured/);
  const found = await runWebTool({
    name: 'web_search',
    input: { query: 'temporal' },
    networking: { type: 'unrestricted' },
    signal,
    webSearch: async (query) => [{ title: `About ${query}`, url: 'https://example.test/t', snippet: 'durable execution' }],
  });
  assert.equal(found.is_error, false);
  assert.match(textOf(found), /1\. About temporal\n\s+https:\/\/example\.test\/t\n\s+durable execution/);
});

test('allowed_hosts matching: exact names, wildcard subdomains, scheme and path ignored', () => {
  const policy = { type: 'limited' as const, allowed_hosts: ['api.example.com', '*.example.org', 'https://files.test/path'] };
  assert.ok(hostAllowed('api.example.com', policy));
  assert.ok(hostAllowed('API.EXAMPLE.COM', policy));
  assert.ok(!hostAllowed('evil-api.example.com', policy));
  assert.ok(hostAllowed('files.example.org', policy));
  assert.ok(!hostAllowed('example.org.evil', policy));
  assert.ok(hostAllowed('files.test', policy));
  assert.ok(hostAllowed('anything', { type: 'unrestricted' }));
});
