/**
 * The web console in a real (headless) Chromium against a real stack: the key prompt, a pasted
 * submission with client-side validation, a batch watched to the end over its event stream, a
 * cancel with rollback, a redrive of failed items, the CSV export, and the batch list. The tests
 * assert on what the page shows and check it against the API; waits are bounded generously and
 * nothing depends on speed. Screenshots of each state go to test/artifacts/console-*.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from '../helpers/browser';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import { allItems, eventually, getBatch, submit } from '../helpers/api';

Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const TEST_TIMEOUT_MS = 180_000;
const WAIT_MS = 120_000;

let stack: Stack;
let target: PublishTarget;
let browser: Browser;
let page: Page;
/** Every URL the page asked for: the console must stay on its own origin. */
const requested: string[] = [];
/** The batch the first test submits through the page (watched to the end by the second). */
let watchedId = '';
let cancelledId = '';

before(async () => {
  target = await startPublishTarget();
  stack = await startStack({ publishUrl: target.url });
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('request', (r) => requested.push(r.url()));
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  await target?.close();
});

const DESCRIPTIONS = ['cotton t-shirt crew neck', 'leather oxford shoes', 'laptop computer', 'wooden dining chair'];
const partRefs = (): string[] => Array.from({ length: 60 }, (_, i) => `${DESCRIPTIONS[i % 4]} ${i}`);

const text = (selector: string): Promise<string> => page.locator(selector).innerText();

/** Runs an expression in the page (a string: this project compiles without the DOM's types). */
const inPage = <T>(expression: string): Promise<T> => page.evaluate(expression) as Promise<T>;

/** The batch ids of the list's rows, top to bottom. */
const listedIds = (): Promise<string[]> => inPage(`[...document.querySelectorAll('#batch-list tbody tr')].map((r) => r.dataset.batchId)`);

/** Waits until the page shows `selector` with text matching `expected`. */
const shows = (selector: string, expected: RegExp | string, timeoutMs = WAIT_MS): Promise<string> =>
  eventually(
    `${selector} to show ${String(expected)}`,
    async () => {
      const t = (await page.locator(selector).count()) > 0 ? await text(selector) : '';
      return (typeof expected === 'string' ? t.trim() === expected : expected.test(t)) ? t : undefined;
    },
    timeoutMs,
  );

