/**
 * The callback SSRF guard: which addresses are refused, that the check looks at resolved
 * addresses rather than the host's text, and that a delivery connects only where the check looked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { checkCallbackUrl, pinnedLookup, refusedRange, type ResolvedAddress } from '../../src/net/ssrf';
import { postSigned } from '../../activities/webhook/send';

test('special-purpose addresses are refused, named by their range', () => {
  const refused: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    // IPv4-mapped IPv6 is judged as the IPv4 address it carries.
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    // NAT64 of a private address.
    ['64:ff9b::a00:1', 'private'],
  ];
  for (const [ip, range] of refused) assert.equal(refusedRange(ip), range, ip);
  for (const ip of ['2002:a00:1::1', '2001::1']) assert.match(refusedRange(ip) ?? 'allowed', /special-purpose/, ip);
  // Outside global unicast 2000::/3: IPv4-compatible (deprecated) and the unassigned rest.
  for (const ip of ['::a00:1', '::808:808', '4000::1', 'e000::1']) assert.equal(refusedRange(ip), 'reserved', ip);
  for (const ip of [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '2606:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ]) {
    assert.equal(refusedRange(ip), null, ip);
  }
});

test('every address in the private, loopback, link-local and CGNAT blocks is refused, mapped or not', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const blocks: Array<[fc.Arbitrary<string>, string]> = [
    [fc.tuple(octet, octet, octet).map(([b, c, d]) => `10.${b}.${c}.${d}`), 'private'],
    [fc.tuple(fc.integer({ min: 16, max: 31 }), octet, octet).map(([b, c, d]) => `172.${b}.${c}.${d}`), 'private'],
    [fc.tuple(octet, octet).map(([c, d]) => `192.168.${c}.${d}`), 'private'],
    [fc.tuple(octet, octet, octet).map(([b, c, d]) => `127.${b}.${c}.${d}`), 'loopback'],
    [fc.tuple(octet, octet).map(([c, d]) => `169.254.${c}.${d}`), 'link-local'],
    [fc.tuple(fc.integer({ min: 64, max: 127 }), octet, octet).map(([b, c, d]) => `100.${b}.${c}.${d}`), 'carrier-grade NAT'],
  ];
  for (const [addresses, range] of blocks) {
    fc.assert(
      fc.property(addresses, (ip) => {
        assert.equal(refusedRange(ip), range, ip);
        assert.equal(refusedRange(`::ffff:${ip}`), range, `::ffff:${ip}`);
      }),
    );
  }
});

test('an IPv4 address and its IPv4-mapped IPv6 form are judged alike', () => {
  fc.assert(fc.property(fc.ipV4(), (ip) => assert.equal(refusedRange(`::ffff:${ip}`), refusedRange(ip))));
});

/** A resolver that answers from a table, and counts its calls. */
function fakeResolver(table: Record<string, string[]>) {
  const calls: string[] = [];
  const resolve = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host);
    const found = table[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, calls };
}

test('a callback URL is checked by the addresses its host resolves to, not by its text', async () => {
  const { resolve } = fakeResolver({
    'hooks.example.com': ['93.184.216.34'],
    'sneaky.example.com': ['10.1.2.3'],
    'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
    'mapped.example.com': ['::ffff:192.168.0.7'],
  });
  const check = (url: string, allowPrivate = false) => checkCallbackUrl(url, { allowPrivate, resolve });

  const ok = await check('https://hooks.example.com/batchflow');
  assert.ok(ok.ok);
  assert.deepEqual(ok.addresses, [{ address: '93.184.216.34', family: 4 }]);

  const sneaky = await check('https://sneaky.example.com/');
  assert.deepEqual(sneaky, {
    ok: false,
    retryable: false,
    reason: 'host sneaky.example.com resolves to 10.1.2.3, a private address; callbacks must reach a public address',
  });
  // One refused address is enough: a connection could pick it.
  assert.equal((await check('http://mixed.example.com/')).ok, false);
  assert.match(JSON.stringify(await check('http://mapped.example.com/')), /private address/);

  // WHATWG URL normalises numeric hosts before the check sees them.
  for (const url of ['http://127.0.0.1:8080/', 'http://0x7f.1/', 'http://2130706433/', 'http://[::1]/', 'http://[::ffff:7f00:1]/']) {
    const c = await check(url);
    assert.ok(!c.ok && !c.retryable && /loopback/.test(c.reason), `${url}: ${JSON.stringify(c)}`);
  }
  assert.match(JSON.stringify(await check('http://169.254.169.254/latest/meta-data/')), /link-local/);
  assert.match(JSON.stringify(await check('http://[::ffff:10.0.0.1]/')), /::ffff:a00:1 \(10\.0\.0\.1\) is a private address/);

  for (const url of ['ftp://hooks.example.com/', 'file:///etc/passwd', 'gopher://hooks.example.com/', 'javascript:alert(1)']) {
    const c = await check(url);
    assert.ok(!c.ok && !c.retryable && /must be http or https/.test(c.reason), `${url}: ${JSON.stringify(c)}`);
  }
  assert.deepEqual(await check('not a url'), { ok: false, reason: 'is not a valid URL', retryable: false });

  // A host that does not resolve is not refused for good: it may resolve at delivery.
  const missing = await check('https://nowhere.example.com/');
  assert.ok(!missing.ok && missing.retryable && /does not resolve \(ENOTFOUND\)/.test(missing.reason));

  // ALLOW_PRIVATE_CALLBACKS lets private addresses through, still resolved (a delivery pins them).
  const allowed = await check('http://sneaky.example.com/', true);
  assert.ok(allowed.ok);
  assert.deepEqual(allowed.addresses, [{ address: '10.1.2.3', family: 4 }]);
});

