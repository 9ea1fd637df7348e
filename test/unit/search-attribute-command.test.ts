/** The command that /readyz, the start-up log and a submit's 503 give for missing search attributes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registerCommand } from '../../src/temporal/search-attribute-setup';
import { ALL_SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes';

test('one CLI command, --name and --type paired in order, in the CLI spelling of each type', () => {
  assert.equal(
    registerCommand(ALL_SEARCH_ATTRIBUTES, { namespace: 'prod', address: 'temporal:7233' }),
    'temporal operator search-attribute create --address temporal:7233 --namespace prod' +
      ' --name TenantId --type Keyword --name BatchStatus --type Keyword --name ItemCount --type Int --name FailedCount --type Int --name Priority --type Keyword',
  );
});

test("the CLI's default address is left out", () => {
  const missing = ALL_SEARCH_ATTRIBUTES.filter((a) => a.name === 'ItemCount');
  assert.equal(
    registerCommand(missing, { namespace: 'default', address: 'localhost:7233' }),
    'temporal operator search-attribute create --namespace default --name ItemCount --type Int',
  );
  assert.equal(
    registerCommand(missing, { namespace: 'default' }),
    'temporal operator search-attribute create --namespace default --name ItemCount --type Int',
  );
});