describe('the web console', { timeout: TEST_TIMEOUT_MS * 6 }, () => {
  test('is served at / with a strict CSP, and its assets under /console/', async () => {
    const res = await fetch(`${stack.baseUrl}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline scripts, no other origins');
    assert.match(csp, /connect-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline script in the page');
    assert.doesNotMatch(html, /https?:\/\//, 'no CDN, no external fonts');
    const app = await fetch(`${stack.baseUrl}/console/app.js`);
    assert.equal(app.status, 200);
    assert.match(app.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${stack.baseUrl}/console/package.json`)).status, 404);
    assert.equal((await fetch(`${stack.baseUrl}/console/..%2Fapi%2Fapp.ts`)).status, 404);
  });

  test('asks for the key, refuses a wrong one, keeps the right one', { timeout: TEST_TIMEOUT_MS }, async () => {
    await page.goto(`${stack.baseUrl}/`);
    await page.locator('#api-key').waitFor();
    await screenshot(page, 'console-key');
    await page.fill('#api-key', 'bf_not_a_key');
    await page.click('#use-key');
    await shows('#key-form .error', /unauthorized/);
    await page.fill('#api-key', stack.key);
    await page.click('#use-key');
    await page.locator('#items-input').waitFor();
    assert.equal(await inPage(`localStorage.getItem('batchflow.apiKey')`), stack.key);
    // A reload keeps it (no prompt).
    await page.reload();
    await page.locator('#items-input').waitFor();
    assert.match(await text('#key-state'), new RegExp(stack.key.slice(-4)));
  });

  test(
    'validates a pasted list before sending, shows server errors, and submits the valid items',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      // Refs that are also product descriptions (items_text makes each ref its item's text), so the
      // classifier is confident and the batch can end completed rather than waiting for review.
      const refs = partRefs();
      const long = 'x'.repeat(201);
      // 60 good refs (some comma-separated), a 201-character ref and a duplicate of part-7.
      const pasted = [...refs.slice(0, 30), refs.slice(30).join(', '), long, refs[7]].join('\n');
      await page.fill('#items-input', pasted);
      await shows('#valid-count', '60');
      assert.equal((await text('#invalid-count')).trim(), '2');
      const problems = await text('#invalid-list');
      assert.match(problems, /line 32: x{40}… — ref longer than 200 characters \(201\)/);
      assert.match(problems, new RegExp(`line 33: ${refs[7]} — duplicate ref "${refs[7]}" \\(first on line 8\\)`));
      assert.match(await text('#submit-batch'), /60 items, 2 invalid left out/);

      // Slow enough to watch: one item a chunk, one chunk at a time.
      await page.fill('#chunk-size', '1');
      await page.fill('#max-parallel', '1');
      // An option the page cannot judge (a loopback callback, refused by the server): the contract's error, shown.
      await page.fill('#callback-url', 'http://127.0.0.1:9/hook');
      await page.click('#submit-batch');
      const error = await shows('#submit-result .error', /validation_failed/);
      assert.match(error, /callback_url/);
      await page.fill('#callback-url', '');
      await page.fill('#chunk-size', '0');
      await shows('#option-problems', /chunk_size: a whole number 1\.\.500/);
      assert.equal(await page.locator('#submit-batch').isDisabled(), true, 'a bad option blocks the submission');
      await page.fill('#chunk-size', '1');
      await screenshot(page, 'console-submit');

      await page.click('#submit-batch');
      await page.waitForURL(/#\/batch\/b_/, { timeout: WAIT_MS });
      watchedId = decodeURIComponent(page.url().split('#/batch/')[1]!);
      const body = await getBatch(stack, watchedId);
      assert.equal(body.total_items, 60, 'the invalid lines were left out');
      const sent = (await allItems(stack, watchedId)).map((i) => i.ref).sort();
      assert.deepEqual(sent, [...refs].sort());
    },
  );

  test(
    'watches the batch over its event stream until the bar reads 100 % and the status completed',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      // Record every value the bar takes (a MutationObserver, in the page) from here on.
      await page.locator('#progress').waitFor();
      await inPage(`(() => {
      const bar = document.querySelector('#progress');
      const seen = window.seen = [Number(bar.getAttribute('aria-valuenow'))];
      new MutationObserver(() => seen.push(Number(bar.getAttribute('aria-valuenow')))).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
    })()`);
      await shows('#stream-state', /live/);
      // Mid-run, while the bar is short of 100: its width and value agree with the counts shown.
      const midway = await eventually(
        'a progress value between 0 and 100',
        async () => {
          const now = Number(await page.locator('#progress').getAttribute('aria-valuenow'));
          return now > 0 && now < 100 ? now : undefined;
        },
        WAIT_MS,
      ).catch(() => undefined);
      if (midway !== undefined) await screenshot(page, 'console-batch-progress');

      await shows('#batch-status', 'completed');
      assert.equal(await page.locator('#progress').getAttribute('aria-valuenow'), '100');
      const width = await inPage<number>(`(() => {
      const bar = document.querySelector('#progress .bar');
      return bar.getBoundingClientRect().width / bar.parentElement.getBoundingClientRect().width;
    })()`);
      assert.ok(Math.abs(width - 1) < 0.01, `the bar fills its track (${width})`);
      const seen = await inPage<number[]>('window.seen');
      assert.ok(
        seen.some((v) => v < 100),
        `an intermediate value was shown before 100: ${JSON.stringify(seen)}`,
      );
      assert.ok(midway !== undefined, `the bar showed a value strictly between 0 and 100 (saw ${JSON.stringify(seen)})`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `the bar never moves back: ${JSON.stringify(seen)}`);
      assert.equal((await text('#count-published')).trim(), '60');
      assert.equal((await text('#count-pending')).trim(), '0');
      assert.match(await text('#activity'), /batch completed/);
      assert.match(await text('#eta'), /done/);
      assert.equal(await page.locator('#temporal-link').getAttribute('href'), (await getBatch(stack, watchedId)).temporal_ui_url);
      assert.equal(await page.locator('#cancel-btn').isDisabled(), true, 'a finished batch cannot be cancelled');
      await screenshot(page, 'console-batch-completed');
    },
  );

  test('downloads the CSV export with the key and saves its rows', { timeout: TEST_TIMEOUT_MS }, async () => {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), page.click('#export-csv')]);
    assert.equal(download.suggestedFilename(), `${watchedId}.csv`);
    const file = await download.path();
    const lines = fs.readFileSync(file, 'utf8').trim().split(/\r?\n/);
    const header = lines[0]!.split(',');
    const refAt = header.indexOf('ref');
    const statusAt = header.indexOf('status');
    assert.ok(refAt >= 0 && statusAt >= 0, `a header with ref and status: ${lines[0]}`);
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.equal(rows.length, 60);
    assert.deepEqual(rows.map((r) => r[refAt]).sort(), partRefs().sort());
    assert.ok(
      rows.every((r) => r[statusAt] === 'succeeded'),
      'every row succeeded',
    );
    await shows('#export-state', new RegExp(`saved ${watchedId}\\.csv`));
  });

  test('cancels a running batch with rollback and shows the end state', { timeout: TEST_TIMEOUT_MS }, async () => {
    const published = target.items.size;
    cancelledId = await submit(stack, { items: items(40), chunk_size: 1, max_parallel_chunks: 1 });
    await page.goto(`${stack.baseUrl}/#/batch/${cancelledId}`);
    // Let something be published first, so there is something to roll back.
    await eventually('an item of the batch to be published', async () => Number(await text('#count-published')) > 0, WAIT_MS);
    await page.selectOption('#cancel-rollback', 'true');
    await page.click('#cancel-btn');
    await shows('#batch-status', 'cancelled');
    await eventually('the rolled back badge', () => page.locator('#rolled-back').isVisible(), WAIT_MS);
    assert.match(await text('#activity'), /cancel requested \(roll back\)/);
    // The page logs the end once its own reads of the batch settle, a moment after the badge shows.
    await eventually('the end in the activity log', async () => /batch cancelled, rolled back/.test(await text('#activity')), WAIT_MS);
    const body = await getBatch(stack, cancelledId);
    assert.equal(body.status, 'cancelled');
    assert.equal(body.rolled_back, true);
    assert.equal((await text('#count-compensated')).trim(), String(body.counts.compensated));
    assert.ok(body.counts.compensated > 0, 'something was undone');
    assert.equal(target.items.size, published, 'nothing of the cancelled batch is left at the target');
    await screenshot(page, 'console-cancelled');
  });

  test('lists failed items with their reasons and retries them to success', { timeout: TEST_TIMEOUT_MS }, async () => {
    const rejected = ['sku-1', 'sku-4'];
    target.faults.rejectRefs = new Set(rejected);
    const batchId = await submit(stack, { items: items(8), chunk_size: 4 });
    await page.goto(`${stack.baseUrl}/#/batch/${batchId}`);
    await shows('#batch-status', 'partial');
    await eventually('both failed items listed', async () => (await page.locator('#failed-items tr').count()) === rejected.length, WAIT_MS);
    for (const ref of rejected) {
      const row = await text(`#failed-items tr[data-ref="${ref}"]`);
      assert.match(row, /publish/);
      assert.match(row, new RegExp(`downstream_rejected|rejected`), `a reason for ${ref}: ${row}`);
    }
    assert.match(await text('#activity'), /sku-1 failed at publish/);
    assert.equal((await text('#count-failed')).trim(), '2');
    assert.equal(await page.locator('#retry-btn').isEnabled(), true);
    await screenshot(page, 'console-retry');

    target.faults.rejectRefs = undefined;
    // The row reads final a moment before the run closes; a retry then is accepted all the same (202).
    await page.click('#retry-btn');
    await shows('#activity', /retrying 2 failed items/);
    await shows('#batch-status', 'completed');
    await eventually('the failed list to empty', async () => (await page.locator('#failed-items tr').count()) === 0, WAIT_MS);
    assert.equal((await text('#count-failed')).trim(), '0');
    assert.equal((await text('#count-published')).trim(), '8');
    assert.equal(await page.locator('#progress').getAttribute('aria-valuenow'), '100');
    const final = await waitForBatch(stack, batchId);
    assert.equal(final.status, 'completed');
    await screenshot(page, 'console-retry-done');
  });

  test('lists batches newest first, filters them by status', { timeout: TEST_TIMEOUT_MS }, async () => {
    await page.goto(`${stack.baseUrl}/#/batches`);
    await eventually('three batches listed', async () => (await page.locator('#batch-list tbody tr').count()) === 3, WAIT_MS);
    const ids = await listedIds();
    assert.equal(ids[1], cancelledId);
    assert.equal(ids[2], watchedId, 'newest first: the first batch submitted is last');
    await screenshot(page, 'console-list');

    await page.selectOption('#status-filter', 'cancelled');
    await eventually(
      'only the cancelled batch',
      async () => {
        const rows = await listedIds();
        return rows.length === 1 && rows[0] === cancelledId;
      },
      WAIT_MS,
    );
    assert.match(page.url(), /#\/batches\?status=cancelled$/);
    await page.selectOption('#status-filter', 'paused');
    await shows('#batch-list', /No paused batches/);

    // A click on a batch opens its page.
    await page.selectOption('#status-filter', '');
    await page.click(`#batch-list tr[data-batch-id="${watchedId}"] a`);
    await shows('#batch-status', 'completed');
  });

  test('resolves an item of the review queue', { timeout: TEST_TIMEOUT_MS }, async () => {
    // Texts the classifier cannot place end as needs_review: one it has leads for (three kinds of
    // goods in one), one with no word it knows.
    const batchId = await submit(stack, {
      items: [
        { ref: 'odd-1', text: 'leather laptop chair' },
        { ref: 'odd-2', text: 'zzz qqq' },
      ],
      stages: ['classify'],
    });
    await waitForBatch(stack, batchId);
    await page.goto(`${stack.baseUrl}/#/batch/${batchId}`);
    await eventually('two items to review', async () => (await page.locator('#review-items tr').count()) === 2, WAIT_MS);
    // The row offers the API's suggestions, best first, each one click from being the label.
    const listed = (await (await stack.api(`/v1/review?batch_id=${batchId}`)).json()) as {
      items: Array<{ ref: string; suggestions: Array<{ label: string; confidence: number }> }>;
    };
    const offered = listed.items.find((i) => i.ref === 'odd-1')!.suggestions;
    assert.ok(offered.length >= 2, `suggestions: ${JSON.stringify(offered)}`);
    const row = '#review-items tr[data-ref="odd-1"]';
    assert.deepEqual(
      await page.locator(`${row} button.suggestion`).allInnerTexts(),
      offered.map((o) => `${o.label} (${(o.confidence * 100).toFixed(0)} %)`),
    );
    assert.equal(await page.inputValue(`${row} input`), offered[0]!.label, 'the best guess fills the label');
    assert.equal(await page.locator('#review-items tr[data-ref="odd-2"] button.suggestion').count(), 0, 'no leads, no buttons');
    assert.equal(await page.inputValue('#review-items tr[data-ref="odd-2"] input'), '', 'and no label to start from');
    await page.locator(`${row} button.suggestion`).nth(1).click();
    const chosen = offered[1]!.label;
    assert.equal(await page.inputValue(`${row} input`), chosen, 'a click on a suggestion makes it the label');
    await page.click(`${row} button.resolve`);
    const outcome = await eventually(
      'the resolution or an error',
      async () => {
        if ((await text('#activity')).includes(`resolved odd-1 as ${chosen}`)) return 'resolved';
        return (await page.locator('#action-result .error').count()) > 0 ? text('#action-result') : undefined;
      },
      WAIT_MS,
    );
    assert.equal(outcome, 'resolved');
    await eventually('one item left to review', async () => (await page.locator('#review-items tr').count()) === 1, WAIT_MS);
    const left = (await (await stack.api(`/v1/review?batch_id=${batchId}`)).json()) as { items: Array<{ ref: string }> };
    assert.deepEqual(
      left.items.map((i) => i.ref),
      ['odd-2'],
    );
  });

  test('forgets the key on request, and talked only to its own origin', { timeout: TEST_TIMEOUT_MS }, async () => {
    await page.click('#forget-key');
    await page.locator('#api-key').waitFor();
    assert.equal(await inPage(`localStorage.getItem('batchflow.apiKey')`), null);
    const foreign = requested.filter((u) => !u.startsWith(`${stack.baseUrl}/`) && !u.startsWith('blob:') && !u.startsWith('data:'));
    assert.deepEqual(foreign, [], 'no request left the console origin');
    assert.ok(
      requested.some((u) => u.includes('/events')),
      'the page used the event stream',
    );
  });
});
