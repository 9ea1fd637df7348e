/**
 * The Temporal Web UI (the one `npm test` starts with the dev server, TEMPORAL_TEST_UI_URL) tells
 * a batch's story: the list filtered by the TenantId search attribute finds it, with the batch's
 * search attributes as columns; the API's temporal_ui_url opens its page, where User Metadata
 * shows the static summary and details and the workflow's current details, and the history shows
 * each activity's summary. Screenshots: test/artifacts/temporal-ui-list.png, temporal-ui-batch.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, screenshot } from '../helpers/browser';
import { eventually, getBatch, submit } from '../helpers/api';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const WAIT_MS = 120_000;
const UI_URL = process.env.TEMPORAL_TEST_UI_URL ?? '';

let stack: Stack;
let browser: Browser;
let page: Page;

before(async () => {
  assert.ok(UI_URL, 'TEMPORAL_TEST_UI_URL is set by `npm test` (test/run.ts starts the dev server with its UI)');
  stack = await startStack({ uiUrl: UI_URL });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Every text on the page, its iframes included (the UI renders markdown in sandboxed frames). */
async function pageText(): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((f) =>
      f
        .locator('body')
        .innerText()
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}

const showsAll = (what: string, expected: string[]): Promise<string> =>
  eventually(
    what,
    async () => {
      const text = await pageText();
      return expected.every((e) => text.includes(e)) ? text : undefined;
    },
    WAIT_MS,
  );

describe('the Temporal UI', { timeout: WAIT_MS * 4 }, () => {
  test(
    'lists the batch by tenant and opens its page from temporal_ui_url, with summary, details and current details',
    { timeout: WAIT_MS * 3 },
    async () => {
      // A few hundred items, one small chunk at a time: it runs a few seconds.
      const batchId = await submit(stack, {
        items: items(400),
        stages: ['classify'],
        chunk_size: 10,
        max_parallel_chunks: 1,
        metadata: { corridor: 'MX_US' },
      });
      const batch = await getBatch(stack, batchId);
      const workflowId = batch.workflow_id;
      const summary = `batch ${batchId} · ${stack.tenantId} · 400 items · classify`;

      // The list, filtered the way an operator would: visibility is eventually consistent, so reload.
      const listUrl = `${UI_URL}/namespaces/${encodeURIComponent(stack.namespace)}/workflows?query=${encodeURIComponent(`TenantId="${stack.tenantId}"`)}`;
      await eventually(
        `${workflowId} in the list`,
        async () => {
          await page.goto(listUrl);
          return page
            .getByText(workflowId)
            .first()
            .waitFor({ timeout: 5_000 })
            .then(
              () => true,
              () => false,
            );
        },
        WAIT_MS,
      );
      // UI 2.42 has no summary column in the list; the batch's search attributes can be columns
      // (kept in this browser's local storage), in place of Run ID and Type.
      await page.getByTestId('workflows-summary-table-configuration-button').click();
      for (const name of ['Run ID', 'Type']) await page.getByTestId(`orderable-list-item-${name}-remove-button`).click();
      for (const name of ['BatchStatus', 'ItemCount', 'FailedCount', 'Priority'])
        await page.getByTestId(`orderable-list-item-${name}-add-button`).click();
      await page.getByTestId('drawer-close-button').click();
      await page.getByRole('columnheader', { name: 'BatchStatus' }).waitFor({ timeout: WAIT_MS });
      const row = page.getByRole('row').filter({ hasText: workflowId });
      const cells = await eventually(
        'the row shows BatchStatus, ItemCount, FailedCount and Priority',
        async () => {
          const text = (await row.locator('td').allInnerTexts()).map((t) => t.trim());
          return ['400', '0', 'normal'].every((v) => text.includes(v)) && text.some((t) => t === 'running' || t === 'completed')
            ? text
            : undefined;
        },
        WAIT_MS,
      );
      assert.ok(cells.includes(workflowId), JSON.stringify(cells));
      await screenshot(page, 'temporal-ui-list');

      // The API's link opens this batch's workflow page.
      assert.equal(batch.temporal_ui_url, `${UI_URL}/namespaces/${stack.namespace}/workflows/${workflowId}`);
      await page.goto(String(batch.temporal_ui_url));
      await page.getByText(workflowId).first().waitFor({ timeout: WAIT_MS });
      await page.getByTestId('user-metadata-tab').click();
      const text = await showsAll('summary, details and current details', [
        'Summary',
        summary,
        'Details',
        '400 in 40 chunks',
        'chunk size: 10',
        'parallel chunks: 1',
        'on cancel: keep',
        '"corridor": "MX_US"',
        'Current Details',
        'items final',
        'chunks: ',
      ]);
      assert.match(text, /(running|completed) · [\d.]+% · [\d,]+ of 400 items final/);
      await screenshot(page, 'temporal-ui-batch');

      // The history labels each activity with its summary.
      await page.getByTestId('history-tab').click();
      await showsAll('activity summaries in the history', ['classify chunk 1/40: 10 items']);

      const ended = await waitForBatch(stack, batchId, undefined, WAIT_MS);
      assert.equal(ended.status, 'completed');
    },
  );
});
