/**
 * The docs stay true to the tree: the README's layout table names every folder (and no folder that
 * is gone), every relative link in README.md and docs/*.md reaches a file (and a heading, when it
 * names one), every repository path the docs name in code exists, and docs/configuration.md names
 * every environment variable the product reads. A move that forgets the docs fails here.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** The folders the layout table must name, walked from these roots. */
const WALKED = ['src', 'workflows', 'activities', 'test', 'bench', 'docs', 'docker', '.ci'];
/** Never in the repository: installed, built or written by runs (.gitignore). */
const NOT_SOURCE = new Set(['node_modules', 'dist', '.data', '.git', 'test/artifacts']);

/** The folders under `rel` that hold a file somewhere below (git keeps no empty folder, so neither do we). */
function folders(rel: string): string[] {
  const out: string[] = [];
  let files = false;
  for (const entry of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
    const child = `${rel}/${entry.name}`;
    if (!entry.isDirectory()) files = true;
    else if (!NOT_SOURCE.has(entry.name) && !NOT_SOURCE.has(child)) out.push(...folders(child));
  }
  return files || out.length > 0 ? [rel, ...out] : [];
}

/** Markdown outside fenced code blocks, where `#` lines are comments and links are text. */
function prose(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .filter((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return false;
      }
      return !fenced;
    })
    .join('\n');
}

/** The section under a `## title` heading, up to the next heading of that level. */
function section(markdown: string, title: string): string {
  const lines = prose(markdown).split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  assert.ok(start >= 0, `no "## ${title}" section`);
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The first column's paths of the README's layout table, without their trailing slash. */
function layoutPaths(): string[] {
  return section(read('README.md'), 'Layout')
    .split('\n')
    .map((line) => /^\|\s*`([^`]+)`\s*\|/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\/+$/, ''));
}

/** GitHub's anchor for each heading of a page (lower case, punctuation dropped, spaces to hyphens). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const PAGES = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe("README's layout table", () => {
  test('names every folder of the tree', () => {
    const named = new Set(layoutPaths());
    const topLevel = fs
      .readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_SOURCE.has(e.name))
      .map((e) => e.name);
    const all = [...new Set([...WALKED.filter((r) => fs.existsSync(path.join(ROOT, r))).flatMap(folders), ...topLevel])];
    const missing = all.filter((dir) => !named.has(dir)).sort();
    assert.deepEqual(missing, [], 'folders the README layout table does not name');
  });

  test('names no folder that does not exist', () => {
    const gone = layoutPaths().filter((p) => !fs.statSync(path.join(ROOT, p), { throwIfNoEntry: false })?.isDirectory());
    assert.deepEqual(gone, [], 'layout rows naming a folder that is not there');
  });
});

describe('README.md and docs/*.md', () => {
  test('every relative link reaches a file, and a heading when it names one', () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const m of prose(read(page)).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const resolved = file === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
        if (!fs.existsSync(path.join(ROOT, resolved))) {
          broken.push(`${page}: ${target} (no ${resolved})`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor)) {
          broken.push(`${page}: ${target} (no heading #${anchor} in ${resolved})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  test('every repository path they name in code exists', () => {
    // Outputs of runs (git-ignored), and patterns rather than paths, are not checked.
    const generated = /^(test\/artifacts\/|bench\/results-quick\.md|dist\/)/;
    const missing: string[] = [];
    for (const page of PAGES) {
      for (const m of prose(read(page)).matchAll(/`([^`\n]+)`/g)) {
        const text = m[1]!.trim();
        if (!/^(src|workflows|activities|test|bench|docs|docker|\.ci)\/[\w./-]*$/.test(text)) continue;
        if (generated.test(text)) continue;
        if (!fs.existsSync(path.join(ROOT, text))) missing.push(`${page}: ${text}`);
      }
    }
    assert.deepEqual(missing, [], 'paths named in the docs that are not in the tree');
  });

  test('the README holds at most about 250 lines', () => {
    const lines = read('README.md').split('\n').length;
    assert.ok(lines <= 260, `README.md has ${lines} lines`);
  });
});

describe('docs/configuration.md', () => {
  function sources(rel: string): string[] {
    return fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true }).flatMap((e) => {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(child);
      return e.name.endsWith('.ts') ? [child] : [];
    });
  }

  test('names every environment variable the product reads', () => {
    const names = new Set<string>();
    for (const file of ['src', 'workflows', 'activities'].flatMap(sources)) {
      const text = read(file);
      const reads = /\b(?:process\.env|env)\s*(?:\.([A-Z][A-Z0-9_]*)\b|\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\])/g;
      for (const m of text.matchAll(reads)) names.add(m[1] ?? m[2]!);
      // The validated config's schema: one key a variable.
      if (/\bEnvSchema\b/.test(text)) {
        for (const m of text.matchAll(/^\s+([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):/gm)) names.add(m[1]!);
      }
    }
    assert.ok(names.size >= 60, `found only ${names.size} variables: the scan has lost the config`);
    const doc = read('docs/configuration.md');
    const missing = [...names].filter((name) => !new RegExp(`\`${name}\``).test(doc)).sort();
    assert.deepEqual(missing, [], 'variables read but not in docs/configuration.md');
  });
});
