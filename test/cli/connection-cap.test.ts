/**
 * The refusal log of `--max-connections`: one line for the first refusal,
 * then counts at most once per interval, and the rest at flush(); and the
 * option's parsing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import {
  DEFAULT_MAX_CONNECTIONS,
  readMaxConnections,
  RefusalLog,
} from '../../src/cli/connection-cap.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('RefusalLog', () => {
  it('a burst of refusals is one line, then one count per interval', async () => {
    const lines: string[] = [];
    const log = new RefusalLog(8, (line) => lines.push(line), 100);
    for (let i = 0; i < 1000; i++) log.refused();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^connection limit reached \(8 at once\): refusing new connections/);
    await sleep(300);
    assert.deepEqual(lines.slice(1), [
      '999 more connections refused at the limit of 8 (1000 in all)',
    ]);
    await sleep(200);
    assert.equal(lines.length, 2, 'nothing new, nothing written');
    log.refused();
    log.flush();
    assert.deepEqual(lines.slice(2), ['1 more connection refused at the limit of 8 (1001 in all)']);
    log.flush();
    assert.equal(lines.length, 3);
  });

  it('flush() with no refusals writes nothing', () => {
    const lines: string[] = [];
    new RefusalLog(8, (line) => lines.push(line)).flush();
    assert.deepEqual(lines, []);
  });
});

describe('readMaxConnections', () => {
  it('reads a positive whole number, 64 by default', () => {
    assert.equal(DEFAULT_MAX_CONNECTIONS, 64);
    assert.equal(readMaxConnections({}), 64);
    assert.equal(readMaxConnections({ 'max-connections': '1' }), 1);
    assert.equal(readMaxConnections({ 'max-connections': '100000' }), 100000);
  });

  it('refuses anything else with a UsageError naming the option', () => {
    for (const bad of ['0', '-1', '1.5', '1e3', '0x10', '', ' ', 'ten', '99999999999999999999']) {
      assert.throws(
        () => readMaxConnections({ 'max-connections': bad }),
        (error: Error) =>
          error instanceof UsageError &&
          error.message === `--max-connections: "${bad}" is not a positive whole number`,
        bad,
      );
    }
  });
});