test('the real resolver is used by default: localhost is loopback', async () => {
  const c = await checkCallbackUrl('http://localhost:9/hook', { allowPrivate: false });
  assert.ok(!c.ok && /host localhost resolves to .*loopback address/.test(c.reason), JSON.stringify(c));
});

test('a pinned lookup answers only the checked addresses', async () => {
  const lookup = pinnedLookup([
    { address: '93.184.216.34', family: 4 },
    { address: '2606:2800:220:1::1', family: 6 },
  ]);
  const ask = (options: Parameters<typeof lookup>[1]) =>
    new Promise<unknown>((resolve) =>
      lookup('anything.example.com', options, (err, address, family) => resolve(err ? { code: err.code } : { address, family })),
    );
  assert.deepEqual(await ask({}), { address: '93.184.216.34', family: 4 });
  assert.deepEqual(await ask({ family: 6 }), { address: '2606:2800:220:1::1', family: 6 });
  assert.deepEqual(await ask({ all: true }), {
    address: [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ],
    family: undefined,
  });
  const v4only = pinnedLookup([{ address: '93.184.216.34', family: 4 }]);
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => v4only('x', { family: 6 }, (e) => resolve(e)));
  assert.equal(err?.code, 'ENOTFOUND');
});

/** A loopback receiver that records what it got and answers `status` (with `headers`). */
async function receiver(status: number, headers: Record<string, string> = {}) {
  const got: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { got, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

test('a delivery connects to the checked address, whatever the name resolves to now', async () => {
  const r = await receiver(204);
  try {
    // `rebind.invalid` resolves nowhere for real: only the pinned address can have been used.
    const res = await postSigned({
      url: new URL(`http://rebind.invalid:${r.port}/hook?x=1`),
      addresses: [{ address: '127.0.0.1', family: 4 }],
      body: '{"event":"batch.finished"}',
      secrets: ['test-secret-0123456789'],
      deliveryId: 'webhook-b_1-run',
      timeoutMs: 5_000,
    });
    assert.equal(res.status, 204);
    assert.equal(r.got.length, 1);
    const [hit] = r.got;
    assert.equal(hit!.path, '/hook?x=1');
    assert.equal(hit!.headers.host, `rebind.invalid:${r.port}`);
    assert.equal(hit!.headers['content-type'], 'application/json');
    assert.equal(hit!.headers['x-batchflow-delivery'], 'webhook-b_1-run');
    assert.match(hit!.headers['user-agent'] ?? '', /^batchflow-webhook\//);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hit!.headers['x-batchflow-signature']));
    assert.ok(m, String(hit!.headers['x-batchflow-signature']));
    assert.equal(m[2], createHmac('sha256', 'test-secret-0123456789').update(`${m[1]}.${hit!.body}`).digest('hex'));
  } finally {
    await r.close();
  }
});

test('redirects are not followed: a 3xx is the answer', async () => {
  const r = await receiver(302, { location: 'http://169.254.169.254/latest/meta-data/' });
  try {
    const res = await postSigned({
      url: new URL(`http://127.0.0.1:${r.port}/`),
      addresses: [{ address: '127.0.0.1', family: 4 }],
      body: '{}',
      secrets: ['s'.repeat(16)],
      deliveryId: 'd',
      timeoutMs: 5_000,
    });
    assert.equal(res.status, 302);
    assert.equal(r.got.length, 1);
  } finally {
    await r.close();
  }
});

test('an attempt that gets no status line within its timeout fails', async () => {
  const server = http.createServer(() => undefined); // never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    await assert.rejects(
      postSigned({
        url: new URL(`http://127.0.0.1:${port}/`),
        addresses: [{ address: '127.0.0.1', family: 4 }],
        body: '{}',
        secrets: ['s'.repeat(16)],
        deliveryId: 'd',
        timeoutMs: 300,
      }),
      /no answer within 300 ms/,
    );
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
